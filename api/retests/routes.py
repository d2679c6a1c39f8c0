"""Re-test rounds of a study: list them, start one now."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from api.auth.access import ADMINS, READERS
from api.deps import DispatcherDep, ReadSessionDep, SessionDep
from api.openapi import responses
from api.params import Offset, StudyId
from api.retests import rounds as retest_rounds
from api.studies import service as study_service
from caviar.retest_schemas import RoundPublic, RoundsPublic

router = APIRouter(prefix="/studies", tags=["retests"])


@router.get(
    "/{study_id}/retests",
    dependencies=[READERS],
    summary="List a study's re-test rounds",
    response_model=RoundsPublic,
    responses=responses(404, 422),
)
def list_retests(
    study_id: StudyId,
    session: ReadSessionDep,
    offset: Offset = 0,
    limit: int = Query(default=100, ge=1, le=1000),
) -> RoundsPublic:
    """The study's rounds, newest first."""
    study_service.get(session, study_id)
    rows, count = retest_rounds.list_rounds(session, study_id, offset, limit)
    return RoundsPublic(data=[retest_rounds.public(r) for r in rows], count=count)


@router.post(
    "/{study_id}/retests",
    dependencies=[ADMINS],
    summary="Start a re-test round now",
    status_code=status.HTTP_201_CREATED,
    response_model=RoundPublic,
    responses=responses(404, 409, 422),
)
def start_retest(study_id: StudyId, session: SessionDep, dispatcher: DispatcherDep) -> RoundPublic:
    """Start a round now (the study's schedule settings, or the defaults without one); 409 while
    the previous round runs or with no completed trial to re-test."""
    study_service.get(session, study_id)
    rnd, trials = retest_rounds.start(session, study_id, "manual")
    session.flush()
    session.refresh(rnd)
    answer = retest_rounds.public(rnd)
    session.commit()
    dispatcher.dispatch(trials)
    return answer
