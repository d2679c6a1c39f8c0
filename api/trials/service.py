"""A trial over REST: start, heartbeat, report, tell, and its learning curve.

The transitions themselves are ``lifecycle``'s. Every write of a training process names its
attempt and carries its claim; an older attempt or a wrong claim gets 409 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from api.db.models import Study, Trial, TrialReport
from api.errors import Conflict, FieldError, NotFound
from api.search.pruners import CONTINUE, PruneDecision
from api.search.registry import make_pruner
from api.trials import hooks, lifecycle
from api.trials.study import config_of, lock
from caviar.bounds import MAX_TRIALS_PER_REQUEST
from caviar.schemas import (
    CompanionsRequest,
    HeartbeatAnswer,
    HeartbeatRequest,
    ReportAnswer,
    ReportBatchAnswer,
    ReportBatchCreate,
    ReportCreate,
    ReportItem,
    TellCreate,
    TrainObjective,
)
from caviar.states import FINISHED_STATES
from caviar.trainer_params import parse_hyperparams, trial_hyperparameters

R = TypeVar("R")


def get(session: Session, trial_id: int) -> Trial:
    trial = session.get(Trial, trial_id)
    if trial is None:
        raise NotFound("trial", trial_id)
    return trial


def start(
    session: Session, trial_id: int, attempt: int, worker: str | None, nonce: str | None
) -> Trial:
    """A worker claims a queued trial (``lifecycle.claim``). Trials of external studies are
    handed out by ``ask``, never claimed."""
    trial = get(session, trial_id)
    kind = config_of(session.get_one(Study, trial.study_id)).objective.kind
    if kind == "external":
        raise Conflict(
            f"trial {trial_id} belongs to a study with an 'external' objective: its clients "
            "get trials from ask; workers cannot claim them",
            field="objective.kind",
        )
    return lifecycle.claim(session, trial_id, attempt, worker, nonce)


#: What trials must share to train as one fused network (``worker.nn.fused``): same depth,
#: widths, activation and batch size.
FUSED_SHAPE = ("layers", "hidden_units", "activation", "batch_size")


def fused_shape(objective: TrainObjective, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """A train trial's shape for fusion; None when its hyperparameters do not parse."""
    hp = trial_hyperparameters(objective.epochs, objective.fixed, params)
    try:
        config = parse_hyperparams(hp)
    except ValueError:
        return None
    return tuple(getattr(config, name) for name in FUSED_SHAPE)


def companions(
    session: Session, trial_id: int, body: CompanionsRequest, claim: str | None
) -> list[Trial]:
    """The worker holding ``body.attempt`` of a running ``train`` trial claims up to
    ``body.count`` more of its study's trials to train fused with it: first attempts of
    trials that are not forks (no checkpoint: they start at epoch 0, as the leader must), of
    the same re-test round (the same data) and the same shape. Each is claimed as ``/start``
    claims it (``lifecycle.claim``), with the worker's own nonce; those it already claimed
    so, after a lost answer, come back with the same claim. Fewer than ``body.min_count``
    candidates: none. 409 when the leader's attempt is fenced off."""
    _beat(session, trial_id, body.attempt, claim, body.worker)
    leader = get(session, trial_id)
    objective = config_of(session.get_one(Study, leader.study_id)).objective
    if not isinstance(objective, TrainObjective):
        return []
    shape = fused_shape(objective, leader.params)
    if shape is None:
        return []
    mine = lifecycle.claimed_by(body.worker, body.nonce)
    candidates = session.scalars(
        select(Trial)
        .where(
            Trial.study_id == leader.study_id,
            Trial.id != leader.id,
            Trial.attempt == 1,
            Trial.parent_id.is_(None),
            Trial.retest_round_id.is_(None)
            if leader.retest_round_id is None
            else Trial.retest_round_id == leader.retest_round_id,
            (Trial.state == "queued") | ((Trial.state == "running") & mine),
        )
        .order_by(Trial.number)
        .limit(4 * MAX_TRIALS_PER_REQUEST)
    ).all()
    fitting = [t for t in candidates if fused_shape(objective, t.params) == shape]
    if len(fitting) < body.min_count:
        return []
    won: list[Trial] = []
    for trial in fitting:
        if len(won) == body.count:
            break
        try:
            won.append(
                lifecycle.claim(
                    session,
                    trial.id,
                    1,
                    body.worker,
                    body.nonce,
                    reason=f"claimed by its worker to train fused with trial {leader.id}",
                )
            )
        except Conflict:
            continue  # claimed by another worker meanwhile, or paused by a person
    return won


def _beat(
    session: Session, trial_id: int, attempt: int, claim: str | None, worker: str | None
) -> None:
    """The fence of a report or a heartbeat, which also names the worker; 409 if it lost."""
    worker_value = {} if worker is None else {"worker": worker}
    if not lifecycle.fenced(session, trial_id, attempt, claim, **worker_value):
        raise lifecycle.refusal(session, trial_id, attempt, claim)


