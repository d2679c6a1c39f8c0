"""Panda mode over REST: a trial's commands, checkpoints, forks, and its trainer's poll."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import DispatcherDep, ReadSessionDep, SessionDep
from api.services import checkpoints as checkpoint_service
from api.services import commands as command_service
from api.services import forks as fork_service
from api.services.publish import trial_public
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
    ReportPublic,
    ReportsPublic,
    TrialPublic,
)

router = APIRouter(prefix="/trials", tags=["panda"])


@router.post("/{trial_id}/commands", response_model=CommandPublic, status_code=201)
def create_command(
    trial_id: int, body: CommandCreate, session: SessionDep, dispatcher: DispatcherDep
) -> CommandPublic:
    """``set`` live hyperparameters, ``pause``, ``resume`` or ``stop`` a trial. 422 names a
    hyperparameter that can't change live; 409 for a finished trial or a state conflict."""
    command, to_dispatch = command_service.create(session, trial_id, body)
    answer = command_service.public(command)
    session.commit()
    dispatcher.dispatch(to_dispatch)
    return answer


@router.get("/{trial_id}/curve", response_model=ReportsPublic)
def curve(
    trial_id: int,
    session: ReadSessionDep,
    after: Annotated[int, Query(description="only reports past this step")] = -1,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
) -> ReportsPublic:
    """A trial's reports past ``after``, by step: a live page fetches only what is new."""
    rows = command_service.reports_after(session, trial_id, after, limit)
    data = [
        ReportPublic(
            trial_id=r.trial_id, attempt=r.attempt, step=r.step, value=r.value, metrics=r.metrics
        )
        for r in rows
    ]
    return ReportsPublic(data=data, count=len(data))


@router.get("/{trial_id}/commands", response_model=CommandsPublic)
def list_commands(trial_id: int, session: ReadSessionDep) -> CommandsPublic:
    data = [command_service.public(c) for c in command_service.list_for(session, trial_id)]
    return CommandsPublic(data=data, count=len(data))


@router.post("/{trial_id}/poll", response_model=PollAnswer)
def poll(trial_id: int, body: PollRequest, session: SessionDep) -> PollAnswer:
    """A training process between reports: acknowledge ``applied``, learn the trial's state and
    attempt and the pending commands. Cheap enough to call every second."""
    answer = command_service.poll(session, trial_id, body.attempt, body.applied)
    session.commit()
    return answer


@router.post("/{trial_id}/paused", response_model=TrialPublic)
def paused(trial_id: int, body: PauseRequest, session: SessionDep) -> TrialPublic:
    """The trainer paused after ``step`` with its checkpoint stored: the trial frees its worker."""
    trial = command_service.paused(session, trial_id, body.attempt, body.step, body.applied)
    answer = trial_public(trial)
    session.commit()
    return answer


@router.post("/{trial_id}/fork", response_model=TrialPublic, status_code=201)
def fork(
    trial_id: int, body: ForkCreate, session: SessionDep, dispatcher: DispatcherDep
) -> TrialPublic:
    child = fork_service.fork(session, trial_id, body)
    answer = trial_public(child)
    session.commit()
    dispatcher.dispatch([child])
    return answer


async def _read_limited(request: Request, limit: int) -> bytes | JSONResponse:
    declared = request.headers.get("content-length")
    too_large = JSONResponse(
        {"detail": f"the checkpoint is over the limit of {limit} bytes", "field": "body"},
        status_code=413,
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return too_large
        chunks.append(chunk)
    return b"".join(chunks)


_CHECKPOINT_ROUTE: dict[str, Any] = {
    "response_model": CheckpointPublic,
    "status_code": status.HTTP_201_CREATED,
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
    trial_id: int,
    attempt: Annotated[int, Query(ge=1)],
    step: Annotated[int, Query(ge=0)],
) -> Response:
    """Store the trainer's state (the body, an npz) after ``step`` reports. 409 for a stale
    attempt or a trial that does not run; 413 over ``CAVIAR_MAX_CHECKPOINT_BYTES``."""
    settings = request.app.state.settings
    raw = await _read_limited(request, settings.max_checkpoint_bytes)
    if isinstance(raw, JSONResponse):
        return raw
    db = request.app.state.db

    def store() -> CheckpointPublic:
        with db.session() as session:
            c = checkpoint_service.store(
                session, trial_id, attempt, step, raw, settings.checkpoints_kept
            )
            answer = checkpoint_service.public(c, len(raw))
            session.commit()
            return answer

    body = await run_in_threadpool(store)
    return JSONResponse(body.model_dump(mode="json"), status_code=201)


@router.get("/{trial_id}/checkpoints", response_model=CheckpointsPublic)
def list_checkpoints(trial_id: int, session: ReadSessionDep) -> CheckpointsPublic:
    data = [
        checkpoint_service.public(c, checkpoint_service.size_of(session, c.sha256))
        for c in checkpoint_service.list_for(session, trial_id)
    ]
    return CheckpointsPublic(data=data, count=len(data))


@router.get("/{trial_id}/checkpoint", response_class=Response)
def get_checkpoint(
    trial_id: int,
    session: ReadSessionDep,
    step: Annotated[int | None, Query(ge=0)] = None,
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
