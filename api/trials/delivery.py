"""How a person's commands reach the training process of a trial, and come back acknowledged.

A report's, a heartbeat's and a poll's answer carries the pending commands of the trial; the
trainer applies them before its next mini-batch and acknowledges them in its next write. Only
the attempt's claimer sees and acknowledges them: the write's fence (``lifecycle.fenced``)
leads each of these transactions.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import Trial, TrialCommand
from api.publish import command_public
from api.trials import lifecycle
from api.trials.service import get
from caviar.schemas import Applied, CommandPublic, PollAnswer


def pending(session: Session, trial_id: int) -> list[TrialCommand]:
    """The trial's commands still waiting for its trainer, oldest first."""
    return list(
        session.scalars(
            select(TrialCommand)
            .where(TrialCommand.trial_id == trial_id, TrialCommand.state == "pending")
            .order_by(TrialCommand.id)
        )
    )


def acknowledge(session: Session, trial_id: int, applied: Sequence[Applied]) -> None:
    """Mark the commands the trainer carried out (or refused) at their steps. Only pending
    commands of this trial change; an acknowledgement repeated after a lost answer is a no-op.
    A ``set`` carried out marks the trial steered, for good."""
    steered = False
    for ack in applied:
        action = session.scalar(
            update(TrialCommand)
            .where(
                TrialCommand.id == ack.id,
                TrialCommand.trial_id == trial_id,
                TrialCommand.state == "pending",
            )
            .values(
                state="rejected" if ack.error else "applied",
                applied_at=db_now(),
                applied_step=ack.step,
                reason=ack.error,
            )
            .returning(TrialCommand.action)
        )
        steered |= action == "set" and not ack.error
    if steered:
        session.execute(update(Trial).where(Trial.id == trial_id).values(steered=True))


def deliver(session: Session, trial_id: int, applied: Sequence[Applied]) -> list[CommandPublic]:
    """Acknowledge ``applied`` and answer the commands still pending. The caller's fence won."""
    acknowledge(session, trial_id, applied)
    return [command_public(c) for c in pending(session, trial_id)]


def paused(
    session: Session,
    trial_id: int,
    attempt: int,
    claim: str | None,
    step: int,
    applied: Sequence[Applied],
) -> Trial:
    """The trainer of ``attempt`` stopped for a pause and saved its checkpoint: the trial is
    ``paused``, holding no worker. 409 when the attempt is stale, the claim wrong or the trial
    not running."""
    trial = get(session, trial_id)
    lifecycle.paused(session, trial_id, attempt, claim)
    acknowledge(session, trial_id, applied)
    # Any other pending pause was answered by this one.
    session.execute(
        update(TrialCommand)
        .where(
            TrialCommand.trial_id == trial_id,
            TrialCommand.action == "pause",
            TrialCommand.state == "pending",
        )
        .values(state="applied", applied_at=db_now(), applied_step=step)
    )
    session.refresh(trial)
    return trial


def poll(
    session: Session, trial_id: int, attempt: int, claim: str | None, applied: Sequence[Applied]
) -> PollAnswer:
    """A training process between reports: beat the heart, acknowledge ``applied``, answer the
    trial's state and attempt and, for the current running attempt, the pending commands.

    An attempt that is no longer current (or a trial no longer running) learns where the trial
    is now and changes nothing, so its trainer stops; the current running attempt polled
    without its claim gets 409."""
    trial = get(session, trial_id)
    if lifecycle.fenced(session, trial_id, attempt, claim):
        return PollAnswer(
            state="running", attempt=attempt, commands=deliver(session, trial_id, applied)
        )
    session.refresh(trial)
    if trial.attempt == attempt and trial.state == "running":
        raise lifecycle.refusal(session, trial_id, attempt, claim)
    return PollAnswer(state=trial.state, attempt=trial.attempt, commands=[])  # type: ignore[arg-type]
