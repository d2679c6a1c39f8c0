"""Panda mode over REST: a trial's commands, checkpoints, forks, and its trainer's poll."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth.access import ADMINS, WORKER_READERS, WORKERS
from api.body import OWN_LIMIT, read_limited
from api.deps import DispatcherDep, ReadSessionDep, SessionDep
from api.openapi import responses
from api.panda import checkpoints as checkpoint_service
from api.panda import commands as command_service
from api.panda import forks as fork_service
from api.params import ClaimHeader, TrialId
from api.publish import command_public, report_public, trial_public
from api.trials import delivery
from api.trials import service as trial_service
from caviar.bounds import DB_INT_MAX
from caviar.schemas import (
    CheckpointPublic,
    CheckpointsPublic,
    CommandCreate,
    CommandPublic,
    CommandsPublic,
    ForkCreate,
    PauseRequest,
    PollAnswer,
    PollRequest,
    ReportsPublic,
    TrialPublic,
)

router = APIRouter(prefix="/trials", tags=["panda"])


@router.post(
    "/{trial_id}/commands",
    dependencies=[ADMINS],
    summary="Command a trial: set, pause, resume or stop",
    response_model=CommandPublic,
    status_code=201,
    responses=responses(
        400, 404, 409, 422, cross_field="set names live hyperparameters with valid values"
    ),
)
def create_command(
    trial_id: TrialId, body: CommandCreate, session: SessionDep, dispatcher: DispatcherDep
) -> CommandPublic:
    """``set`` live hyperparameters, ``pause``, ``resume`` or ``stop`` a trial. 422 names a
    hyperparameter that can't change live; 409 for a finished trial or a state conflict."""
    command, to_dispatch = command_service.create(session, trial_id, body)
    answer = command_public(command)
    session.commit()
    dispatcher.dispatch(to_dispatch)
    return answer


@router.get(
    "/{trial_id}/curve",
    dependencies=[WORKER_READERS],
    summary="A trial's learning curve past a step",
    response_model=ReportsPublic,
    responses=responses(404, 422),
)
def curve(
    trial_id: TrialId,
    session: ReadSessionDep,
    after: Annotated[
        int, Query(ge=-1, le=DB_INT_MAX, description="only reports past this step")
    ] = -1,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
) -> ReportsPublic:
    """A trial's reports past ``after``, by step: a live page fetches only what is new."""
    data = [report_public(r) for r in trial_service.curve(session, trial_id, after)[:limit]]
    return ReportsPublic(data=data, count=len(data))


@router.get(
    "/{trial_id}/commands",
    dependencies=[WORKER_READERS],
    summary="A trial's commands",
    response_model=CommandsPublic,
    responses=responses(404, 422),
)
def list_commands(trial_id: TrialId, session: ReadSessionDep) -> CommandsPublic:
    """Every command given to the trial, oldest first, with what became of it."""
    data = [command_public(c) for c in command_service.list_for(session, trial_id)]
    return CommandsPublic(data=data, count=len(data))


@router.post(
    "/{trial_id}/poll",
    dependencies=[WORKERS],
    summary="Poll for commands between reports (workers)",
    response_model=PollAnswer,
    responses=responses(400, 404, 409, 422),
)
def poll(
    trial_id: TrialId, body: PollRequest, session: SessionDep, claim: ClaimHeader = None
) -> PollAnswer:
    """A training process between reports: acknowledge ``applied``, learn the trial's state and
    attempt and the pending commands. Cheap enough to call every second. A stale attempt learns
    where the trial is and changes nothing; the current attempt without its claim gets 409."""
    answer = delivery.poll(session, trial_id, body.attempt, claim, body.applied)
    session.commit()
    return answer


@router.post(
    "/{trial_id}/paused",
    dependencies=[WORKERS],
    summary="Say that a trial paused (workers)",
    response_model=TrialPublic,
    responses=responses(400, 404, 409, 422),
)
def paused(
    trial_id: TrialId, body: PauseRequest, session: SessionDep, claim: ClaimHeader = None
) -> TrialPublic:
    """The trainer paused after ``step`` with its checkpoint stored: the trial frees its worker.
    409 for a stale attempt, a missing or wrong claim, or a trial that does not run."""
    trial = delivery.paused(session, trial_id, body.attempt, claim, body.step, body.applied)
    answer = trial_public(trial)
    session.commit()
    return answer


