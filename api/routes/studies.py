"""Studies: create, list, show, rename, delete, cancel; their trials and regions."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import func, select

from api.db.models import Study, Trial
from api.deps import DispatcherDep, ReadSessionDep, SessionDep
from api.services import regions as region_service
from api.services import retest_schedule, study_edits
from api.services import studies as study_service
from api.services import trials as trial_service
from api.services.publish import trial_public
from api.services.recommendation import recommendation
from api.services.scheduling import lock
from caviar.retest_schemas import StudyUpdate
from caviar.schemas import (
    AskRequest,
    RegionPublic,
    StudiesPublic,
    StudyCreate,
    StudyPublic,
    TrialsPublic,
)

router = APIRouter(prefix="/studies", tags=["studies"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StudyPublic)
def create_study(body: StudyCreate, session: SessionDep, dispatcher: DispatcherDep) -> StudyPublic:
    study, queued = study_service.create(session, body)
    answer = study_service.public(session, study)  # before commit: no write lock after it
    session.commit()
    dispatcher.dispatch(queued)
    return answer


@router.get("", response_model=StudiesPublic)
def list_studies(
    session: ReadSessionDep,
    offset: int = Query(default=0, ge=0),
    limit: int = Query(default=100, ge=1, le=1000),
) -> StudiesPublic:
    count = session.scalar(select(func.count()).select_from(Study)) or 0
    rows = session.scalars(select(Study).order_by(Study.id.desc()).offset(offset).limit(limit))
    return StudiesPublic(data=[study_service.public(session, s) for s in rows], count=count)


@router.get("/{study_id}", response_model=StudyPublic)
def get_study(study_id: int, session: ReadSessionDep) -> StudyPublic:
    study = study_service.get(session, study_id)
    answer = study_service.public(session, study)
    answer.recommended = recommendation(session, study)
    return answer


@router.patch("/{study_id}", response_model=StudyPublic)
def update_study(study_id: int, body: StudyUpdate, session: SessionDep) -> StudyPublic:
    """Change a study's name or re-test schedule (``retest: null`` removes it), on any study."""
    study = retest_schedule.update(session, study_id, body)
    answer = study_service.public(session, study)
    session.commit()
    return answer


@router.post("/{study_id}/cancel", response_model=StudyPublic)
def cancel_study(study_id: int, session: SessionDep) -> StudyPublic:
    study = lock(session, study_id)  # a concurrent tell waits, then sees the cancel
    study_service.cancel(session, study)
    answer = study_service.public(session, study)
    session.commit()
    return answer


@router.get("/{study_id}/trials", response_model=TrialsPublic)
def list_trials(
    study_id: int,
    session: ReadSessionDep,
    after: int = Query(default=-1, ge=-1, description="only trials whose number is greater"),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> TrialsPublic:
    study_service.get(session, study_id)
    count = session.scalar(select(func.count()).where(Trial.study_id == study_id)) or 0
    rows = session.scalars(
        select(Trial)
        .where(Trial.study_id == study_id, Trial.number > after)
        .order_by(Trial.number)
        .limit(limit)
    )
    return TrialsPublic(data=[trial_public(t) for t in rows], count=count)


@router.post("/{study_id}/ask", response_model=TrialsPublic)
def ask(
    study_id: int, body: AskRequest, session: SessionDep, reader: ReadSessionDep
) -> TrialsPublic:
    # The suggestions are computed first, without the study's write lock; the write only
    # checks that they still hold, allocates the numbers and stores the trials.
    ahead = trial_service.plan_ask(reader, study_id, body.count)
    reader.rollback()
    trials = trial_service.ask(session, study_id, body.count, ahead)
    answer = TrialsPublic(data=[trial_public(t) for t in trials], count=len(trials))
    session.commit()
    return answer


@router.get("/{study_id}/regions", response_model=list[RegionPublic])
def list_regions(study_id: int, session: ReadSessionDep) -> list[RegionPublic]:
    study_service.get(session, study_id)
    return region_service.list_public(session, study_id)


@router.delete("/{study_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_study(study_id: int, session: SessionDep) -> Response:
    """Delete a finished or cancelled study with its trials; 409 while it runs."""
    study_edits.delete(session, study_service.get(session, study_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
