"""List 401 and 403 in the OpenAPI document for every operation that needs a token, and 421
(a foreign ``Host`` on a loopback api) for every operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.auth.rules import roles_for

ERROR_BODY = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {"type": "string"}}}
        }
    }
}
ANSWERS = {
    "401": {"description": "No token, or an unknown or revoked one", **ERROR_BODY},
    "403": {"description": "The token's role may not do this", **ERROR_BODY},
}
MISDIRECTED = {
    "description": "A loopback api was reached under a Host name that is not its own",
    **ERROR_BODY,
}


def document_auth(app: FastAPI) -> None:
    """Add the answers when the schema is built (after every router is included)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for template, operations in schema.get("paths", {}).items():
            for method, op in operations.items():
                if not isinstance(op, dict):
                    continue
                answers = op.setdefault("responses", {})
                answers.setdefault("421", MISDIRECTED)
                if roles_for(method.upper(), template) is not None:
                    for status, answer in ANSWERS.items():
                        answers.setdefault(status, answer)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
