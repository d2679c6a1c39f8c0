"""A trial's life over REST: start (workers), report, tell; its reports."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.db.models import TrialReport
from api.deps import DispatcherDep, ReadSessionDep, SessionDep
from api.services import trials as trial_service
from api.services.publish import trial_public
from caviar.schemas import (
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
    """A worker claims its queued trial; 409 if this attempt is stale or already claimed."""
    answer = trial_public(trial_service.start(session, trial_id, body.attempt))
    session.commit()
    return answer


@router.post("/{trial_id}/reports", response_model=ReportAnswer)
def report(trial_id: int, body: ReportCreate, session: SessionDep) -> ReportAnswer:
    answer = trial_service.report(session, trial_id, body)
    session.commit()
    return answer


@router.get("/{trial_id}/reports", response_model=ReportsPublic)
def list_reports(trial_id: int, session: ReadSessionDep) -> ReportsPublic:
    trial_service.get(session, trial_id)
    rows = list(
        session.scalars(
            select(TrialReport).where(TrialReport.trial_id == trial_id).order_by(TrialReport.step)
        )
    )
    data = [
        ReportPublic(trial_id=r.trial_id, step=r.step, value=r.value, metrics=r.metrics)
        for r in rows
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