@router.post(
    "/{trial_id}/fork",
    dependencies=[ADMINS],
    summary="Fork a trial from its checkpoint",
    response_model=TrialPublic,
    status_code=201,
    responses=responses(
        400, 404, 409, 422, cross_field="params names live hyperparameters with valid values"
    ),
)
def fork(
    trial_id: TrialId, body: ForkCreate, session: SessionDep, dispatcher: DispatcherDep
) -> TrialPublic:
    """A new queued trial of the same study from this trial's checkpoint at or before ``step``,
    with edited live hyperparameters; 404 when there is no such checkpoint."""
    child = fork_service.fork(session, trial_id, body)
    answer = trial_public(child)
    session.commit()
    dispatcher.dispatch([child])
    return answer


_CHECKPOINT_ROUTE: dict[str, Any] = {
    "summary": "Store a trial's checkpoint (workers)",
    "response_model": CheckpointPublic,
    "responses": responses(404, 409, 413, 422),
    "status_code": status.HTTP_201_CREATED,
    "dependencies": [WORKERS],
    "max_body_size": OWN_LIMIT,  # read_limited: CAVIAR_MAX_CHECKPOINT_BYTES
    "openapi_extra": {
        "requestBody": {
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            "required": True,
        }
    },
}


@router.put("/{trial_id}/checkpoints", operation_id="put_checkpoint", **_CHECKPOINT_ROUTE)
@router.post("/{trial_id}/checkpoints", operation_id="post_checkpoint", **_CHECKPOINT_ROUTE)
async def put_checkpoint(
    request: Request,
    trial_id: TrialId,
    attempt: Annotated[int, Query(ge=1, le=DB_INT_MAX)],
    step: Annotated[int, Query(ge=0, le=DB_INT_MAX)],
    claim: ClaimHeader = None,
) -> Response:
    """Store the trainer's state (the body, an npz) after ``step`` reports. 409 for a stale
    attempt, a missing or wrong claim, or a trial that does not run; 413 over
    ``CAVIAR_MAX_CHECKPOINT_BYTES``."""
    settings = request.app.state.settings
    raw = await read_limited(request, settings.max_checkpoint_bytes, "the checkpoint")
    db = request.app.state.db

    def store() -> CheckpointPublic:
        with db.session() as session:
            c = checkpoint_service.store(
                session, trial_id, attempt, claim, step, raw, settings.checkpoints_kept
            )
            answer = checkpoint_service.public(c, len(raw))
            session.commit()
            return answer

    body = await run_in_threadpool(store)
    return JSONResponse(body.model_dump(mode="json"), status_code=201)


@router.get(
    "/{trial_id}/checkpoints",
    dependencies=[WORKER_READERS],
    summary="A trial's stored checkpoints",
    response_model=CheckpointsPublic,
    responses=responses(404, 422),
)
def list_checkpoints(trial_id: TrialId, session: ReadSessionDep) -> CheckpointsPublic:
    """The checkpoints the trial keeps, by step (the bytes: ``GET .../checkpoint``)."""
    data = [
        checkpoint_service.public(c, checkpoint_service.size_of(session, c.sha256))
        for c in checkpoint_service.list_for(session, trial_id)
    ]
    return CheckpointsPublic(data=data, count=len(data))


@router.get(
    "/{trial_id}/checkpoint",
    dependencies=[WORKER_READERS],
    summary="A trial's checkpoint, as bytes",
    response_class=Response,
    responses=responses(404, 422, extra={200: {"content": {"application/octet-stream": {}}}}),
)
def get_checkpoint(
    trial_id: TrialId,
    session: ReadSessionDep,
    step: Annotated[int | None, Query(ge=0, le=DB_INT_MAX)] = None,
) -> Response:
    """The latest checkpoint's bytes, or the latest at or before ``step``; 404 if none."""
    c = checkpoint_service.latest(session, trial_id, step)
    return Response(
        checkpoint_service.content(session, c.sha256),
        media_type="application/octet-stream",
        headers={
            "ETag": f'"{c.sha256}"',
            "X-Caviar-Step": str(c.step),
            "X-Caviar-Attempt": str(c.attempt),
            "Content-Encoding": "identity",  # already dense: not worth gzip's time
        },
    )
