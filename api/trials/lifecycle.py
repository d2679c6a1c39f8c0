"""The life of a trial, in one place: every change of a trial's state or attempt, and the one
function that builds new trials' rows.

Each transition below names the states it leaves, the state it enters, the lock its caller
holds and the event it records. It is carried out by one guarded UPDATE whose WHERE holds
the from-states (and, for a training process's writes, the attempt and its claim), so the
check and the write are one statement and the answer says whether it won. No other module
writes ``trials.state`` or ``trials.attempt``.

Locks are taken in one order: the study's row (``study.lock``), then the trial's row (the
guarded UPDATE's own), then a checkpoint blob's row. Transitions that change what a study
counts (a new trial, a finish, a requeue, a cancel) hold the study's lock; the others hold
only the trial's row.

Claims: claiming an attempt (``claim``, or ``hand_out`` for a client's ``ask``) gives its
holder a secret, ``Trial.claim``. Every later write of that attempt carries it, and a write
without it changes nothing (``fenced``), so a token that may write to trials can still write
only to the attempts it holds. A new attempt clears the claim.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.orm import Session

from api.db.clock import db_now, seconds_since
from api.db.models import Checkpoint, Study, Trial, TrialCommand, TrialReport
from api.errors import Conflict, NotFound
from api.trials import events
from caviar.states import UNFINISHED

Lock = Literal["study", "trial"]


@dataclass(frozen=True)
class Transition:
    """One change of a trial's life: from which states, into which (None: the state stays),
    under which lock, recording which event (None: none), and whether it is one of the
    claimed attempt's own writes (guarded by attempt and claim)."""

    leaves: frozenset[str]
    enters: str | None
    lock: Lock
    event: str | None = None
    fenced: bool = False
    next_attempt: bool = False


def _t(leaves: Iterable[str], enters: str | None, lock: Lock, **kw: Any) -> Transition:
    return Transition(frozenset(leaves), enters, lock, **kw)


#: The transition table. ``finish`` and ``stop`` enter one of several finished states (chosen
#: by the caller: ``FINISH_STATES``, ``STOP_STATES``).
TRANSITIONS: dict[str, Transition] = {
    "create": _t((), "queued", "study"),  # or "running", handed out at once by ask
    "hand_out": _t({"queued"}, "running", "study"),  # ask gives a waiting trial to a client
    "claim": _t({"queued"}, "running", "trial", event="claimed"),  # a worker's /start
    "reclaim": _t({"running"}, None, "trial", event="reclaimed"),  # the same claimer, again
    "beat": _t({"running"}, None, "trial", fenced=True),  # heartbeat, report, poll, checkpoint
    "pause": _t({"queued"}, "paused", "trial", event="paused"),  # a person, before it runs
    "paused": _t({"running"}, "paused", "trial", event="paused", fenced=True),  # its trainer
    "resume": _t({"paused"}, "queued", "trial", event="resumed", next_attempt=True),
    "stop": _t(UNFINISHED, None, "study", event="stopped"),
    "requeue": _t({"running"}, "queued", "study", event="requeued", next_attempt=True),
    "resend": _t({"queued"}, None, "trial", event="resent"),
    "finish": _t({"running"}, None, "study", fenced=True),  # tell
    "fail": _t({"running"}, "failed", "study", event="failed"),  # silent on its last try
    "cancel": _t(UNFINISHED, "cancelled", "study"),  # its study was cancelled
}
FINISH_STATES = frozenset({"completed", "pruned", "failed"})
STOP_STATES = frozenset({"completed", "cancelled"})


def _won(
    session: Session,
    name: str,
    where: Sequence[ColumnElement[bool]],
    values: dict[str, Any],
    *,
    reason: str | None = None,
    enters: str | None = None,
    worker: str | None = None,
) -> list[Any]:
    """Carry out transition ``name`` on the trials matching ``where``: one guarded UPDATE.
    Returns the rows it won (id, study id, attempt before, worker) and records their events
    (naming ``worker``, or the trial's worker after the change)."""
    t = TRANSITIONS[name]
    state = enters or t.enters
    assert enters is None or t.enters is None, name
    changes = dict(values)
    if state is not None:
        changes["state"] = state
    if t.next_attempt:
        changes.update(
            attempt=Trial.attempt + 1,
            heartbeat_at=None,
            started_at=None,
            worker=None,
            claim=None,
            claim_nonce=None,
            dispatched_at=db_now(),
            dispatch_count=0,
        )
    rows = session.execute(
        update(Trial)
        .where(Trial.state.in_(t.leaves), *where)
        .values(**changes)
        .returning(Trial.id, Trial.study_id, Trial.attempt, Trial.worker)
        .execution_options(synchronize_session=False)
    ).all()
    if t.event is not None:
        for trial_id, study_id, attempt, held_by in rows:
            events.record(
                session,
                trial_id=trial_id,
                study_id=study_id,
                attempt=attempt - 1 if t.next_attempt else attempt,
                kind=t.event,
                reason=reason or name,
                worker=worker or held_by,
            )
    return rows


