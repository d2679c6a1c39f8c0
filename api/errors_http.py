"""Error answers. Every 4xx names the offending field; a 5xx is always a bug."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import Conflict, FieldError, FieldErrors, NotFound, TooLarge
from api.route_templates import api_routes
from api.studies import checks as study_checks
from api.studies import stored_checks

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
    # Drop the tag that pydantic inserts after a discriminated union's key, and the member
    # it names in a plain union (``name: Name | None`` → 'name.constrained-str').
    cleaned = [
        p
        for i, p in enumerate(parts)
        if not (i > 0 and (p in _UNION_TAGS or p.startswith(("constrained-", "function-"))))
    ]
    return ".".join(cleaned) or "body"


# Pydantic prefixes the message of a validator's ValueError; the field already says where.
_PREFIXES = ("Value error, ", "Assertion failed, ")

# Checks beyond the schema, run on the raw body of a request that failed the schema, so that
# one 422 names every problem: (method, path) → (read session, raw body) → [(loc, message)].
BodyCheck = Callable[[Session, Any], list[tuple[tuple[str | int, ...], str]]]


def _new_study(session: Session, body: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """A new study's rules, and what it names that the database lacks (dataset, warm start)."""
    return study_checks.raw_problems(body) + stored_checks.raw_problems(session, body)


BODY_CHECKS: dict[tuple[str, str], BodyCheck] = {("POST", "/api/studies"): _new_study}


def _error(loc: Sequence[Any], msg: str, type_: str) -> dict[str, Any]:
    for prefix in _PREFIXES:
        msg = msg.removeprefix(prefix)
    return {"loc": list(loc), "field": field_path(loc), "msg": msg, "type": type_}


def _run_check(request: Request, check: BodyCheck, body: Any) -> list[Any]:
    with request.app.state.db.read_session() as session:
        return check(session, body)


async def _beyond_schema(request: Request, body: Any, known: set[str]) -> list[dict[str, Any]]:
    check = BODY_CHECKS.get((request.method, request.url.path.rstrip("/")))
    if check is None:
        return []
    found = await run_in_threadpool(_run_check, request, check, body)
    more = [_error(("body", *loc), msg, "value_error") for loc, msg in found]
    return [e for e in more if e["field"] not in known]


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            _error(
                e.get("loc", ()), str(e.get("msg", "invalid")), str(e.get("type", "value_error"))
            )
            for e in exc.errors()
        ]
        errors += await _beyond_schema(request, exc.body, {e["field"] for e in errors})
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(FieldError)
    async def _field(_: Request, exc: FieldError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": [_error((exc.where, *exc.loc), str(exc), "value_error")]},
        )

    @app.exception_handler(FieldErrors)
    async def _fields(_: Request, exc: FieldErrors) -> JSONResponse:
        errors = [_error(("body", *loc), msg, "value_error") for loc, msg in exc.problems]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(TooLarge)
    async def _too_large(_: Request, exc: TooLarge) -> JSONResponse:
        return JSONResponse(
            status_code=413,
            content={"detail": str(exc), "field": "body"},
            headers={"Connection": "close"},  # as below: stop reading the rest
        )

    @app.exception_handler(413)
    async def _body_too_large(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Connection: close, so that the server stops reading the rest of a large body (it
        # would otherwise read and drop every byte to keep the connection).
        return JSONResponse(
            status_code=413,
            content={"detail": exc.detail, "field": "body"},
            headers={"Connection": "close"},
        )

    @app.exception_handler(404)
    @app.exception_handler(405)
    async def _no_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """A path that an API route serves with other methods answers 405 with every method of
        every route on it (the dashboard's files, mounted at /, would otherwise answer 404, or
        405 with their own ``GET, HEAD``)."""
        path = request.url.path
        allowed: set[str] = set()
        for _, context in api_routes(app):
            if context.path_regex.match(path):
                allowed |= set(context.methods or ())
        if allowed and request.method not in allowed:
            headers = {"Allow": ", ".join(sorted(allowed))}
            return JSONResponse({"detail": "Method Not Allowed"}, 405, headers=headers)
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc), "field": exc.field})
