"""A worker told to stop stops. On the embedded SQLite broker, Celery's blocking loop looks at
its shutdown flags only between two waits for messages, so each wait must be short: it was
2 s, and a stopped worker sat out two of them, about 4 s at every stop, idle or busy."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from kombu import Connection, Queue

from caviar.client import Client
from tests.services import Backend, api_server, backend, wait_for, worker_process


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[tuple[Backend, str]]:
    with backend("sqlite", tmp_path) as be, api_server(be) as url:
        yield be, url


def test_workers_consume_the_sqlite_broker_with_short_waits(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        code = "from worker.celery_app import app; print(app.conf.broker_transport)"
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=be.worker_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == "worker.transport:SQLTransport"

        from worker.transport import SQLTransport

        conn = Connection(be.broker_url.removeprefix("sqla+"), transport=SQLTransport)
        with conn, conn.Consumer(Queue("caviar.test.empty"), callbacks=[lambda *_: None]):
            started = time.monotonic()
            with pytest.raises(socket.timeout):
                conn.drain_events(timeout=2.0)  # what Celery's loop asks for
            assert time.monotonic() - started < 1.0


def test_an_idle_worker_stops_within_seconds(sqlite_api: tuple[Backend, str]) -> None:
    be, url = sqlite_api
    with worker_process(be, url, concurrency=1) as w:
        deadline = time.monotonic() + 60
        while " ready." not in w.output():
            assert time.monotonic() < deadline, w.output()
            time.sleep(0.1)
        started = time.monotonic()
        w.stop(signal.SIGQUIT)  # what worker_process does at the end of every test
        took = time.monotonic() - started
    assert w.proc.returncode == 0, w.output()[-2000:]
    assert took < 3.5, f"the worker took {took:.1f} s to stop:\n{w.output()[-2000:]}"


def test_ctrl_backslash_to_the_whole_group_stops_a_worker_that_has_worked(
    sqlite_api: tuple[Backend, str],
) -> None:
    """Ctrl+\\ in a terminal sends SIGQUIT to every process of the group, the pool's included.
    A pool process that died of it holding the pool's queue lock left the main process waiting
    for that lock at exit (about one stop in three hung, until killed)."""
    be, url = sqlite_api
    body = {
        "name": "quick",
        "objective": {"kind": "function", "name": "quadratic"},
        "space": {"w": {"type": "float", "low": -10, "high": 20}},
        "max_trials": 8,
        "parallelism": 4,
    }
    for round_ in range(3):
        with worker_process(be, url, concurrency=2) as w, Client(url) as c:
            study = c.create_study({**body, "name": f"quick-{round_}"})
            wait_for(partial(_completed, c, study.id), 60, "the study", log=w)
            time.sleep(0.5)
            os.killpg(w.proc.pid, signal.SIGQUIT)
            try:
                w.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail(f"round {round_}: the worker hung after Ctrl+\\:\n{w.output()[-2000:]}")


def _completed(c: Client, study_id: int) -> bool:
    return c.study(study_id).status == "completed"
