"""Panda mode's commands to one trial: set, pause, resume, stop.

What the api can decide alone happens at once (pause of a queued trial, resume, stop); what
needs the trainer (set, pause of a running trial) waits as ``pending`` until the training
process acknowledges it, in a report, a poll or its pause. Every state change is a conditional
UPDATE, so a command racing a worker's own writes never leaves both applied.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import Checkpoint, Trial, TrialCommand, TrialReport
from api.errors import Conflict, FieldError
from api.studies.scheduling import lock, top_up
from api.trials import fence
from api.trials.service import get
from caviar.schemas import Applied, CommandCreate, CommandPublic, PollAnswer
from caviar.states import FINISHED_STATES, UNFINISHED
from caviar.trainer_params import LIVE_PARAMS, parse_hyperparams


def public(c: TrialCommand) -> CommandPublic:
    return CommandPublic(
        id=c.id,
        trial_id=c.trial_id,
        action=c.action,  # type: ignore[arg-type]
        params=c.params,
        note=c.note,
        author=c.author,
        state=c.state,  # type: ignore[arg-type]
        created_at=c.created_at,
        applied_at=c.applied_at,
        applied_step=c.applied_step,
        reason=c.reason,
    )


def check_live(params: dict[str, object], field: str = "params") -> None:
    """422 naming the first hyperparameter that cannot change while training, or is invalid."""
    for name, value in params.items():
        if name not in LIVE_PARAMS:
            raise FieldError((field, name), f"{name} can't change while training; fork instead")
        try:
            parse_hyperparams({name: value})
        except ValueError as exc:
            raise FieldError((field, name), str(exc)) from exc


def latest_report(session: Session, trial_id: int) -> TrialReport | None:
    """The last report of the trial's served curve (its latest attempt's highest step)."""
    return session.scalars(
        select(TrialReport)
        .where(TrialReport.trial_id == trial_id)
        .order_by(TrialReport.attempt.desc(), TrialReport.step.desc())
        .limit(1)
    ).first()


def create(
    session: Session, trial_id: int, body: CommandCreate
) -> tuple[TrialCommand, list[Trial]]:
    """Record a command and carry out what needs no trainer. Returns the command and the
    trials to dispatch after commit (a resumed trial, the study's next ones after a stop)."""
    trial = get(session, trial_id)
    if trial.state in FINISHED_STATES:
        raise Conflict(
            f"trial {trial_id} is {trial.state}; a finished trial takes no commands",
            field="state",
        )
    if body.action == "set":
        if not body.params:
            raise FieldError(("params",), "set needs at least one hyperparameter")
        check_live(body.params)
    elif body.params:
        raise FieldError(("params",), f"{body.action} takes no params")
    command = TrialCommand(
        created_at=db_now(),  # to the millisecond (SQLite's CURRENT_TIMESTAMP keeps seconds)
        trial_id=trial_id,
        action=body.action,
        params=body.params,
        note=body.note,
        author=body.author,
        state="pending",
    )
    to_dispatch: list[Trial] = []
    if body.action == "pause":
        _pause(session, trial, command)
    elif body.action == "resume":
        to_dispatch = _resume(session, trial, command)
    elif body.action == "stop":
        to_dispatch = _stop(session, trial, command)
    session.add(command)
    session.flush()
    session.refresh(command)
    return command, to_dispatch


def _applied_now(session: Session, command: TrialCommand, step: int | None) -> None:
    command.state = "applied"
    command.applied_at = db_now()
    command.applied_step = step


def _pause(session: Session, trial: Trial, command: TrialCommand) -> None:
    if trial.state == "paused":
        raise Conflict(f"trial {trial.id} is already paused", field="state")
    won = session.execute(
        update(Trial)
        .where(Trial.id == trial.id, Trial.state == "queued")
        .values(state="paused", heartbeat_at=None)
    ).rowcount
    if won:  # it never ran (this attempt): its queued message will find it paused and skip
        report = latest_report(session, trial.id)
        _applied_now(session, command, report.step if report else None)
    # else: running; the trainer pauses before its next mini-batch and acknowledges


def _resume(session: Session, trial: Trial, command: TrialCommand) -> list[Trial]:
    won = session.execute(
        update(Trial)
        .where(Trial.id == trial.id, Trial.state == "paused", Trial.attempt == trial.attempt)
        .values(**fence.next_attempt(trial.attempt))
    ).rowcount
    if not won:
        raise Conflict(f"trial {trial.id} is {trial.state}, not paused", field="state")
    session.refresh(trial)
    report = latest_report(session, trial.id)
    _applied_now(session, command, report.step if report else None)
    return [trial]


def _stop(session: Session, trial: Trial, command: TrialCommand) -> list[Trial]:
    """Finish now: completed with the latest reported value (cancelled if it has none)."""
    study = lock(session, trial.study_id)
    report = latest_report(session, trial.id)
    values = (
        {"state": "completed", "value": report.value}
        if report is not None
        else {"state": "cancelled", "value": None}
    )
    won = session.execute(
        update(Trial)
        .where(Trial.id == trial.id, Trial.state.in_(UNFINISHED))
        .values(**values, finished_at=db_now())
    ).rowcount
    if not won:
        session.refresh(trial)
        raise Conflict(f"trial {trial.id} is already {trial.state}", field="state")
    session.refresh(trial)
    close_pending(session, trial.id, "the trial was stopped")
    _applied_now(session, command, report.step if report else None)
    return top_up(session, study)


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
    """Acknowledge ``applied`` and answer the commands still pending."""
    acknowledge(session, trial_id, applied)
    return [public(c) for c in pending(session, trial_id)]


def paused(
    session: Session, trial_id: int, attempt: int, step: int, applied: Sequence[Applied]
) -> Trial:
    """The trainer of ``attempt`` stopped for a pause and saved its checkpoint: the trial is
    ``paused``, holding no worker. 409 when the attempt is stale or the trial not running."""
    trial = get(session, trial_id)
    if not fence.fenced(session, trial_id, attempt, state="paused", heartbeat_at=None):
        raise fence.refusal(session, trial_id, attempt)
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


def list_for(session: Session, trial_id: int) -> list[TrialCommand]:
    get(session, trial_id)
    return list(
        session.scalars(
            select(TrialCommand).where(TrialCommand.trial_id == trial_id).order_by(TrialCommand.id)
        )
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


def close_pending(session: Session, trial_id: int, reason: str) -> None:
    """Reject the commands a finished trial will never apply."""
    session.execute(
        update(TrialCommand)
        .where(TrialCommand.trial_id == trial_id, TrialCommand.state == "pending")
        .values(state="rejected", applied_at=db_now(), reason=reason)
    )


def poll(session: Session, trial_id: int, attempt: int, applied: Sequence[Applied]) -> PollAnswer:
    """A training process between reports: beat the heart, acknowledge ``applied``, answer the
    trial's state and attempt and, for the current running attempt, the pending commands."""
    trial = get(session, trial_id)
    commands: list[CommandPublic] = []
    if fence.fenced(session, trial_id, attempt):
        commands = deliver(session, trial_id, applied)
    else:  # the answer says where the trial is now (a requeue may have just won)
        session.refresh(trial)
    return PollAnswer(state=trial.state, attempt=trial.attempt, commands=commands)  # type: ignore[arg-type]
