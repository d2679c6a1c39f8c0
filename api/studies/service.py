"""Studies: creation (with the checks a schema cannot make), cancellation, public views."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import RetestRound, Study, Trial
from api.errors import Conflict, FieldError, FieldErrors, NotFound
from api.search.base import whole_space
from api.studies import checks as study_checks
from api.studies import regions as region_service
from api.studies import retest_schedule, stored_checks, warm_start
from api.studies.champion import latest_champion
from api.studies.ranking import best_first
from api.studies.scheduling import top_up
from api.trials import lifecycle
from api.trials.study import config_of
from caviar.schemas import Best, StudyCreate, StudyPublic
from caviar.states import TRIAL_STATES

DEFAULT_GRACE = 120.0


def _pin_dataset(session: Session, config: StudyCreate) -> StudyCreate:
    """A train study on an uploaded dataset names one version ("name@version") for good."""
    dataset = stored_checks.uploaded_dataset(session, config.objective)
    if dataset is None:
        return config
    pinned = config.objective.model_copy(update={"dataset": f"{dataset.name}@{dataset.version}"})
    return config.model_copy(update={"objective": pinned})


def create(session: Session, config: StudyCreate) -> tuple[Study, list[Trial]]:
    """Store a study and its stage-0 region; queue its first trials (to dispatch after commit)."""
    # every problem of the body in one 422
    found = study_checks.problems(dict(config.space), config.objective, config.direction)
    warm_id = config.warm_start.study_id if config.warm_start is not None else None
    found += stored_checks.problems(session, config.objective, warm_id)
    try:
        if config.retest is not None:
            retest_schedule.check(config, config.retest, None)
    except FieldError as exc:
        found.append((exc.loc, str(exc)))
    if found:
        raise FieldErrors(found)
    config = _pin_dataset(session, config)
    if config.seed is None:
        config = config.model_copy(update={"seed": secrets.randbelow(2**31)})
    grace = config.heartbeat_grace
    if grace is None and config.objective.kind != "external":
        grace = DEFAULT_GRACE
    study = Study(
        name=config.name,
        config=config.model_dump(mode="json"),
        direction=config.direction,
        status="running",
        seed=config.seed,
        trial_count=0,
        heartbeat_grace=grace,
        retest_next_at=retest_schedule.next_due(session, config.retest),
    )
    session.add(study)
    session.flush()
    region = region_service.store_region(
        session, study.id, dict(config.space), whole_space(dict(config.space)), []
    )
    first = warm_start.first_trials(session, study, config, region)
    queued = top_up(session, study, config)
    return study, (first if config.objective.kind != "external" else []) + queued


def get(session: Session, study_id: int) -> Study:
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound("study", study_id)
    return study


def cancel(session: Session, study: Study) -> None:
    """Cancel a running study and its unfinished trials. Cancelling twice is harmless."""
    if study.status == "completed":
        raise Conflict(f"study {study.id} is already completed", field="status")
    study.status = "cancelled"
    lifecycle.cancel_study(session, study)


def best(session: Session, study: Study) -> Best | None:
    """The best completed search trial: the best value the study observed. Re-test rounds never
    change it (their verdict sits beside it, as the study's ``champion``)."""
    columns = (Trial.id, Trial.number, Trial.value, Trial.params)
    row = session.execute(best_first(study, *columns).limit(1)).first()
    return Best(trial_id=row[0], number=row[1], value=row[2], params=row[3]) if row else None


def search_counts(session: Session, study_id: int) -> dict[str, int]:
    """The study's trials per state, its re-test rounds' trials left out. All of its trials are
    counted on the (study, state, value) index alone, then the rounds' trials (found through
    their rounds) are taken off: a study read never visits every trial's row (at 100,000
    trials, 8 ms instead of 120 on SQLite)."""
    counts = {s: 0 for s in TRIAL_STATES}
    counts.update(
        session.execute(
            select(Trial.state, func.count())
            .where(Trial.study_id == study_id)
            .group_by(Trial.state)
        ).all()
    )
    rounds = select(RetestRound.id).where(RetestRound.study_id == study_id)
    for state, n in session.execute(
        select(Trial.state, func.count())
        .where(Trial.retest_round_id.in_(rounds.scalar_subquery()))
        .group_by(Trial.state)
    ):
        counts[state] -= n
    return counts


def fork_counts(session: Session, study: Study) -> dict[str, int]:
    """The study's forks by state (none read when it never had one)."""
    if not study.fork_count:
        return {}
    return dict(
        session.execute(  # type: ignore[arg-type]
            select(Trial.state, func.count())
            .where(Trial.study_id == study.id, Trial.parent_id.is_not(None))
            .group_by(Trial.state)
        ).all()
    )


def public(session: Session, study: Study) -> StudyPublic:
    counts = search_counts(session, study.id)
    region = region_service.current_region(session, study.id)
    return StudyPublic(
        id=study.id,
        name=study.name,
        config=config_of(study),
        status=study.status,  # type: ignore[arg-type]
        best=best(session, study),
        champion=latest_champion(session, study.id),
        stage=region.stage if region else 0,
        region_id=region.id if region else None,
        counts=counts,  # type: ignore[arg-type]
        forks=fork_counts(session, study),  # type: ignore[arg-type]
        created_at=study.created_at,
        **retest_fields(study),
    )


def retest_fields(study: Study) -> dict[str, Any]:
    """The re-test part of a Study answer."""
    return {
        "retest": study.config.get("retest"),
        "next_retest_at": study.retest_next_at,
        "stale": study.stale,
        "stale_reason": study.stale_reason,
        "warm_start_report": study.warm_start_report,
    }
