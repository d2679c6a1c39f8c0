"""Studies: creation (with the checks a schema cannot make), cancellation, public views."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import Dataset, Study, Trial
from api.errors import Conflict, FieldError, NotFound
from api.search.base import whole_space
from api.search.transforms import from_unit
from api.services import regions as region_service
from api.services.scheduling import IN_FLIGHT, top_up
from api.services.study_config import config_of
from caviar.functions import FUNCTIONS
from caviar.schemas import Best, StudyCreate, StudyPublic, TrainObjective
from caviar.space import CategoricalParam, FloatParam, IntParam
from caviar.trainer_params import BUILTIN_DATASETS, TRAINER_PARAMS

DEFAULT_GRACE = 120.0


def _check_function(config: StudyCreate) -> None:
    fn = FUNCTIONS[config.objective.name]  # type: ignore[union-attr]
    centre = {name: from_unit(p, 0.5) for name, p in config.space.items()}
    try:
        fn(centre)
    except (ValueError, TypeError) as exc:
        raise FieldError(("objective", "name"), f"{config.objective.name}: {exc}") from exc


def _check_trainer_value(loc: tuple[str, ...], name: str, value: Any) -> None:
    _, kind, allowed = TRAINER_PARAMS[name]
    if allowed is not None and value not in allowed:
        raise FieldError(loc, f"{name} must be one of {list(allowed)}, not {value!r}")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise FieldError(loc, f"{name} is an integer")
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise FieldError(loc, f"{name} is a number")


def _check_train(session: Session, config: StudyCreate, objective: TrainObjective) -> None:
    known = sorted(TRAINER_PARAMS)
    for name, p in config.space.items():
        if name not in TRAINER_PARAMS:
            raise FieldError(
                ("space", name),
                f"unknown trainer hyperparameter {name!r}; known: {', '.join(known)}",
            )
        _, kind, _ = TRAINER_PARAMS[name]
        if isinstance(p, CategoricalParam):
            for i, choice in enumerate(p.choices):
                _check_trainer_value(("space", name, "choices", str(i)), name, choice)
        elif kind == "categorical":
            raise FieldError(("space", name, "type"), f"{name} is categorical")
        elif kind == "int" and not isinstance(p, IntParam):
            raise FieldError(("space", name, "type"), f"{name} is an integer: use type int")
        elif kind == "float" and not isinstance(p, FloatParam | IntParam):
            raise FieldError(("space", name, "type"), f"{name} is a number")
    for name, value in objective.fixed.items():
        if name not in TRAINER_PARAMS:
            raise FieldError(
                ("objective", "fixed", name),
                f"unknown trainer hyperparameter {name!r}; known: {', '.join(known)}",
            )
        _check_trainer_value(("objective", "fixed", name), name, value)
    if objective.dataset not in BUILTIN_DATASETS:
        name = objective.dataset.split("@", 1)[0]
        if session.scalar(select(func.count()).where(Dataset.name == name)) == 0:
            raise FieldError(
                ("objective", "dataset"),
                f"unknown dataset {objective.dataset!r}; built-in: "
                f"{', '.join(BUILTIN_DATASETS)}, or upload one at /api/datasets",
            )


def create(session: Session, config: StudyCreate) -> tuple[Study, list[Trial]]:
    """Store a study and its stage-0 region; queue its first trials (to dispatch after commit)."""
    if config.objective.kind == "function":
        _check_function(config)
    elif config.objective.kind == "train":
        _check_train(session, config, config.objective)
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
    )
    session.add(study)
    session.flush()
    region_service.store_region(
        session, study.id, dict(config.space), whole_space(dict(config.space)), []
    )
    return study, top_up(session, study, config)


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
    session.execute(
        update(Trial)
        .where(Trial.study_id == study.id, Trial.state.in_(IN_FLIGHT))
        .values(state="cancelled", finished_at=db_now())
    )


def best(session: Session, study: Study) -> Best | None:
    order = Trial.value.desc() if study.direction == "maximize" else Trial.value.asc()
    row = session.execute(
        select(Trial.id, Trial.number, Trial.value, Trial.params)
        .where(Trial.study_id == study.id, Trial.state == "completed", Trial.value.is_not(None))
        .order_by(order, Trial.number)
        .limit(1)
    ).first()
    return Best(trial_id=row[0], number=row[1], value=row[2], params=row[3]) if row else None


def public(session: Session, study: Study) -> StudyPublic:
    counts = {s: 0 for s in ("queued", "running", "completed", "pruned", "failed", "cancelled")}
    counts.update(
        session.execute(
            select(Trial.state, func.count())
            .where(Trial.study_id == study.id)
            .group_by(Trial.state)
        ).all()
    )
    region = region_service.current_region(session, study.id)
    return StudyPublic(
        id=study.id,
        name=study.name,
        config=config_of(study),
        status=study.status,  # type: ignore[arg-type]
        best=best(session, study),
        stage=region.stage if region else 0,
        region_id=region.id if region else None,
        counts=counts,  # type: ignore[arg-type]
        created_at=study.created_at,
    )