def new_claim() -> str:
    return secrets.token_urlsafe(24)


def _digest(nonce: str | None) -> str | None:
    return hashlib.sha256(nonce.encode()).hexdigest() if nonce else None


# -- new trials --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTrial:
    """What a new trial starts from. ``kind`` says what it counts as: a search trial (bounded
    by ``max_trials``), a person's fork, or a re-test round's trial."""

    params: dict[str, Any]
    stage: int = 0
    region_id: int | None = None
    kind: Literal["search", "fork", "retest"] = "search"
    retest_round_id: int | None = None
    parent_id: int | None = None
    forked_at_step: int | None = None
    note: str | None = None


def create(
    session: Session, study: Study, new: Sequence[NewTrial], *, running: bool = False
) -> list[Trial]:
    """Insert ``new`` as the study's next trials, by number, and count them. The caller holds
    the study's lock (``study.lock``). Queued trials are dispatched after commit; ``running``
    ones are handed out at once (an external study's ``ask``), each with its claim."""
    if not new:
        return []
    start = study.trial_count
    study.trial_count += len(new)
    study.fork_count += sum(1 for n in new if n.kind == "fork")
    study.retest_trials += sum(1 for n in new if n.kind == "retest")
    stamps = (
        {"started_at": db_now(), "heartbeat_at": db_now()}
        if running
        else {"dispatched_at": db_now()}  # sent right after commit
    )
    rows = [
        {
            "study_id": study.id,
            "number": start + i,
            "params": n.params,
            "state": "running" if running else "queued",
            "attempt": 1,
            "stage": n.stage,
            "region_id": n.region_id,
            "dispatch_count": 0,
            "retest_round_id": n.retest_round_id,
            "parent_id": n.parent_id,
            "forked_at_step": n.forked_at_step,
            "note": n.note,
            "steered": n.kind == "fork",
            "claim": new_claim() if running else None,
        }
        for i, n in enumerate(new)
    ]
    # One INSERT … RETURNING: the rows come back whole, database-clock timestamps included,
    # so nothing is lazily loaded (and no transaction reopened) after the request commits.
    created = session.scalars(insert(Trial).values(**stamps).returning(Trial), rows).all()
    return sorted(created, key=lambda t: t.number)


# -- hand out, claim ---------------------------------------------------------------------------


def hand_out(session: Session, trials: Sequence[Trial]) -> list[Trial]:
    """Give queued trials to an external client (``ask``), each with a fresh claim. A trial
    that stopped being queued meanwhile (a person paused it) is not handed out."""
    won: list[Trial] = []
    for trial in trials:
        rows = _won(
            session,
            "hand_out",
            [Trial.id == trial.id, Trial.attempt == trial.attempt],
            {"started_at": db_now(), "heartbeat_at": db_now(), "claim": new_claim()},
        )
        if rows:
            session.refresh(trial)
            won.append(trial)
    return won


def claim(
    session: Session,
    trial_id: int,
    attempt: int,
    worker: str | None,
    nonce: str | None,
    *,
    reason: str = "claimed by its worker",
) -> Trial:
    """A worker claims ``attempt`` of a queued trial; the answer's trial carries the claim.

    Exactly one claim per attempt wins. The claimer may repeat its claim (a retry after a lost
    answer) and gets the same claim again, if it sends the same ``worker`` and ``nonce`` (its
    own secret) as the first time; anyone else gets 409."""
    by = Trial.id == trial_id
    rows = _won(
        session,
        "claim",
        [by, Trial.attempt == attempt],
        {
            "started_at": db_now(),
            "heartbeat_at": db_now(),
            "worker": worker,
            "claim": new_claim(),
            "claim_nonce": _digest(nonce),
        },
        reason=reason,
    )
    digest = _digest(nonce)
    if not rows and digest is not None:
        rows = _won(
            session,
            "reclaim",
            [by, Trial.attempt == attempt, Trial.worker == worker, Trial.claim_nonce == digest],
            {"heartbeat_at": db_now()},
            reason="the same worker claimed its attempt again (a retry after a lost answer)",
        )
    if not rows:
        raise refusal(session, trial_id, attempt, None, "queued")
    trial = session.get_one(Trial, trial_id)
    session.refresh(trial)
    return trial


