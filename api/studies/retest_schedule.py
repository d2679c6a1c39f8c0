"""A study's re-test schedule: checks, the next due time (database clock), PATCH."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from api.db.base import UTCDateTime
from api.db.clock import db_now
from api.db.models import Study, Trial
from api.errors import FieldError
from api.trials.study import config_of, lock
from caviar.retest_schemas import RetestConfig, StudyUpdate
from caviar.schemas import StudyCreate, TrainObjective
from caviar.trainer_params import BUILTIN_DATASETS


def database_now(session: Session) -> datetime:
    """The database's current time (every due time is judged by this clock)."""
    now = session.scalar(select(type_coerce(db_now(), UTCDateTime())))
    assert now is not None
    return now


def uploaded_dataset_name(config: StudyCreate) -> str | None:
    """The name of a train study's uploaded dataset ("iris@2" → "iris"); None otherwise."""
    objective = config.objective
    if not isinstance(objective, TrainObjective) or objective.dataset in BUILTIN_DATASETS:
        return None
    return objective.dataset.partition("@")[0]


def check(config: StudyCreate, retest: RetestConfig, finished: int | None) -> None:
    """422 for a schedule the study cannot run. ``finished``: completed search trials, or None
    at creation (then ``top_k`` is bounded by ``max_trials``)."""
    if retest.on_new_data and uploaded_dataset_name(config) is None:
        raise FieldError(
            ("retest", "on_new_data"),
            "on_new_data needs a train study on an uploaded dataset (see /api/datasets); "
            "this study's data never gets a new version",
        )
    limit = config.max_trials if finished is None else finished
    if retest.top_k > limit:
        what = "max_trials" if finished is None else "completed trials"
        raise FieldError(
            ("retest", "top_k"),
            f"top_k {retest.top_k} is larger than the study's {limit} {what}",
        )


def next_due(session: Session, retest: RetestConfig | None) -> datetime | None:
    """Now + ``every`` on the database's clock; None without a time schedule."""
    seconds = retest.every_seconds if retest is not None else None
    if seconds is None:
        return None
    return database_now(session) + timedelta(seconds=seconds)


def completed_search_trials(session: Session, study_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                Trial.study_id == study_id,
                Trial.state == "completed",
                Trial.retest_round_id.is_(None),
                ~Trial.steered,
            )
        )
        or 0
    )


def update(session: Session, study_id: int, body: StudyUpdate) -> Study:
    """Apply a PATCH: only the fields present change; ``retest: null`` removes the schedule.
    Allowed on any study, completed and cancelled included."""
    study = lock(session, study_id)
    config = config_of(study)
    raw: dict[str, Any] = dict(study.config)
    fields = body.model_fields_set
    if "name" in fields:
        if body.name is None:
            raise FieldError(("name",), "a study's name cannot be removed")
        study.name = raw["name"] = body.name
    if "retest" in fields:
        if body.retest is not None:
            check(config, body.retest, completed_search_trials(session, study.id))
        raw["retest"] = body.retest.model_dump(mode="json") if body.retest else None
        study.retest_next_at = next_due(session, body.retest)
    study.config = raw  # a new dict: the JSON column sees the change
    return study
