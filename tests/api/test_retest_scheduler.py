"""The re-test scheduler's rules on a real database shared with a real api: rounds missed
while nothing ran become one catch-up round; one holder of the lease at a time; a due round
waits for the previous one of its study."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from api.db.clock import db_now
from api.db.models import SchedulerLease, Study
from api.db.session import Database
from api.retests.lease import RetestScheduler, hold_lease
from api.studies.retest_schedule import database_now
from api.trials.dispatch import Dispatcher
from caviar.client import Client
from caviar.schemas import TrialDispatch
from tests.api.test_retests import external, run_out
from tests.services import Backend, api_server, backend


class Refuse:
    """External studies send nothing to workers; a send here is a bug."""

    def send(self, message: TrialDispatch) -> None:
        raise AssertionError(f"nothing should be dispatched, got {message}")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Backend, str]]:
    with (
        backend("sqlite", tmp_path_factory.mktemp("sched")) as be,
        api_server(be, CAVIAR_RETEST_INTERVAL="3600") as url,  # its own pass stays idle
    ):
        yield be, url


@pytest.fixture(scope="module")
def db(shared: tuple[Backend, str]) -> Iterator[Database]:
    database = Database(shared[0].database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def scheduler(db: Database) -> RetestScheduler:
    """One process's scheduler pass, run by hand (it keeps the lease across the tests)."""
    return RetestScheduler(db, Dispatcher(db, Refuse()), interval=0.1)


def _scheduled_study(url: str) -> int:
    with Client(url) as c:
        sid = c.create_study(external(max_trials=3, retest={"every": "1m", "top_k": 1}))
        run_out(c, sid.id, lambda x: x)
        return sid.id


def test_missed_rounds_become_one_catch_up_round(
    shared: tuple[Backend, str], db: Database, scheduler: RetestScheduler
) -> None:
    url = shared[1]
    sid = _scheduled_study(url)
    with db.session() as s:  # everything was down for ten periods
        s.execute(
            update(Study)
            .where(Study.id == sid)
            .values(retest_next_at=database_now(s) - timedelta(minutes=10))
        )
        s.commit()
    _closed, fired = scheduler.run_once()
    assert fired == 1
    assert scheduler.run_once() == (0, 0)  # the round runs: nothing else is due
    with Client(url) as c:
        rounds = c.retests(sid).data
        assert [(r.number, r.trigger) for r in rounds] == [(1, "schedule")]
        s = c.study(sid)
        assert s.next_retest_at is not None
        ahead = (s.next_retest_at - rounds[0].created_at).total_seconds()
        assert 59 <= ahead <= 61  # the next one is a period after the catch-up, not overdue
        run_out(c, sid, lambda x: x)
    assert scheduler.run_once()[0] == 1  # closes the answered round
    with Client(url) as c:
        assert c.retests(sid).data[0].verdict == "fresh"


def test_a_due_round_waits_for_the_previous_one(
    shared: tuple[Backend, str], db: Database, scheduler: RetestScheduler
) -> None:
    url = shared[1]
    sid = _scheduled_study(url)
    with Client(url) as c:
        c.start_retest(sid)
    with db.session() as s:
        s.execute(update(Study).where(Study.id == sid).values(retest_next_at=db_now()))
        s.commit()
    assert scheduler.run_once() == (0, 0)
    with Client(url) as c:
        run_out(c, sid, lambda x: x)
    assert scheduler.run_once() == (1, 1)  # the manual round closes, then the due one fires
    with Client(url) as c:
        assert [r.trigger for r in c.retests(sid).data] == ["schedule", "manual"]


def _silence_lease(db: Database, seconds: float) -> None:
    """The holder stops renewing: its lease ages by ``seconds`` on the database's clock."""
    with db.session() as s:
        s.execute(
            update(SchedulerLease).values(renewed_at=database_now(s) - timedelta(seconds=seconds))
        )
        s.commit()


def test_one_lease_holder_until_it_goes_silent(db: Database) -> None:
    _silence_lease(db, 31)  # whoever held it before
    assert hold_lease(db, "a", ttl=30)
    assert hold_lease(db, "a", ttl=30)  # renewing
    assert not hold_lease(db, "b", ttl=30)
    with db.session() as s:  # a stops renewing: its lease ages past the ttl
        s.execute(update(SchedulerLease).values(renewed_at=database_now(s) - timedelta(seconds=31)))
        s.commit()
    assert hold_lease(db, "b", ttl=30)
    assert not hold_lease(db, "a", ttl=30)