def claimed_by(worker: str | None, nonce: str | None) -> ColumnElement[bool]:
    """Trials whose current attempt ``worker`` claimed with ``nonce`` (which it may claim
    again, after a lost answer)."""
    return (Trial.worker == worker) & (Trial.claim_nonce == _digest(nonce))


# -- the claimed attempt's own writes ----------------------------------------------------------


def fenced(session: Session, trial_id: int, attempt: int, claim: str | None, **values: Any) -> bool:
    """Beat the heart of ``attempt`` (and set ``values``) if it is the trial's current,
    running attempt and ``claim`` is its claim; whether it was. On PostgreSQL the UPDATE
    row-locks the trial until commit, so nothing slips between this check and the writes that
    follow in the same transaction."""
    if not claim:
        return False
    return bool(
        _won(
            session,
            "beat",
            [Trial.id == trial_id, Trial.attempt == attempt, Trial.claim == claim],
            {"heartbeat_at": db_now(), **values},
        )
    )


def refusal(
    session: Session, trial_id: int, attempt: int, claim: str | None, want: str = "running"
) -> Conflict:
    """The 409 for a write that lost its guard, saying why: 404 for an unknown trial (raised),
    a stale attempt, a missing or wrong claim, or the trial's state (returned, to raise)."""
    trial = session.get(Trial, trial_id)
    if trial is None:
        raise NotFound("trial", trial_id)
    session.refresh(trial)
    if attempt != trial.attempt:
        return Conflict(
            f"attempt {attempt} of trial {trial_id} is stale: the current attempt is "
            f"{trial.attempt}; stop working on it",
            field="attempt",
        )
    if trial.state == want == "queued":
        return Conflict(
            f"attempt {attempt} of trial {trial_id} is already claimed"
            + (f" by {trial.worker}" if trial.worker else "")
            + "; only its claimer may claim it again (same worker and nonce)",
            field="state",
        )
    if trial.state == want and claim != trial.claim:
        return Conflict(
            f"attempt {attempt} of trial {trial_id} is held by another claim: send the claim "
            "that /start or ask gave in the Caviar-Claim header",
            field="Caviar-Claim",
        )
    return Conflict(f"trial {trial_id} is {trial.state}, not {want}", field="state")


def pause_queued(session: Session, trial: Trial) -> bool:
    """A person pauses a trial that no worker holds yet; whether it was still queued (if not,
    its trainer pauses it and acknowledges the command)."""
    return bool(
        _won(
            session,
            "pause",
            [Trial.id == trial.id, Trial.attempt == trial.attempt],
            {"heartbeat_at": None},
            reason="paused by a person before it ran",
        )
    )


def paused(session: Session, trial_id: int, attempt: int, claim: str | None) -> None:
    """The trainer of ``attempt`` stopped for a pause and saved its checkpoint: the trial
    holds no worker. 409 when the attempt is stale, the claim wrong or the trial not running."""
    won = claim and _won(
        session,
        "paused",
        [Trial.id == trial_id, Trial.attempt == attempt, Trial.claim == claim],
        {"heartbeat_at": None},
        reason="its trainer paused and saved its checkpoint",
    )
    if not won:
        raise refusal(session, trial_id, attempt, claim)


def resume(session: Session, trial: Trial) -> None:
    """A paused trial goes back to the queue with the next attempt (409 if not paused)."""
    rows = _won(
        session,
        "resume",
        [Trial.id == trial.id, Trial.attempt == trial.attempt],
        {},
        reason="resumed by a person",
    )
    if not rows:
        session.refresh(trial)
        raise Conflict(f"trial {trial.id} is {trial.state}, not paused", field="state")
    session.refresh(trial)


# -- finishing ---------------------------------------------------------------------------------


def finish(
    session: Session,
    trial: Trial,
    attempt: int,
    claim: str | None,
    state: str,
    value: float | None,
    error: str | None,
) -> bool:
    """Tell: the claimed, running ``attempt`` finishes. The caller holds the study's lock.
    False when the guard lost (the caller says why, or answers a repeated tell)."""
    assert state in FINISH_STATES, state
    won = claim and _won(
        session,
        "finish",
        [Trial.id == trial.id, Trial.attempt == attempt, Trial.claim == claim],
        # its worker's tell is the last time it was heard of (the fleet's liveness)
        {"value": value, "error": error, "finished_at": db_now(), "heartbeat_at": db_now()},
        enters=state,
    )
    if won:
        close_pending(session, trial.id, f"the trial finished first ({state})")
    session.refresh(trial)
    return bool(won)


