"""A trial's life over REST: start and heartbeat (workers), report, tell; its reports."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import DispatcherDep, ReadSessionDep, SessionDep
from api.services import trials as trial_service
from api.services.publish import trial_public
from caviar.schemas import (
    HeartbeatAnswer,
    HeartbeatRequest,
    ReportAnswer,
    ReportCreate,
    ReportPublic,
    ReportsPublic,
    StartRequest,
    TellCreate,
    TrialPublic,
)

router = APIRouter(prefix="/trials", tags=["trials"])


@router.get("/{trial_id}", response_model=TrialPublic)
def get_trial(trial_id: int, session: ReadSessionDep) -> TrialPublic:
    return trial_public(trial_service.get(session, trial_id))


@router.post("/{trial_id}/start", response_model=TrialPublic)
def start(trial_id: int, body: StartRequest, session: SessionDep) -> TrialPublic:
    """A worker claims its queued trial; the same worker may repeat its claim of the same
    attempt. 409 if this attempt is stale, claimed by another worker, or the trial belongs to
    an external study (whose clients use ask)."""
    answer = trial_public(trial_service.start(session, trial_id, body.attempt, body.worker))
    session.commit()
    return answer


@router.post("/{trial_id}/heartbeat", response_model=HeartbeatAnswer)
def heartbeat(trial_id: int, body: HeartbeatRequest, session: SessionDep) -> HeartbeatAnswer:
    """The attempt is alive and working. 409 when it is fenced off: the worker stops."""
    answer = trial_service.heartbeat(session, trial_id, body)
    session.commit()
    return answer


@router.post("/{trial_id}/reports", response_model=ReportAnswer)
def report(trial_id: int, body: ReportCreate, session: SessionDep) -> ReportAnswer:
    answer = trial_service.report(session, trial_id, body)
    session.commit()
    return answer


@router.get("/{trial_id}/reports", response_model=ReportsPublic)
def list_reports(trial_id: int, session: ReadSessionDep) -> ReportsPublic:
    """The learning curve, one report per step: the latest attempt's, continued below its
    first step by earlier attempts'. Each report names its attempt."""
    data = [
        ReportPublic(
            trial_id=r.trial_id, attempt=r.attempt, step=r.step, value=r.value, metrics=r.metrics
        )
        for r in trial_service.curve(session, trial_id)
    ]
    return ReportsPublic(data=data, count=len(data))


@router.post("/{trial_id}/tell", response_model=TrialPublic)
def tell(
    trial_id: int, body: TellCreate, session: SessionDep, dispatcher: DispatcherDep
) -> TrialPublic:
    trial, queued = trial_service.tell(session, trial_id, body)
    answer = trial_public(trial)
    session.commit()
    dispatcher.dispatch(queued)
    return answer
