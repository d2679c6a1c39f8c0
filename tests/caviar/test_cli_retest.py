"""``caviar study schedule|retest|retests`` against a real api."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from caviar.client import Client
from tests.api.test_retests import external, run_out
from tests.services import ROOT, Backend, backend, wait_for


@pytest.fixture(scope="module")
def be(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """SQLite only: the commands only talk REST; both backends are covered by tests/api."""
    with backend("sqlite", tmp_path_factory.mktemp("cli-retest")) as b:
        yield b


def caviar(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caviar.cli", "study", "--api", api_url, *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_schedule_retest_and_list_rounds(api_url: str, client: Client) -> None:
    sid = client.create_study(external(max_trials=4)).id
    run_out(client, sid, lambda x: (x - 0.5) ** 2)

    out = caviar(api_url, "schedule", str(sid), "--every", "7d", "--top-k", "3")
    assert out.returncode == 0, out.stderr
    assert "every 7d" in out.stdout and "top 3" in out.stdout and "next " in out.stdout
    s = client.study(sid)
    assert s.retest is not None and (s.retest.every, s.retest.top_k) == ("7d", 3)

    out = caviar(api_url, "schedule", str(sid), "--top-k", "9")
    assert out.returncode != 0 and "retest.top_k" in out.stderr
    out = caviar(api_url, "schedule", str(sid), "--on-new-data")
    assert out.returncode != 0 and "retest.on_new_data" in out.stderr

    out = caviar(api_url, "retest", str(sid))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("round 1 (manual") and "champion" in out.stdout
    out = caviar(api_url, "retest", str(sid))
    assert out.returncode != 0 and "still running" in out.stderr

    out = caviar(api_url, "retests", str(sid))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"study {sid}: re-test every 7d")
    assert lines[1].startswith("round 1 (manual") and "running" in lines[1]
    assert sum(" explore " in line for line in lines) == 2

    out = caviar(api_url, "schedule", str(sid), "--off")
    assert out.returncode == 0 and "no re-test schedule" in out.stdout


def test_study_show_says_stale_and_next_retest(api_url: str, client: Client) -> None:
    sid = client.create_study(external(max_trials=4)).id
    run_out(client, sid, lambda x: (x - 0.5) ** 2)
    out = caviar(api_url, "show", str(sid))
    assert out.returncode == 0, out.stderr
    assert "next re-test" in out.stdout and "no schedule" in out.stdout
    client.update_study(sid, retest={"every": "7d", "top_k": 1, "repeats": 2, "explore": 0})
    client.start_retest(sid)
    run_out(client, sid, lambda x: (x - 0.5) ** 2 + 5.0)  # worse everywhere: still fresh
    wait_for(lambda: client.retests(sid).data[0].state == "finished", 30, "the round")
    due = client.study(sid).next_retest_at
    assert due is not None
    out = caviar(api_url, "show", str(sid))
    assert out.returncode == 0, out.stderr
    assert f"{due:%Y-%m-%d %H:%M:%S} UTC (every 7d)" in out.stdout
    assert "champion" in out.stdout and "stale" in out.stdout
    assert re.search(r"\bstale\W+no\b", out.stdout), out.stdout
