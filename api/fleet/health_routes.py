"""``/api/health``: 200 when the database answers, 503 with the reason when it does not."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth.access import PUBLIC
from api.fleet.health import database_problem

router = APIRouter(tags=["health"], dependencies=[PUBLIC])


class Health(BaseModel):
    status: str
    database: str
    detail: str | None = None


@router.get(
    "/health",
    summary="Is the api up, and does its database answer",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database does not answer"}},
)
def health(request: Request) -> Health | JSONResponse:
    """``{status: ok, database}``; 503 with the problem when the database does not answer."""
    db = request.app.state.db
    problem = database_problem(db)
    if problem is None:
        return Health(status="ok", database=db.dialect)
    body = Health(status="unavailable", database=db.dialect, detail=problem)
    return JSONResponse(body.model_dump(), status_code=503)