def heartbeat(
    session: Session, trial_id: int, body: HeartbeatRequest, claim: str | None
) -> HeartbeatAnswer:
    """A running attempt is alive. 409 when it is fenced off (stale attempt, wrong claim, or
    not running)."""
    _beat(session, trial_id, body.attempt, claim, body.worker)
    return HeartbeatAnswer(state="running", attempt=body.attempt)


def effective_epochs(objective: TrainObjective, params: dict[str, Any]) -> int:
    """A train trial's epochs: the space's value > the objective's ``fixed`` > its ``epochs``."""
    return int(trial_hyperparameters(objective.epochs, objective.fixed, params)["epochs"])


def report(session: Session, trial_id: int, body: ReportCreate, claim: str | None) -> ReportAnswer:
    """Store an intermediate value keyed by (trial, attempt, step), beat the heart, ask the
    pruner. The fence and the write are one transaction led by the conditional UPDATE.
    A re-test round's trials are never pruned, and are never a pruned trial's peers."""
    _beat(session, trial_id, body.attempt, claim, body.worker)
    item = ReportItem(step=body.step, value=body.value, metrics=body.metrics)
    trial = get(session, trial_id)
    _store(session, trial, body.attempt, [item])
    decision = _judge(session, trial)(item)
    return ReportAnswer(prune=decision.prune, reason=decision.reason)


def report_batch(
    session: Session, trial_id: int, body: ReportBatchCreate, claim: str | None
) -> ReportBatchAnswer:
    """Several steps of one attempt in one request, in order, as if each were reported alone
    (one fence for them all): the first step the pruner prunes at is the last one stored, and
    the answer names it (``step``). A step's verdict depends on the other trials' reports
    only, so the steps are judged first and stored in one statement."""
    _beat(session, trial_id, body.attempt, claim, body.worker)
    trial = get(session, trial_id)
    judge = _judge(session, trial)
    for i, item in enumerate(body.reports):
        decision = judge(item)
        if decision.prune:
            _store(session, trial, body.attempt, body.reports[: i + 1])
            return ReportBatchAnswer(prune=True, reason=decision.reason, step=item.step)
    _store(session, trial, body.attempt, body.reports)
    return ReportBatchAnswer(prune=False)


def _store(session: Session, trial: Trial, attempt: int, items: Sequence[ReportItem]) -> None:
    """Store reports of an attempt that won its fence; a step sent again replaces its value."""
    rows = [
        {
            "trial_id": trial.id,
            "attempt": attempt,
            "step": item.step,
            "study_id": trial.study_id,
            "value": item.value,
            "metrics": item.metrics,
        }
        for item in {item.step: item for item in items}.values()  # the last of a repeated step
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(TrialReport).values(rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["trial_id", "attempt", "step"],
            set_={"value": stmt.excluded.value, "metrics": stmt.excluded.metrics},
        )
    )


def _judge(session: Session, trial: Trial) -> Callable[[ReportItem], PruneDecision]:
    """The pruner's verdict on one step of ``trial`` (never prune a re-test round's trial, nor
    a train trial at its last epoch)."""
    study = session.get_one(Study, trial.study_id)
    config = config_of(study)
    if config.pruner.name == "none" or trial.retest_round_id is not None:
        return lambda item: CONTINUE
    pruner = make_pruner(config.pruner)
    sign = -1.0 if study.direction == "maximize" else 1.0

    def peers_at(step: int) -> list[float]:
        """One value per other trial at ``step``: from its latest attempt that reported it."""
        newer = aliased(TrialReport)
        rows = session.scalars(
            select(TrialReport.value).where(
                TrialReport.study_id == trial.study_id,
                TrialReport.step == step,
                TrialReport.trial_id != trial.id,
                ~exists().where(
                    Trial.id == TrialReport.trial_id,
                    Trial.steered | Trial.retest_round_id.is_not(None),
                ),
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

    def judge(item: ReportItem) -> PruneDecision:
        decision = pruner.decide(
            trial.number, item.step, sign * item.value, peers_at, max_step=last
        )
        if decision.prune:
            trial.prune_reason = decision.reason
        return decision

    return judge


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


def tell(
    session: Session, trial_id: int, body: TellCreate, claim: str | None
) -> tuple[Trial, list[Trial]]:
    """Finish a trial. Idempotent for the same content; 409 for a different one, a stale
    attempt or a missing or wrong claim.

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
    if body.state == "completed" and body.value is None:
        raise FieldError(("value",), "a completed trial needs a finite value")
    study = lock(session, trial.study_id, "tell")
    won = lifecycle.finish(session, trial, body.attempt, claim, body.state, body.value, body.error)
    if not won:
        if trial.state in FINISHED_STATES:  # a concurrent tell or the reaper got there first
            return tell(session, trial_id, body, claim)
        raise lifecycle.refusal(session, trial_id, body.attempt, claim)
    return trial, hooks.refill(session, study)
