"""The life of a trial: ask, start, report, tell — with attempt fencing.

States: queued → running → completed | pruned | failed | cancelled. A finished trial never
changes again. Every write names the attempt it belongs to; an older attempt gets 409.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from api.db.clock import db_now
from api.db.models import Study, Trial, TrialReport
from api.errors import Conflict, FieldError, NotFound
from api.search.registry import make_pruner
from api.services import retest_rounds
from api.services.scheduling import create_trials, lock, search_trials, top_up
from api.services.study_config import config_of
from caviar.schemas import (
    FINISHED_STATES,
    ReportAnswer,
    ReportCreate,
    TellCreate,
    TrainObjective,
)


def get(session: Session, trial_id: int) -> Trial:
    trial = session.get(Trial, trial_id)
    if trial is None:
        raise NotFound("trial", trial_id)
    return trial


def _fence(trial: Trial, attempt: int) -> None:
    if attempt != trial.attempt:
        raise Conflict(
            f"attempt {attempt} of trial {trial.id} is stale: the current attempt is "
            f"{trial.attempt}; stop working on it",
            field="attempt",
        )


def ask(session: Session, study_id: int, count: int) -> list[Trial]:
    """Hand out up to ``count`` running trials of an external study: requeued ones first."""
    study = lock(session, study_id)
    config = config_of(study)
    if config.objective.kind != "external":
        raise Conflict(
            f"study {study_id} has a {config.objective.kind!r} objective, run by Caviar's "
            "workers; ask is for studies whose objective is 'external'",
            field="objective.kind",
        )
    requeued = list(
        session.scalars(
            select(Trial)
            .where(Trial.study_id == study_id, Trial.state == "queued")
            .order_by(Trial.number)
            .limit(count)
        )
    )
    if study.status != "running" and not requeued:  # a re-test round may run on any study
        raise Conflict(f"study {study_id} is {study.status}", field="status")
    if requeued:
        session.execute(
            update(Trial)
            .where(Trial.id.in_([t.id for t in requeued]))
            .values(state="running", started_at=db_now(), heartbeat_at=db_now())
        )
    room = min(count - len(requeued), config.max_trials - search_trials(study))
    room = room if study.status == "running" else 0
    fresh = create_trials(session, study, config, room, state="running")
    for t in requeued:
        session.refresh(t)
    return requeued + fresh


def start(session: Session, trial_id: int, attempt: int) -> Trial:
    """A worker claims a queued trial. Exactly one claim per attempt wins; others get 409."""
    won = session.execute(
        update(Trial)
        .where(Trial.id == trial_id, Trial.attempt == attempt, Trial.state == "queued")
        .values(state="running", started_at=db_now(), heartbeat_at=db_now())
    ).rowcount
    trial = get(session, trial_id)
    if not won:
        _fence(trial, attempt)
        raise Conflict(f"trial {trial_id} is {trial.state}, not queued", field="state")
    session.refresh(trial)
    return trial


def report(session: Session, trial_id: int, body: ReportCreate) -> ReportAnswer:
    """Store an intermediate value (keyed by trial and step), beat the heart, ask the pruner."""
    trial = get(session, trial_id)
    _fence(trial, body.attempt)
    if trial.state != "running":
        raise Conflict(f"trial {trial_id} is {trial.state}, not running", field="state")
    values = {
        "trial_id": trial_id,
        "step": body.step,
        "study_id": trial.study_id,
        "value": body.value,
        "metrics": body.metrics,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(TrialReport).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["trial_id", "step"],
            set_={"value": stmt.excluded.value, "metrics": stmt.excluded.metrics},
        )
    )
    session.execute(
        update(Trial)
        .where(Trial.id == trial_id, Trial.attempt == body.attempt)
        .values(heartbeat_at=db_now())
    )
    study = session.get(Study, trial.study_id)
    assert study is not None
    config = config_of(study)
    if config.pruner.name == "none" or retest_rounds.protected(session, trial):
        return ReportAnswer(prune=False)
    pruner = make_pruner(config.pruner)
    sign = -1.0 if study.direction == "maximize" else 1.0

    def peers_at(step: int) -> list[float]:
        rows = session.scalars(
            select(TrialReport.value).where(
                TrialReport.study_id == trial.study_id,
                TrialReport.step == step,
                TrialReport.trial_id != trial_id,
            )
        )
        return [sign * v for v in rows]

    # A train trial's last epoch is its result, never a reason to stop it.
    last = config.objective.epochs if isinstance(config.objective, TrainObjective) else None
    decision = pruner.decide(trial.number, body.step, sign * body.value, peers_at, max_step=last)
    if decision.prune:
        trial.prune_reason = decision.reason
    return ReportAnswer(prune=decision.prune, reason=decision.reason)


def tell(session: Session, trial_id: int, body: TellCreate) -> tuple[Trial, list[Trial]]:
    """Finish a trial. Idempotent for the same content; 409 for a different one.

    Returns the trial and the study's new queued trials, to dispatch after commit.
    """
    trial = get(session, trial_id)
    if trial.state in FINISHED_STATES:
        same = (trial.state, trial.value, trial.attempt) == (body.state, body.value, body.attempt)
        if same:
            return trial, []
        raise Conflict(
            f"trial {trial_id} is already {trial.state} (value {trial.value}, attempt "
            f"{trial.attempt}); a finished trial never changes",
            field="state",
        )
    _fence(trial, body.attempt)
    if trial.state != "running":
        raise Conflict(f"trial {trial_id} is {trial.state}, not running", field="state")
    if body.state == "completed" and body.value is None:
        raise FieldError(("value",), "a completed trial needs a finite value")
    study = lock(session, trial.study_id)
    finished_at = session.execute(
        update(Trial)
        .where(Trial.id == trial_id, Trial.attempt == body.attempt, Trial.state == "running")
        .values(state=body.state, value=body.value, error=body.error, finished_at=db_now())
        .returning(Trial.finished_at)
        .execution_options(synchronize_session=False)
    ).scalar()
    if finished_at is None:  # a concurrent tell or the reaper got there first
        session.refresh(trial)
        return tell(session, trial_id, body)
    set_committed_value(trial, "state", body.state)
    set_committed_value(trial, "value", body.value)
    set_committed_value(trial, "error", body.error)
    set_committed_value(trial, "finished_at", finished_at)
    return trial, top_up(session, study)
