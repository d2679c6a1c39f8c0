"""The life of a trial: ask, start, heartbeat, report, tell — with attempt fencing.

States (``caviar.states``): queued → running → completed | pruned | failed | cancelled, and
running ⇄ paused. A finished trial never changes again. Every write names the attempt it
belongs to; an older attempt gets 409, and its check and write are one conditional statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from api.db.clock import db_now
from api.db.models import Study, Trial, TrialReport
from api.errors import Conflict, FieldError, NotFound
from api.retests import rounds as retest_rounds
from api.search.registry import make_pruner, make_strategy
from api.studies.scheduling import Plan, create_trials, lock, plan, search_trials, top_up
from api.studies.search_history import HISTORY
from api.trials import events as event
from api.trials import fence
from api.trials.study import config_of
from caviar.schemas import (
    HeartbeatAnswer,
    HeartbeatRequest,
    ReportAnswer,
    ReportCreate,
    TellCreate,
    TrainObjective,
)
from caviar.states import FINISHED_STATES
from caviar.trainer_params import trial_hyperparameters

R = TypeVar("R")


def get(session: Session, trial_id: int) -> Trial:
    trial = session.get(Trial, trial_id)
    if trial is None:
        raise NotFound("trial", trial_id)
    return trial


def plan_ask(session: Session, study_id: int, count: int) -> Plan | None:
    """The suggestions ``ask`` would make for its new trials, computed in a read transaction
    without the study's lock (None when it would make none or refuse)."""
    study = session.get(Study, study_id)
    if study is None or study.status != "running":
        return None
    config = config_of(study)
    if config.objective.kind != "external":
        return None
    queued = session.scalar(
        select(func.count()).where(Trial.study_id == study_id, Trial.state == "queued")
    )
    room = min(count - min(queued or 0, count), config.max_trials - search_trials(study))
    return plan(session, study, config, room) if room > 0 else None


def ask(session: Session, study_id: int, count: int, ahead: Plan | None = None) -> list[Trial]:
    """Hand out up to ``count`` running trials of an external study: requeued ones first.

    A study that is no longer running hands out only a re-test round's requeued trials, and
    otherwise an empty list (not an error), so a client's ``while trials := ask(...)`` loop
    ends cleanly when the study completes. ``ahead`` (from ``plan_ask``) saves the suggestion
    work under the lock when it still holds.
    """
    study = lock(session, study_id, "ask")
    config = config_of(study)
    if config.objective.kind != "external":
        raise Conflict(
            f"study {study_id} has a {config.objective.kind!r} objective, run by Caviar's "
            "workers; ask is for studies whose objective is 'external'",
            field="objective.kind",
        )
    # Found by state and sorted here: ORDER BY number would let SQLite walk the whole study.
    queued = session.scalars(
        select(Trial).where(Trial.study_id == study_id, Trial.state == "queued")
    ).all()
    requeued = sorted(queued, key=lambda t: t.number)[:count]
    if study.status != "running" and not requeued:  # a re-test round may run on any study
        return []
    if requeued:
        session.execute(
            update(Trial)
            .where(Trial.id.in_([t.id for t in requeued]))
            .values(state="running", started_at=db_now(), heartbeat_at=db_now())
        )
    room = min(count - len(requeued), config.max_trials - search_trials(study))
    room = room if study.status == "running" else 0
    fresh = create_trials(session, study, config, room, state="running", plan=ahead)
    for t in requeued:
        session.refresh(t)
    return requeued + fresh


def start(session: Session, trial_id: int, attempt: int, worker: str | None) -> Trial:
    """A worker claims a queued trial. Exactly one claim per attempt wins; others get 409.

    The winner's claim may be repeated by the same worker for the same attempt (a retry after
    a lost answer): it succeeds again and beats the heart. Trials of external studies are
    handed out by ``ask``, never claimed.
    """
    trial = get(session, trial_id)
    study = session.get_one(Study, trial.study_id)
    kind = config_of(study).objective.kind
    if kind == "external":
        raise Conflict(
            f"trial {trial_id} belongs to a study with an 'external' objective: its clients "
            "get trials from ask; workers cannot claim them",
            field="objective.kind",
        )
    claim = update(Trial).where(Trial.id == trial_id, Trial.attempt == attempt)
    won = session.execute(
        claim.where(Trial.state == "queued").values(
            state="running", started_at=db_now(), heartbeat_at=db_now(), worker=worker
        )
    ).rowcount
    kind_of_event = "claimed"
    if not won and worker is not None:
        won = session.execute(
            claim.where(Trial.state == "running", Trial.worker == worker).values(
                heartbeat_at=db_now()
            )
        ).rowcount
        kind_of_event = "reclaimed"
    if not won:
        raise fence.refusal(session, trial_id, attempt, "queued")
    event.record(
        session,
        trial_id=trial_id,
        study_id=trial.study_id,
        attempt=attempt,
        kind=kind_of_event,
        reason="claimed by its worker"
        if kind_of_event == "claimed"
        else "the same worker claimed its attempt again (a retry after a lost answer)",
        worker=worker,
    )
    session.refresh(trial)
    return trial


def _beat(session: Session, trial_id: int, attempt: int, worker: str | None) -> bool:
    """The fence of a report or a heartbeat, which also names the worker."""
    worker_value = {} if worker is None else {"worker": worker}
    return fence.fenced(session, trial_id, attempt, heartbeat_at=db_now(), **worker_value)


