"""The answers that the access rules add to every operation of the OpenAPI document.

- 421 (a foreign ``Host`` on a loopback api) on every operation;
- 401 and 403 on every operation that a route's ``Security`` dependency guards
  (``api.auth.access``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.auth.access import roles_of
from api.route_templates import api_routes

DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
ERROR_BODY = {"content": {"application/json": {"schema": DETAIL}}}
UNAUTHORIZED = {"description": "No token, or an unknown or revoked one", **ERROR_BODY}
MISDIRECTED = {
    "description": "A loopback api was reached under a Host name that is not its own",
    **ERROR_BODY,
}


FORBIDDEN = {"description": "The token's role may not do this", **ERROR_BODY}


def document_auth(app: FastAPI) -> None:
    """Add the answers when the schema is built (after every router is included)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        guarded = {
            (method, context.path_format)
            for route, context in api_routes(app)
            if roles_of(route) is not None
            for method in context.methods or ()
        }
        for template, operations in schema.get("paths", {}).items():
            for method, op in operations.items():
                if not isinstance(op, dict):
                    continue
                answers = op.setdefault("responses", {})
                answers.setdefault("421", MISDIRECTED)
                if (method.upper(), template) in guarded:
                    answers.setdefault("401", UNAUTHORIZED)
                    answers.setdefault("403", FORBIDDEN)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
