"""The reconciler against a real database: a heartbeat that lands between the reaper's read
and its write keeps its attempt; requeues are recorded with their reasons; a trial failed for
silence rejects its pending commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.migrate import upgrade
from api.db.models import Checkpoint, CheckpointBlob, Trial, TrialCommand, TrialEvent
from api.db.session import Database
from api.studies import service as study_service
from api.trials.dispatch import Dispatcher
from api.trials.reconciler import reap_silent
from caviar.schemas import StudyCreate, TrialDispatch
from tests.services import backend


class Sent:
    """A sender that keeps the messages it is given (the broker is not under test here)."""

    def __init__(self) -> None:
        self.messages: list[TrialDispatch] = []

    def send(self, message: TrialDispatch) -> None:
        self.messages.append(message)


class HeartbeatAfterRead(Database):
    """The database, with a worker's heartbeat landing right after every read session: the
    moment between the reaper's read and its conditional write."""

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with super().read_session() as s:
            yield s
        with self.session() as w:
            w.execute(update(Trial).values(heartbeat_at=db_now()))
            w.commit()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend(request.param, tmp_path) as be:
        upgrade(be.database_url)
        yield be.database_url


def silent_trial(db: Database, max_attempts: int = 3) -> int:
    """A running trial of a worker-run study whose last heartbeat is an hour old."""
    config = StudyCreate.model_validate(
        {
            "name": "reap",
            "objective": {"kind": "function", "name": "quadratic"},
            "space": {"w": {"type": "float", "low": -1, "high": 1}},
            "max_trials": 1,
            "parallelism": 1,
            "heartbeat_grace": 5,
            "max_attempts": max_attempts,
        }
    )
    with db.session() as s:
        _, [trial] = study_service.create(s, config)
        s.execute(
            update(Trial)
            .where(Trial.id == trial.id)
            .values(state="running", heartbeat_at=db_now(), worker="w@host:1")
        )
        s.commit()
        trial_id = trial.id
    with db.session() as s:  # an hour of silence, on the database's clock
        old = s.scalar(select(Trial.heartbeat_at).where(Trial.id == trial_id))
        assert old is not None
        s.execute(
            update(Trial)
            .where(Trial.id == trial_id)
            .values(heartbeat_at=old.replace(year=old.year - 1))
        )
        s.commit()
    return trial_id


def test_a_heartbeat_between_read_and_write_keeps_its_attempt(url: str) -> None:
    db = HeartbeatAfterRead(url)
    try:
        trial_id = silent_trial(db)
        sender = Sent()
        result = reap_silent(db, Dispatcher(db, sender))
        assert (result.requeued, result.failed, sender.messages) == (0, 0, [])
        with db.read_session() as s:
            trial = s.get_one(Trial, trial_id)
            assert (trial.state, trial.attempt) == ("running", 1)
    finally:
        db.dispose()


def test_a_silent_trial_is_requeued_and_the_event_recorded(url: str) -> None:
    db = Database(url)
    try:
        trial_id = silent_trial(db)
        sender = Sent()
        result = reap_silent(db, Dispatcher(db, sender))
        assert result.requeued == 1
        assert [(m.trial_id, m.attempt) for m in sender.messages] == [(trial_id, 2)]
        with db.read_session() as s:
            [event] = s.scalars(select(TrialEvent)).all()
            assert (event.trial_id, event.attempt, event.kind, event.worker) == (
                trial_id,
                1,
                "requeued",
                "w@host:1",
            )
            assert "no heartbeat for 5 s" in event.reason
    finally:
        db.dispose()


def test_a_trial_failed_for_silence_rejects_its_pending_commands(url: str) -> None:
    db = Database(url)
    try:
        trial_id = silent_trial(db, max_attempts=1)
        with db.session() as s:
            s.add(TrialCommand(trial_id=trial_id, action="pause", params={}))
            s.commit()
        assert reap_silent(db, Dispatcher(db, Sent())).failed == 1
        with db.read_session() as s:
            [command] = s.scalars(select(TrialCommand)).all()
            assert command.state == "rejected"
            assert command.reason is not None and "no heartbeat" in command.reason
    finally:
        db.dispose()


def test_a_requeue_reopens_the_sets_its_checkpoint_does_not_hold(url: str) -> None:
    """Attempt 1 saved its checkpoint at step 2, then applied two sets at steps 2 and 3 (the
    step is the first report that shows the change) and died. Attempt 2 resumes from step 2:
    the set of step 3 goes back to pending; the one the checkpoint holds, a refused one and a
    pause stay as they were."""
    db = Database(url)
    try:
        trial_id = silent_trial(db)
        with db.session() as s:
            s.add(CheckpointBlob(sha256="0" * 64, size=0, content=b""))
            s.flush()
            s.add(Checkpoint(trial_id=trial_id, attempt=1, step=2, sha256="0" * 64))
            commands = [
                TrialCommand(trial_id=trial_id, action="set", params={"lr": 1}, applied_step=2),
                TrialCommand(trial_id=trial_id, action="set", params={"lr": 2}, applied_step=3),
                TrialCommand(trial_id=trial_id, action="set", params={"x": 1}, applied_step=3),
                TrialCommand(trial_id=trial_id, action="pause", params={}, applied_step=3),
            ]
            states = ["applied", "applied", "rejected", "applied"]
            for c, state in zip(commands, states, strict=True):
                c.state, c.applied_at = state, db_now()
            s.add_all(commands)
            s.commit()
        assert reap_silent(db, Dispatcher(db, Sent())).requeued == 1
        with db.read_session() as s:
            rows = s.scalars(select(TrialCommand).order_by(TrialCommand.id)).all()
            assert [(c.state, c.applied_step) for c in rows] == [
                ("applied", 2),
                ("pending", None),
                ("rejected", 3),
                ("applied", 3),
            ]
    finally:
        db.dispose()
