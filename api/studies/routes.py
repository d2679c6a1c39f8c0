"""Studies: create, list, show, rename, delete, cancel; their trials and regions."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import func, select

from api.auth.access import ADMINS, READERS, WORKERS
from api.db.models import Study, Trial
from api.deps import DispatcherDep, ReadSessionDep, SessionDep
from api.openapi import responses
from api.params import Offset, StudyId
from api.publish import trial_public
from api.studies import asking, retest_schedule
from api.studies import edits as study_edits
from api.studies import regions as region_service
from api.studies import service as study_service
from api.studies.recommendation import recommendation
from api.trials.study import lock
from caviar.bounds import DB_INT_MAX
from caviar.retest_schemas import StudyUpdate
from caviar.schemas import (
    AskAnswer,
    AskRequest,
    RegionPublic,
    StudiesPublic,
    StudyCreate,
    StudyPublic,
    TrialsPublic,
)

router = APIRouter(prefix="/studies", tags=["studies"])


RETEST_RULES = (
    "retest.every is 1 s to 366 d; retest.on_new_data needs a train study on an uploaded "
    "dataset; retest.top_k is at most the study's max_trials (completed trials, on PATCH)"
)

STUDY_RULES = (
    "high > low; a function objective accepts the space; a train objective's space and fixed "
    "values are trainer hyperparameters within their ranges, its dataset exists, and its "
    "metric matches the direction; warm_start.study_id exists; " + RETEST_RULES
)


@router.post(
    "",
    dependencies=[ADMINS],
    summary="Create a study",
    status_code=status.HTTP_201_CREATED,
    response_model=StudyPublic,
    responses=responses(400, 422, cross_field=STUDY_RULES),
)
def create_study(body: StudyCreate, session: SessionDep, dispatcher: DispatcherDep) -> StudyPublic:
    """Store the study, its stage-0 region and its first trials (up to ``parallelism``), and
    send those to the workers (objectives ``function`` and ``train``)."""
    study, queued = study_service.create(session, body)
    answer = study_service.public(session, study)  # before commit: no write lock after it
    session.commit()
    dispatcher.dispatch(queued)
    return answer


@router.get(
    "",
    dependencies=[READERS],
    summary="List studies",
    response_model=StudiesPublic,
    responses=responses(422),
)
def list_studies(
    session: ReadSessionDep,
    offset: Offset = 0,
    limit: int = Query(default=100, ge=1, le=1000),
) -> StudiesPublic:
    """Newest first, one page; ``count`` is the number of studies."""
    count = session.scalar(select(func.count()).select_from(Study)) or 0
    rows = session.scalars(select(Study).order_by(Study.id.desc()).offset(offset).limit(limit))
    return StudiesPublic(data=[study_service.public(session, s) for s in rows], count=count)


@router.get(
    "/{study_id}",
    dependencies=[READERS],
    summary="Show a study",
    response_model=StudyPublic,
    responses=responses(404, 422),
)
def get_study(study_id: StudyId, session: ReadSessionDep) -> StudyPublic:
    """Its config, status, counts per trial state, best trial, current region and the
    recommended configuration."""
    study = study_service.get(session, study_id)
    answer = study_service.public(session, study)
    answer.recommended = recommendation(session, study)
    return answer


@router.patch(
    "/{study_id}",
    dependencies=[ADMINS],
    summary="Rename a study or change its re-test schedule",
    response_model=StudyPublic,
    responses=responses(400, 404, 422, cross_field=f"name cannot be null; {RETEST_RULES}"),
)
def update_study(study_id: StudyId, body: StudyUpdate, session: SessionDep) -> StudyPublic:
    """Change a study's name or re-test schedule (``retest: null`` removes it), on any study."""
    study = retest_schedule.update(session, study_id, body)
    answer = study_service.public(session, study)
    session.commit()
    return answer


@router.post(
    "/{study_id}/cancel",
    dependencies=[ADMINS],
    summary="Cancel a study",
    response_model=StudyPublic,
    responses=responses(404, 409, 422),
)
def cancel_study(study_id: StudyId, session: SessionDep) -> StudyPublic:
    """Cancel it and its unfinished trials; cancelling twice is harmless, a completed study
    answers 409."""
    study = lock(session, study_id)  # a concurrent tell waits, then sees the cancel
    study_service.cancel(session, study)
    answer = study_service.public(session, study)
    session.commit()
    return answer


@router.get(
    "/{study_id}/trials",
    dependencies=[READERS],
    summary="List a study's trials",
    response_model=TrialsPublic,
    responses=responses(404, 422),
)
def list_trials(
    study_id: StudyId,
    session: ReadSessionDep,
    after: int = Query(
        default=-1, ge=-1, le=DB_INT_MAX, description="only trials whose number is greater"
    ),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> TrialsPublic:
    """Trials in number order, from ``after`` on; ``count`` is the study's number of trials."""
    study_service.get(session, study_id)
    count = session.scalar(select(func.count()).where(Trial.study_id == study_id)) or 0
    rows = session.scalars(
        select(Trial)
        .where(Trial.study_id == study_id, Trial.number > after)
        .order_by(Trial.number)
        .limit(limit)
    )
    return TrialsPublic(data=[trial_public(t) for t in rows], count=count)


@router.post(
    "/{study_id}/ask",
    dependencies=[WORKERS],
    summary="Ask for trials to run (external objective)",
    response_model=AskAnswer,
    responses=responses(400, 404, 409, 422),
)
def ask(
    study_id: StudyId, body: AskRequest, session: SessionDep, reader: ReadSessionDep
) -> AskAnswer:
    """Hand out up to ``count`` running trials, requeued ones first, each with its ``claim``;
    409 when the study's objective is not ``external``. Nothing to hand out: ``retry_after``
    seconds when the study still needs clients (trials paused, queued or in flight), none when
    it has finished."""
    # The suggestions are computed without the study's write lock, for every ask of the study
    # that waits meanwhile; the write only checks that they still hold (``asking``).
    return asking.answer(session, reader, study_id, body.count)


@router.get(
    "/{study_id}/regions",
    dependencies=[READERS],
    summary="List a study's regions",
    response_model=list[RegionPublic],
    responses=responses(404, 422),
)
def list_regions(study_id: StudyId, session: ReadSessionDep) -> list[RegionPublic]:
    """The coarse-to-fine regions, stage 0 (the whole space) first."""
    study_service.get(session, study_id)
    return region_service.list_public(session, study_id)


@router.delete(
    "/{study_id}",
    dependencies=[ADMINS],
    summary="Delete a study",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(404, 409, 422),
)
def delete_study(study_id: StudyId, session: SessionDep) -> Response:
    """Delete a finished or cancelled study with its trials; 409 while it runs."""
    study_edits.delete(session, study_service.get(session, study_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
