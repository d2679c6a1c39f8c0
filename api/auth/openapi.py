"""The answers that the access rules add to every operation of the OpenAPI document.

- 421 (a foreign ``Host`` on a loopback api) on every operation;
- "no token" (``{}``) beside the bearer token among the security requirements of a guarded
  operation: a loopback api that never had a token answers this machine without one;
- 401 and 403 on every operation that a route's ``Security`` dependency guards
  (``api.auth.access``); 403 also on every write, for a cross-site request;
- 413 on every operation that takes a body (``CAVIAR_MAX_BODY_BYTES``, or the route's own limit).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.auth.access import roles_of
from api.auth.cross_site import SAFE_METHODS
from api.route_templates import api_routes

DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
ERROR_BODY = {"content": {"application/json": {"schema": DETAIL}}}
TOO_LARGE = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "field": {"type": "string", "enum": ["body"]}},
    "required": ["detail", "field"],
}
UNAUTHORIZED = {"description": "No token, or an unknown or revoked one", **ERROR_BODY}
MISDIRECTED = {
    "description": "A loopback api was reached under a Host name that is not its own",
    **ERROR_BODY,
}


def _forbidden(guarded: bool, write: bool) -> str:
    why = ["the token's role may not do this"] if guarded else []
    if write:
        why.append("a cross-site request (another Origin, or Sec-Fetch-Site: cross-site)")
    return "; or ".join(why).capitalize()


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
                needs_token = (method.upper(), template) in guarded
                write = method.upper() not in SAFE_METHODS
                if needs_token:
                    answers.setdefault("401", UNAUTHORIZED)
                    # A loopback api that never had a token answers this machine without one.
                    security = op.setdefault("security", [])
                    if {} not in security:
                        security.append({})
                if needs_token or write:
                    answers["403"] = {"description": _forbidden(needs_token, write), **ERROR_BODY}
                if "requestBody" in op:
                    answers.setdefault(
                        "413",
                        {
                            "description": "The body is over its size limit",
                            "content": {"application/json": {"schema": TOO_LARGE}},
                        },
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
