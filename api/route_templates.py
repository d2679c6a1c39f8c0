"""Which route template a request path falls under, from the app's own OpenAPI document.

The access rules and the request metrics key on templates (``/api/trials/{trial_id}``), never
on raw paths. Routes left out of the schema (the dashboard's files, /docs) have no template.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI
from starlette.types import Scope

log = logging.getLogger("caviar.api")
_SCOPE_KEY = "caviar.route_template"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


class RouteTemplates:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._table: list[tuple[re.Pattern[str], str, frozenset[str]]] | None = None

    def _build(self) -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
        table = []
        for template, ops in self.app.openapi()["paths"].items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            methods = {m.upper() for m in ops if m in METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            table.append((re.compile(f"^{pattern}$"), template, frozenset(methods)))
        return table

    def of(self, scope: Scope) -> str | None:
        """``find`` for an HTTP request, looked up once and kept in its ASGI scope (the access
        rules and the request metrics both ask)."""
        if _SCOPE_KEY not in scope:
            scope[_SCOPE_KEY] = self.find(scope["method"], scope["path"])
        return scope[_SCOPE_KEY]

    def find(self, method: str, path: str) -> str | None:
        """The template of the route that answers ``method path``; the template of any method
        when none takes ``method`` (a 405); None when no documented route matches (or the
        schema cannot be built: then callers fall back to the raw path)."""
        if self._table is None:
            try:
                self._table = self._build()
            except Exception:
                log.exception("the OpenAPI schema cannot be built; routes go by raw paths")
                self._table = []
        fallback = None
        for pattern, template, methods in self._table:
            if pattern.match(path):
                if method in methods:
                    return template
                fallback = fallback or template
        return fallback
