"""The attempt fence: a training process's write counts only while its attempt is the trial's
current one and the trial runs. Every such write is led by one conditional UPDATE of the trial
(``fenced``); on PostgreSQL it row-locks the trial until commit, so a requeue cannot slip between
the check and the writes that follow in the same transaction."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import Trial
from api.errors import Conflict, NotFound


def fenced(session: Session, trial_id: int, attempt: int, **values: object) -> bool:
    """Set ``values`` on the trial (by default: beat its heart) if ``attempt`` is current and
    the trial runs; whether it was."""
    values = values or {"heartbeat_at": db_now()}
    return bool(
        session.execute(
            update(Trial)
            .where(Trial.id == trial_id, Trial.attempt == attempt, Trial.state == "running")
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def next_attempt(attempt: int) -> dict[str, object]:
    """The columns of a trial sent back to the queue after ``attempt`` (a resume, a requeue):
    the next attempt, which fences the earlier one off, no worker or heartbeat yet, dispatched
    now."""
    return {
        "state": "queued",
        "attempt": attempt + 1,
        "heartbeat_at": None,
        "started_at": None,
        "worker": None,
        "dispatched_at": db_now(),
        "dispatch_count": 0,
    }


def check_attempt(trial: Trial, attempt: int) -> None:
    """409 naming ``attempt`` when it is not the trial's current attempt."""
    if attempt != trial.attempt:
        raise Conflict(
            f"attempt {attempt} of trial {trial.id} is stale: the current attempt is "
            f"{trial.attempt}; stop working on it",
            field="attempt",
        )


def refusal(session: Session, trial_id: int, attempt: int, want: str = "running") -> Conflict:
    """The 409 for a write that lost its fence: a stale attempt (raised), or the trial's state
    (returned, to raise)."""
    trial = session.get(Trial, trial_id)
    if trial is None:
        raise NotFound("trial", trial_id)
    session.refresh(trial)
    check_attempt(trial, attempt)
    return Conflict(f"trial {trial_id} is {trial.state}, not {want}", field="state")
