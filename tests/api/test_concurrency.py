"""Concurrent requests: eight clients ask and tell on one external study at once (unique trial
numbers, no lost tells, no deadlock); a cancel racing a tell; two uploads of one dataset name —
on every backend."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx

from caviar.client import Client
from tests.api.test_datasets import csv

CLIENTS, ROUNDS = 8, 10


def test_eight_clients_ask_and_tell_at_once(api_url: str) -> None:
    with Client(api_url) as c:
        sid = c.create_study(
            {
                "name": "race",
                "objective": {"kind": "external"},
                "space": {"x": {"type": "float", "low": 0, "high": 1}},
                "max_trials": CLIENTS * ROUNDS * 2,
            }
        ).id

    def worker(k: int) -> list[tuple[int, int, float]]:
        told = []
        with Client(api_url, timeout=30) as c:
            for i in range(ROUNDS):
                for t in c.ask(sid, 2 if i % 2 else 1):
                    value = t.params["x"] + k
                    c.report(t.id, 1, 0, value)
                    c.tell(t.id, 1, "completed", value)
                    told.append((t.id, t.number, value))
        return told

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(worker, k) for k in range(CLIENTS)]]
    told = [x for r in results for x in r]
    numbers = [n for _, n, _ in told]
    assert len(numbers) == len(set(numbers)) == CLIENTS * ROUNDS * 3 // 2
    assert sorted(numbers) == list(range(len(numbers)))
    with Client(api_url) as c:
        stored = {t.id: t for t in c.trials(sid, limit=10_000).data}
        assert len(stored) == len(told)
        for trial_id, _, value in told:
            assert stored[trial_id].state == "completed" and stored[trial_id].value == value
        assert c.study(sid).counts["completed"] == len(told)


def at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run the calls in threads released together by a barrier; their answers, in order."""
    gate = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        gate.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result(30) for f in [pool.submit(run, c) for c in calls]]


def test_cancel_racing_a_tell_never_cancels_a_completed_study(api_url: str) -> None:
    """A cancel that wins finds a trial in flight and cancels it; one that loses is 409."""
    for _ in range(12):
        with Client(api_url) as c:
            sid = c.create_study(
                {
                    "name": "cancel-race",
                    "objective": {"kind": "external"},
                    "space": {"x": {"type": "float", "low": 0, "high": 1}},
                    "max_trials": 1,
                }
            ).id
            [t] = c.ask(sid, 1)
        told, cancelled = at_once(
            partial(
                httpx.post,
                f"{api_url}/api/trials/{t.id}/tell",
                json={"attempt": 1, "state": "completed", "value": 1.0},
            ),
            partial(httpx.post, f"{api_url}/api/studies/{sid}/cancel"),
        )
        with Client(api_url) as c:
            study, trial = c.study(sid), c.trials(sid).data[0]
        if cancelled.status_code == 200:
            assert (study.status, trial.state, told.status_code) == ("cancelled", "cancelled", 409)
        else:
            assert cancelled.status_code == 409, cancelled.text
            assert (study.status, trial.state, told.status_code) == ("completed", "completed", 200)


def test_two_uploads_of_one_name_at_once_get_two_versions(api_url: str) -> None:
    for _ in range(5):
        name = f"race-{uuid.uuid4().hex[:6]}"
        answers = at_once(
            *[
                partial(
                    httpx.post,
                    f"{api_url}/api/datasets",
                    params={"name": name},
                    content=csv(shift=shift),
                    headers={"content-type": "text/csv"},
                    timeout=30,
                )
                for shift in (0.0, 1.0)
            ]
        )
        assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
        assert sorted(r.json()["version"] for r in answers) == [1, 2]
