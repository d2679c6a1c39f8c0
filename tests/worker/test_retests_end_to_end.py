"""Re-test rounds through real workers: a new dataset version starts a round by itself on that
version; a seconds-scale schedule fires rounds on time, once each, with two api processes on
one PostgreSQL database."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from caviar.client import Client
from tests.services import Backend, api_server, backend, wait_for, worker_process


@pytest.fixture(scope="module")
def be(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """SQLite only: PostgreSQL runs rounds through workers in the two-api test below."""
    with backend("sqlite", tmp_path_factory.mktemp("retest-data")) as b:
        yield b


def labelled(seed: int, feature: int, rows: int = 80) -> bytes:
    """Two gaussian features; the label is the sign of ``feature`` (0 or 1)."""
    x = np.random.default_rng(seed).normal(size=(rows, 2))
    lines = ["x1,x2,label"] + [
        f"{a:.4f},{b:.4f},{'up' if (a, b)[feature] > 0 else 'down'}" for a, b in x
    ]
    return ("\n".join(lines) + "\n").encode()


def test_new_dataset_version_starts_a_round_on_it(be: Backend, api_url: str) -> None:
    name = f"drift-{be.name}"
    with Client(api_url) as c, worker_process(be, api_url) as w:
        c.upload_dataset(name, labelled(1, feature=0))
        sid = c.create_study(
            {
                "name": "drifting data",
                "objective": {
                    "kind": "train",
                    "dataset": name,
                    "epochs": 3,
                    "fixed": {"hidden_units": 16, "layers": 1},
                },
                "space": {
                    "learning_rate": {"type": "float", "low": 1e-3, "high": 0.3, "scale": "log"}
                },
                "max_trials": 4,
                "parallelism": 2,
                "seed": 9,
                "retest": {"on_new_data": True, "top_k": 2, "repeats": 2, "explore": 1},
            }
        ).id
        wait_for(lambda: c.study(sid).status == "completed", 120, "the study", log=w)
        assert c.retests(sid).count == 0  # no schedule: nothing until the data changes
        v2 = c.upload_dataset(name, labelled(2, feature=1))  # labels now follow x2
        assert v2.version == 2
        wait_for(lambda: c.retests(sid).count == 1, 15, "a round started by the upload", log=w)

        def finished() -> bool:
            return c.retests(sid).data[0].state == "finished"

        wait_for(finished, 120, "the round to finish", log=w)
        [r] = c.retests(sid).data
        assert r.trigger == "new_data" and r.dataset == f"{name}@2"
        assert r.verdict in ("fresh", "stale") and r.reason
        assert [x.origin for x in r.results] == ["champion", "top_k", "explore"]
        for x in r.results:
            assert x.n == 2 and x.mean is not None and x.se is not None
        assert r.champion is not None
        s = c.study(sid)
        assert s.status == "completed" and s.counts["completed"] == 4  # the search's own
        retested = [t for t in c.trials(sid).data if t.retest_round == r.id]
        assert len(retested) == 6 and all(t.state == "completed" for t in retested)
        assert s.stale == (r.verdict == "stale")
        assert s.champion is not None and s.champion.value == pytest.approx(r.champion.mean)
        # The round's trials trained on the new version: the worker fetched it by its hash.
    assert (Path(be.data_dir) / "datasets" / f"{v2.sha256}.csv").exists()


QUADRATIC = {
    "name": "scheduled",
    "objective": {"kind": "function", "name": "quadratic"},
    "space": {"w": {"type": "float", "low": -10, "high": 20}},
    "max_trials": 6,
    "parallelism": 3,
    "seed": 4,
}


@pytest.mark.postgres
@pytest.mark.redis
def test_schedule_fires_once_per_period_with_two_apis(tmp_path: Path) -> None:
    every = 2.0
    fast = {"CAVIAR_RETEST_INTERVAL": "0.2", "CAVIAR_RECONCILE_INTERVAL": "0.5"}
    with (
        backend("postgres", tmp_path) as be,
        api_server(be, **fast) as first,
        api_server(be, **fast) as second,
        worker_process(be, first) as w,
        Client(first) as a,
        Client(second) as b,
    ):
        sid = a.create_study(QUADRATIC).id
        wait_for(lambda: a.study(sid).status == "completed", 60, "the study", log=w)
        s = b.update_study(sid, retest={"every": "2s", "top_k": 1, "repeats": 2, "explore": 0})
        assert s.next_retest_at is not None

        def rounds_done(n: int) -> bool:
            data = b.retests(sid).data
            return len(data) >= n and all(r.state == "finished" for r in data[-n:])

        wait_for(lambda: rounds_done(3), 40, "three scheduled rounds", log=w)
        rounds = sorted(a.retests(sid).data, key=lambda r: r.number)
    assert [r.number for r in rounds] == list(range(1, len(rounds) + 1))
    assert all(r.trigger == "schedule" for r in rounds)
    assert rounds[0].created_at >= s.next_retest_at - timedelta(seconds=0.01)
    for before, after in itertools.pairwise(rounds):
        gap = (after.created_at - before.created_at).total_seconds()
        assert gap >= every - 0.01, f"round {after.number} fired {gap:.2f} s after the last"
        assert before.finished_at is not None and after.created_at >= before.finished_at
        assert gap < 4 * every, f"round {after.number} came {gap:.2f} s late"
    for r in rounds:
        assert r.verdict == "fresh", r.reason  # quadratic is deterministic: nothing drifts