def latest_report(session: Session, trial_id: int) -> TrialReport | None:
    """The last report of the trial's served curve (its latest attempt's highest step)."""
    return session.scalars(
        select(TrialReport)
        .where(TrialReport.trial_id == trial_id)
        .order_by(TrialReport.attempt.desc(), TrialReport.step.desc())
        .limit(1)
    ).first()


def stop(session: Session, trial: Trial) -> TrialReport | None:
    """A person finishes a trial now. The caller holds the study's lock. With a report, the
    trial is ``completed`` with its latest value, at the step it reached (``stopped_at_step``)
    and ``steered``: what ranks full-budget runs leaves it out. Without one, ``cancelled``.
    Returns that report; 409 if the trial had already finished."""
    report = latest_report(session, trial.id)
    values: dict[str, Any] = (
        {"value": report.value, "steered": True, "stopped_at_step": report.step}
        if report is not None
        else {"value": None}
    )
    rows = _won(
        session,
        "stop",
        [Trial.id == trial.id],
        {**values, "finished_at": db_now()},
        enters="completed" if report is not None else "cancelled",
        reason="stopped by a person"
        + (f" at step {report.step}" if report is not None else " before any report"),
    )
    session.refresh(trial)
    if not rows:
        raise Conflict(f"trial {trial.id} is already {trial.state}", field="state")
    close_pending(session, trial.id, "the trial was stopped")
    return report


def cancel_study(session: Session, study: Study) -> None:
    """Every unfinished trial of a study being cancelled. The caller holds the study's lock."""
    unfinished = select(Trial.id).where(Trial.study_id == study.id, Trial.state.in_(UNFINISHED))
    session.execute(
        update(TrialCommand)
        .where(TrialCommand.trial_id.in_(unfinished.scalar_subquery()))
        .where(TrialCommand.state == "pending")
        .values(state="rejected", applied_at=db_now(), reason="the study was cancelled")
    )
    _won(session, "cancel", [Trial.study_id == study.id], {"finished_at": db_now()})


# -- the reconciler ----------------------------------------------------------------------------


def requeue_silent(
    session: Session,
    trial_id: int,
    attempt: int,
    grace: float,
    *,
    last_try: bool,
    reason: str,
    worker: str | None = None,
) -> bool:
    """A running attempt silent past ``grace`` (judged again here, on the database's clock, so
    a heartbeat that landed meanwhile keeps its attempt): back to the queue with the next
    attempt, or failed on its ``last_try``. The caller holds the study's lock. ``worker``: the
    silent worker, named in the event."""
    where = [
        Trial.id == trial_id,
        Trial.attempt == attempt,
        seconds_since(Trial.heartbeat_at) > grace,
    ]
    if last_try:
        won = _won(
            session, "fail", where, {"finished_at": db_now(), "error": reason}, reason=reason
        )
        if won:
            close_pending(session, trial_id, f"the trial failed first: {reason}")
    else:
        won = _won(session, "requeue", where, {}, reason=reason, worker=worker)
        if won:
            reopen_unsaved(session, trial_id)
    return bool(won)


def resent(session: Session, trials: Sequence[Trial], why: dict[int, str]) -> None:
    """Record that the queued trials' messages are sent again, and why (the state stays)."""
    kind = TRANSITIONS["resend"].event
    assert kind is not None
    for t in trials:
        events.record(
            session,
            trial_id=t.id,
            study_id=t.study_id,
            attempt=t.attempt,
            kind=kind,
            reason=why[t.id],
        )


# -- a trial's pending commands, as its life changes -------------------------------------------


def close_pending(session: Session, trial_id: int, reason: str) -> None:
    """Reject the commands a finished trial will never apply."""
    session.execute(
        update(TrialCommand)
        .where(TrialCommand.trial_id == trial_id, TrialCommand.state == "pending")
        .values(state="rejected", applied_at=db_now(), reason=reason)
    )


def reopen_unsaved(session: Session, trial_id: int) -> int:
    """A requeued trial's next attempt resumes from its latest checkpoint: the ``set`` commands
    applied after that checkpoint (all of them without one) go back to pending, so that the
    next attempt applies them again, in order. How many were reopened."""
    saved = session.scalar(select(func.max(Checkpoint.step)).where(Checkpoint.trial_id == trial_id))
    query = update(TrialCommand).where(
        TrialCommand.trial_id == trial_id,
        TrialCommand.action == "set",
        TrialCommand.state == "applied",
    )
    if saved is not None:
        query = query.where(
            or_(TrialCommand.applied_step.is_(None), TrialCommand.applied_step > saved)
        )
    return session.execute(
        query.values(state="pending", applied_at=None, applied_step=None)
    ).rowcount
