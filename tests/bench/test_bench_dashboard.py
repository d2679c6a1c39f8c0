"""The dashboard bench's bulk-inserted study matches the current schema, and the api serves it
as the bench's page would load it."""

from __future__ import annotations

import sys
from pathlib import Path

from api.db.migrate import upgrade
from caviar.client import Client
from tests.services import api_server, backend

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_dashboard


def test_the_bench_study_is_served(tmp_path: Path) -> None:
    trials = bench_dashboard.synthesize(200)
    with backend("sqlite", tmp_path) as be:
        upgrade(be.database_url)
        sid = bench_dashboard.insert_caviar(be.database_url, 200, trials)
        with api_server(be) as url, Client(url) as c:
            study = c.study(sid)
            assert study.counts["completed"] + study.counts["pruned"] == 200
            assert study.counts["pruned"] > 0
            first = c.trials(sid).data[0]
            curve = c.reports(first.id).data
            assert [r.step for r in curve] == list(range(len(trials.curve(0))))
            assert {r.attempt for r in curve} == {1}
