"""The reconciler against a real database: a heartbeat that lands between the reaper's read
and its write keeps its attempt; requeues are recorded with their reasons; a trial failed for
silence rejects its pending commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
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
from api.trials.reconciler import LostMessages, reap_silent
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


class NoDepth(Sent):
    """A broker that says how many messages wait: none (every sent message is missing)."""

    def queue_depth(self) -> int:
        return 0


def queued_trials(db: Database, sender: Sent, n: int) -> list[int]:
    """``n`` queued trials of a worker-run study (grace 5 s), sent through ``sender``."""
    config = StudyCreate.model_validate(
        {
            "name": "lost",
            "objective": {"kind": "function", "name": "quadratic"},
            "space": {"w": {"type": "float", "low": -1, "high": 1}},
            "max_trials": n,
            "parallelism": n,
            "heartbeat_grace": 5,
        }
    )
    with db.session() as s:
        _, trials = study_service.create(s, config)
        s.commit()
    Dispatcher(db, sender).dispatch(trials)
    return [t.id for t in trials]


def sent_ago(db: Database, ids: list[int], seconds: float) -> datetime:
    """Move the trials' sends ``seconds`` back on the database's clock; returns now."""
    with db.session() as s:
        now = s.scalar(select(Trial.dispatched_at).where(Trial.id == ids[0]))
        assert now is not None
        s.execute(
            update(Trial)
            .where(Trial.id.in_(ids))
            .values(dispatched_at=now - timedelta(seconds=seconds))
        )
        s.commit()
    return now


def workers_heard(db: Database, now: datetime, silent: dict[str, float]) -> None:
    """Workers who finished a trial of a grace-5 s study ``silent[name]`` seconds ago."""
    ids = queued_trials(db, Sent(), len(silent))
    with db.session() as s:
        for trial_id, (name, seconds) in zip(ids, silent.items(), strict=True):
            at = now - timedelta(seconds=seconds)
            s.execute(
                update(Trial)
                .where(Trial.id == trial_id)
                .values(state="completed", worker=name, started_at=at, finished_at=at)
            )
        s.commit()


def resend_reasons(db: Database, ids: list[int]) -> list[str]:
    with db.read_session() as s:
        return list(
            s.scalars(
                select(TrialEvent.reason)
                .where(TrialEvent.trial_id.in_(ids), TrialEvent.kind == "resent")
                .order_by(TrialEvent.id)
            )
        )


def test_a_resend_says_whether_a_worker_went_offline_since_its_message_was_sent(
    url: str,
) -> None:
    """A missing message is resent with what happened: a worker online when it was sent went
    offline since (named), or no worker did; never a guess at a broker restart."""
    db = Database(url)
    try:
        sender = NoDepth()
        ids = queued_trials(db, sender, 2)
        lost = LostMessages(after=1000)
        assert lost.run(db, Dispatcher(db, sender)) == 0  # one pass short: not believed yet
        assert lost.run(db, Dispatcher(db, sender)) == 2
        assert [r.split(";")[1] for r in resend_reasons(db, ids)] == [
            " no worker went offline since it was sent"
        ] * 2
        assert all(
            r.startswith("its message was missing: the broker queue held 0")
            for r in resend_reasons(db, ids)
        )

        now = sent_ago(db, ids, 60)
        # online a minute ago and silent for 20 s (past its 5 s window); gone for an hour
        # before the send; heard of just now
        workers_heard(db, now, {"gone@host:1": 20, "ancient@host:2": 3600, "live@host:3": 0})
        assert lost.run(db, Dispatcher(db, sender)) == 2
        latest = resend_reasons(db, ids)[2:]
        assert (
            latest
            == [
                "its message was missing: the broker queue held 0 messages for 2 queued trials on "
                "two passes in a row; gone@host:1 went offline since it was sent, likely holding it"
            ]
            * 2
        )
    finally:
        db.dispose()


def test_a_message_not_delivered_in_time_says_how_long_it_waited(url: str) -> None:
    """Without a measured queue depth, an overdue message is resent with its wait."""
    db = Database(url)
    try:
        sender = Sent()
        [trial_id] = queued_trials(db, sender, 1)
        sent_ago(db, [trial_id], 60)
        assert LostMessages(after=30).run(db, Dispatcher(db, sender)) == 1
        assert resend_reasons(db, [trial_id]) == [
            "its message was not delivered in 30 s; no worker went offline since it was sent"
        ]
    finally:
        db.dispose()
