"""A study flows end to end: REST → database → Celery worker → REST, on every backend.

Real processes throughout: the api (uvicorn on a free port) and a ``celery worker``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from caviar.client import Client
from tests.services import Backend, api_server, backend, wait_for, worker_process

QUADRATIC = {
    "name": "quadratic",
    "objective": {"kind": "function", "name": "quadratic"},
    "space": {"w": {"type": "float", "low": -10, "high": 20}},
    "max_trials": 30,
    "parallelism": 4,
    "seed": 3,
}


def test_quadratic_study_finds_w_near_5(be: Backend, api_url: str) -> None:
    with worker_process(be, api_url, concurrency=2) as worker, Client(api_url) as c:
        sid = c.create_study(QUADRATIC).id
        wait_for(
            lambda: c.study(sid).status == "completed", 90, "the study to complete", log=worker
        )
        s = c.study(sid)
        assert s.counts["completed"] == 30 and s.counts["failed"] == 0
        assert s.best is not None and abs(s.best.params["w"] - 5) < 1.0
        assert s.best.value == pytest.approx((s.best.params["w"] - 5) ** 2)
        trials = c.trials(sid).data
        assert sorted(t.number for t in trials) == list(range(30))
        assert all(t.started_at and t.finished_at for t in trials)


def test_a_failing_objective_fails_the_trial_without_retry(be: Backend, api_url: str) -> None:
    """J(w) overflows to inf for huge |w|: each trial fails once with the error, no retry.
    (The space's centre, w = 0, is finite, so creation accepts the study.)"""
    body = {
        **QUADRATIC,
        "name": "overflow",
        "max_trials": 3,
        "space": {"w": {"type": "float", "low": -1e300, "high": 1e300}},
    }
    with worker_process(be, api_url, concurrency=2), Client(api_url) as c:
        sid = c.create_study(body).id
        wait_for(lambda: c.study(sid).status == "completed", 60, "the study to complete")
        trials = c.trials(sid).data
        assert [t.state for t in trials] == ["failed"] * 3
        assert all(t.attempt == 1 and "not finite" in (t.error or "") for t in trials)


@pytest.fixture
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with backend("sqlite", tmp_path_factory.mktemp("lost")) as b:
        yield b


def test_lost_messages_are_sent_again(sqlite_backend: Backend) -> None:
    """The broker loses every message (a restart without persistence); the reconciler
    notices that the queued trials never started and sends them again."""
    be = sqlite_backend
    with (
        api_server(be, CAVIAR_RECONCILE_INTERVAL="0.3", CAVIAR_REDISPATCH_AFTER="2") as url,
        Client(url) as c,
    ):
        sid = c.create_study({**QUADRATIC, "max_trials": 6, "parallelism": 3}).id
        broker = sqlite3.connect(be.broker_url.removeprefix("sqla+sqlite:///"))
        wait_for(
            lambda: broker.execute("SELECT count(*) FROM kombu_message").fetchone()[0] >= 3,
            10,
            "the first messages",
        )
        broker.execute("DELETE FROM kombu_message")
        broker.commit()
        broker.close()
        with worker_process(be, url, concurrency=2):
            wait_for(lambda: c.study(sid).status == "completed", 60, "the study to complete")
        assert c.study(sid).counts["completed"] == 6
