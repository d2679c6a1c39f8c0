"""Panda mode's commands to one trial: set, pause, resume, stop.

What the api can decide alone happens at once (pause of a queued trial, resume, stop); what
needs the trainer (set, pause of a running trial) waits as ``pending`` until the training
process acknowledges it (``trials.delivery``). Every change of the trial's state is a
transition of ``trials.lifecycle``, so a command racing a worker's own writes never leaves both
applied. A command takes the trial's row lock before it looks at the trial's state: a tell that
finishes the trial meanwhile then closes it too, and no command is left pending forever.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import Trial, TrialCommand
from api.errors import Conflict, FieldError
from api.trials import hooks, lifecycle
from api.trials.service import get
from api.trials.study import lock
from caviar.schemas import CommandCreate
from caviar.states import FINISHED_STATES
from caviar.trainer_params import LIVE_PARAMS, parse_hyperparams

#: Commands a trial may have waiting for its trainer at once: past it, a new one is refused
#: (409) until the trainer catches up, so a poll's answer stays small.
MAX_PENDING = 100


def check_live(params: dict[str, object], field: str = "params") -> None:
    """422 naming the first hyperparameter that cannot change while training, or is invalid."""
    for name, value in params.items():
        if name not in LIVE_PARAMS:
            raise FieldError((field, name), f"{name} can't change while training; fork instead")
        try:
            parse_hyperparams({name: value})
        except ValueError as exc:
            raise FieldError((field, name), str(exc)) from exc


def _locked_trial(session: Session, trial_id: int) -> Trial:
    """The trial, holding its row lock until commit (after the study's, when taken)."""
    get(session, trial_id)
    query = select(Trial).where(Trial.id == trial_id).with_for_update(key_share=True)
    return session.scalars(query.execution_options(populate_existing=True)).one()


def create(
    session: Session, trial_id: int, body: CommandCreate
) -> tuple[TrialCommand, list[Trial]]:
    """Record a command and carry out what needs no trainer. Returns the command and the
    trials to dispatch after commit (a resumed trial, the study's next ones after a stop)."""
    if body.action == "set":
        if not body.params:
            raise FieldError(("params",), "set needs at least one hyperparameter")
        check_live(body.params)
    elif body.params:
        raise FieldError(("params",), f"{body.action} takes no params")
    study = lock(session, get(session, trial_id).study_id) if body.action == "stop" else None
    trial = _locked_trial(session, trial_id)
    if trial.state in FINISHED_STATES:
        raise Conflict(
            f"trial {trial_id} is {trial.state}; a finished trial takes no commands",
            field="state",
        )
    waiting = session.scalar(
        select(func.count()).where(
            TrialCommand.trial_id == trial_id, TrialCommand.state == "pending"
        )
    )
    if (waiting or 0) >= MAX_PENDING:
        raise Conflict(
            f"trial {trial_id} has {waiting} commands waiting for its trainer; send more "
            "once it has applied them",
            field="action",
        )
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
        if trial.state == "paused":
            raise Conflict(f"trial {trial.id} is already paused", field="state")
        if lifecycle.pause_queued(session, trial):  # no worker holds it: paused at once
            _applied_now(session, command)
        # else: running; the trainer pauses before its next mini-batch and acknowledges
    elif body.action == "resume":
        lifecycle.resume(session, trial)
        _applied_now(session, command)
        to_dispatch = [trial]
    elif body.action == "stop":
        assert study is not None
        report = lifecycle.stop(session, trial)
        command.state, command.applied_at = "applied", db_now()
        command.applied_step = report.step if report else None
        to_dispatch = hooks.refill(session, study)
    session.add(command)
    session.flush()
    session.refresh(command)
    return command, to_dispatch


def _applied_now(session: Session, command: TrialCommand) -> None:
    report = lifecycle.latest_report(session, command.trial_id)
    command.state = "applied"
    command.applied_at = db_now()
    command.applied_step = report.step if report else None


def list_for(session: Session, trial_id: int) -> list[TrialCommand]:
    get(session, trial_id)
    return list(
        session.scalars(
            select(TrialCommand).where(TrialCommand.trial_id == trial_id).order_by(TrialCommand.id)
        )
    )