def heartbeat(session: Session, trial_id: int, body: HeartbeatRequest) -> HeartbeatAnswer:
    """A running attempt is alive. 409 when it is fenced off (stale attempt, or not running)."""
    if not _beat(session, trial_id, body.attempt, body.worker):
        raise fence.refusal(session, trial_id, body.attempt)
    return HeartbeatAnswer(state="running", attempt=body.attempt)


def effective_epochs(objective: TrainObjective, params: dict[str, Any]) -> int:
    """A train trial's epochs: the space's value > the objective's ``fixed`` > its ``epochs``."""
    return int(trial_hyperparameters(objective.epochs, objective.fixed, params)["epochs"])


def report(session: Session, trial_id: int, body: ReportCreate) -> ReportAnswer:
    """Store an intermediate value keyed by (trial, attempt, step), beat the heart, ask the
    pruner. The fence and the write are one transaction led by the conditional UPDATE."""
    if not _beat(session, trial_id, body.attempt, body.worker):
        raise fence.refusal(session, trial_id, body.attempt)
    trial = get(session, trial_id)
    values = {
        "trial_id": trial_id,
        "attempt": body.attempt,
        "step": body.step,
        "study_id": trial.study_id,
        "value": body.value,
        "metrics": body.metrics,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(TrialReport).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["trial_id", "attempt", "step"],
            set_={"value": stmt.excluded.value, "metrics": stmt.excluded.metrics},
        )
    )
    study = session.get_one(Study, trial.study_id)
    config = config_of(study)
    if config.pruner.name == "none" or retest_rounds.protected(session, trial):
        return ReportAnswer(prune=False)
    pruner = make_pruner(config.pruner)
    sign = -1.0 if study.direction == "maximize" else 1.0

    def peers_at(step: int) -> list[float]:
        """One value per other trial at ``step``: from its latest attempt that reported it."""
        newer = aliased(TrialReport)
        rows = session.scalars(
            select(TrialReport.value).where(
                TrialReport.study_id == trial.study_id,
                TrialReport.step == step,
                TrialReport.trial_id != trial_id,
                ~exists().where(Trial.id == TrialReport.trial_id, Trial.steered),
                ~exists().where(
                    newer.trial_id == TrialReport.trial_id,
                    newer.step == TrialReport.step,
                    newer.attempt > TrialReport.attempt,
                ),
            )
        )
        return [sign * v for v in rows]

    # A train trial's last epoch is its result, never a reason to stop it.
    objective = config.objective
    last = (
        effective_epochs(objective, trial.params) if isinstance(objective, TrainObjective) else None
    )
    decision = pruner.decide(trial.number, body.step, sign * body.value, peers_at, max_step=last)
    if decision.prune:
        trial.prune_reason = decision.reason
    return ReportAnswer(prune=decision.prune, reason=decision.reason)


def continued_curve(
    reports: Sequence[R], attempt: Callable[[R], int], step: Callable[[R], int]
) -> list[R]:
    """One trial's learning curve from all its reports: the latest attempt's, continued
    downwards by the earlier attempts' at steps below its first step (one per step, from the
    latest attempt that reported it). Sorted by step."""
    if not reports:
        return []
    latest = max(attempt(r) for r in reports)
    shown = [r for r in reports if attempt(r) == latest]
    first = min(step(r) for r in shown)
    earlier: dict[int, R] = {}
    for r in sorted(reports, key=attempt, reverse=True):
        if attempt(r) < latest and step(r) < first:
            earlier.setdefault(step(r), r)
    return sorted([*earlier.values(), *shown], key=step)


def curve(session: Session, trial_id: int, after: int = -1) -> list[TrialReport]:
    """The learning curve served for a trial (see ``continued_curve``), past step ``after``:
    a live page fetches only its increment. Only the rows the curve can show are read."""
    get(session, trial_id)
    of_trial = TrialReport.trial_id == trial_id
    latest = session.scalar(select(func.max(TrialReport.attempt)).where(of_trial))
    if latest is None:
        return []
    first = session.scalar(
        select(func.min(TrialReport.step)).where(of_trial, TrialReport.attempt == latest)
    )
    rows = session.scalars(
        select(TrialReport).where(
            of_trial,
            TrialReport.step > after,
            (TrialReport.attempt == latest) | (TrialReport.step < first),
        )
    ).all()
    return continued_curve(rows, lambda r: r.attempt, lambda r: r.step)


def read_history(session: Session, trial_id: int) -> None:
    """A worker-run study's tell suggests its next trials under the study's lock: bring the
    api's kept history of the trial's study up to date first, in a read session (a process's
    first read of a large study's history takes seconds; under the lock the tell then reads only
    the newest trials)."""
    study = session.scalar(select(Study).join(Trial).where(Trial.id == trial_id))
    if study is None or study.status != "running":
        return
    if (study.config or {}).get("objective", {}).get("kind") == "external":
        return  # its tell suggests nothing: no config to validate on this hot path
    config = config_of(study)
    if make_strategy(config.strategy).needs_history:
        HISTORY.read(session, study, config)


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
    fence.check_attempt(trial, body.attempt)
    if trial.state != "running":
        raise Conflict(f"trial {trial_id} is {trial.state}, not running", field="state")
    if body.state == "completed" and body.value is None:
        raise FieldError(("value",), "a completed trial needs a finite value")
    study = lock(session, trial.study_id, "tell")
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
