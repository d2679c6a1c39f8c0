"""What the web dashboard reads beyond the REST contract: plot data with cursors, the trials
table (server-side sort, filter and paging, CSV export) and the form's options."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from api.auth.access import READERS
from api.dashboard import export, form, grid, plots, table
from api.deps import ReadSessionDep
from api.openapi import responses
from api.params import Offset, StudyId
from api.studies import service as study_service
from caviar.bounds import DB_INT_MAX, NO_NUL
from caviar.dashboard_schemas import (
    DashboardOptions,
    DashboardSnapshot,
    DashboardUpdates,
    DistinctValues,
)
from caviar.schemas import TrialsPublic
from caviar.states import TrialState

router = APIRouter(prefix="/api", tags=["dashboard"], dependencies=[READERS])

StatesQuery = Annotated[
    list[TrialState], Query(default_factory=list, alias="state", max_length=100)
]
StagesQuery = Annotated[
    list[Annotated[int, Field(ge=0, le=DB_INT_MAX)]],
    Query(default_factory=list, alias="stage", max_length=1000),
]
WATCH_NUMBER = r"[0-9]{1,9}"
WATCH_PART = rf"(?:{WATCH_NUMBER}(?:-{WATCH_NUMBER})?)?"
WATCH_PATTERN = rf"^{WATCH_PART}(?:,{WATCH_PART})*$"
SortQuery = Annotated[
    str,
    Query(
        description="number, value, state, stage or params.<name>",
        max_length=80,
        pattern=NO_NUL,
    ),
]


def _packed(request: Request, model: BaseModel) -> Response:
    """Live plot data as JSON, never cached (the app's GZip middleware compresses it)."""
    return Response(
        model.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _watch(raw: str) -> list[int]:
    """'3,5-9,12' → [3, 5, 6, 7, 8, 9, 12]; at most ``plots.MAX_WATCH`` numbers are read.
    ``raw`` matches ``WATCH_PATTERN`` (the route's query checks it: anything else is a 422
    naming ``watch``)."""
    out: list[int] = []
    for part in filter(None, raw.split(",")):
        lo, _, hi = part.partition("-")
        a = int(lo)
        b = int(hi) if hi else a
        out.extend(range(a, min(b, a + plots.MAX_WATCH) + 1))
        if len(out) >= plots.MAX_WATCH:
            break
    return out


@router.get(
    "/studies/{study_id}/dashboard",
    summary="Plot data of a study",
    response_model=DashboardSnapshot,
    responses=responses(404, 422),
)
def snapshot(
    study_id: StudyId,
    request: Request,
    session: ReadSessionDep,
    max_points: int = Query(default=plots.MAX_POINTS, ge=100, le=100_000),
    max_curves: int = Query(default=200, ge=0, le=5000),
) -> Response:
    """Plot data: every trial for small studies, a sample (the best plus an even spread) for
    large ones; the exact best-so-far line; learning curves of a chosen set of trials."""
    study = study_service.get(session, study_id)
    data = plots.snapshot(session, study, max_points=max_points, max_curves=max_curves)
    return _packed(request, data)


@router.get(
    "/studies/{study_id}/dashboard/updates",
    summary="What changed since a snapshot",
    response_model=DashboardUpdates,
    responses=responses(404, 422),
)
def updates(
    study_id: StudyId,
    request: Request,
    session: ReadSessionDep,
    after: int = Query(
        ge=-1, le=DB_INT_MAX, description="the cursor of the snapshot or of the last update"
    ),
    watch: str = Query(
        default="",
        pattern=WATCH_PATTERN,
        max_length=20_000,
        description="numbers of the trials still in flight at the last poll: '3,5-9,12'",
    ),
    limit: int = Query(default=2000, ge=1, le=10_000),
) -> Response:
    """New trials (number > ``after``) and the watched trials that finished since."""
    study = study_service.get(session, study_id)
    data = plots.updates(session, study, after, _watch(watch), limit=limit)
    return _packed(request, data)


@router.get(
    "/studies/{study_id}/dashboard/trials",
    summary="A page of the trials table",
    response_model=TrialsPublic,
    responses=responses(404, 422, cross_field="sort names a column or a hyperparameter"),
)
def trials_table(
    study_id: StudyId,
    request: Request,
    session: ReadSessionDep,
    states: StatesQuery,
    stages: StagesQuery,
    sort: SortQuery = "number",
    desc: bool = False,
    offset: Offset = 0,
    limit: int = Query(default=50, ge=1, le=1000),
) -> Response:
    """One page of trials, filtered by state and stage, sorted on the server."""
    study = study_service.get(session, study_id)
    page = table.table(
        session,
        study,
        sort=sort,
        desc=desc,
        states=list(states),
        stages=stages,
        offset=offset,
        limit=limit,
    )
    return _packed(request, page)


@router.get(
    "/studies/{study_id}/dashboard/trials.csv",
    summary="The trials table as CSV",
    response_class=StreamingResponse,
    responses=responses(
        404,
        422,
        cross_field="sort names a column or a hyperparameter",
        extra={
            200: {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
        },
    ),
)
def trials_csv(
    study_id: StudyId,
    request: Request,
    session: ReadSessionDep,
    states: StatesQuery,
    stages: StagesQuery,
    sort: SortQuery = "number",
    desc: bool = False,
) -> StreamingResponse:
    """The filtered trials as CSV, streamed from a read session of its own."""
    study = study_service.get(session, study_id)
    table.check_sort(study, sort)
    db = request.app.state.db

    def lines() -> Iterator[str]:
        with db.read_session() as s:
            fresh = study_service.get(s, study_id)
            yield from export.csv_lines(
                s, fresh, sort=sort, desc=desc, states=list(states), stages=stages
            )

    return StreamingResponse(
        lines(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="study-{study_id}-trials.csv"'},
    )


@router.get(
    "/studies/{study_id}/dashboard/distinct",
    summary="Distinct values: grid vs random",
    response_model=DistinctValues,
    responses=responses(404, 422),
)
def distinct(study_id: StudyId, session: ReadSessionDep) -> DistinctValues:
    """Grid vs random: distinct values per hyperparameter for the study's trial budget."""
    study = study_service.get(session, study_id)
    return grid.distinct_values(study)


@router.get(
    "/dashboard/options", summary="The new-study form's options", response_model=DashboardOptions
)
def options() -> DashboardOptions:
    """Objectives, datasets, metrics, trainer hyperparameters, and the JSON schema of every
    strategy and pruner."""
    return _options()


@cache
def _options() -> DashboardOptions:
    return form.options()
