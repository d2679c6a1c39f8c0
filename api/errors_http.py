"""Error answers. Every 4xx names the offending field; a 5xx is always a bug."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.errors import Conflict, FieldError, NotFound

_UNION_TAGS = {
    "float",
    "int",
    "categorical",
    "function",
    "train",
    "external",
    "random",
    "grid",
    "coarse_to_fine",
    "none",
    "median",
    "asha",
}


def field_path(loc: Sequence[Any]) -> str:
    """('body', 'space', 'lr', 'float', 'high') → 'space.lr.high'."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    # Drop the tag that pydantic inserts after a discriminated union's key.
    cleaned = [p for i, p in enumerate(parts) if not (i > 0 and p in _UNION_TAGS)]
    return ".".join(cleaned) or "body"


def _error(loc: Sequence[Any], msg: str, type_: str) -> dict[str, Any]:
    return {"loc": list(loc), "field": field_path(loc), "msg": msg, "type": type_}


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            _error(
                e.get("loc", ()), str(e.get("msg", "invalid")), str(e.get("type", "value_error"))
            )
            for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(FieldError)
    async def _field(_: Request, exc: FieldError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": [_error(("body", *exc.loc), str(exc), "value_error")]},
        )

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc), "field": exc.field})
