"""``caviar up``'s own workers keep working when a token is created while it runs: they carry
a worker token of their own (made at start, never stored), so the first token, which closes
the api to calls without one, never strands them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.services import ROOT, free_port, wait_for


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAVIAR_")}
    return {**env, "CAVIAR_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}


def _token(data_dir: Path, role: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "caviar.cli", "token", "create", "--role", role],
        env=_env(data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_token_created_while_up_runs_does_not_strand_its_workers(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "caviar.cli", "up", "--port", str(port), "--workers", "1"],
            env=_env(tmp_path / "data"),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "Caviar is up" in log.read_text(), 120, "caviar up")
        _token(tmp_path / "data", "viewer")  # the way to strand the fleet
        admin = {"authorization": f"Bearer {_token(tmp_path / 'data', 'admin')}"}
        wait_for(lambda: httpx.get(f"{url}/api/studies").status_code == 401, 10, "the api to close")
        study = {
            "name": "after-a-token",
            "objective": {"kind": "function", "name": "quadratic"},
            "space": {"w": {"type": "float", "low": 0, "high": 10}},
            "max_trials": 4,
            "parallelism": 2,
        }
        r = httpx.post(f"{url}/api/studies", json=study, headers=admin, timeout=30)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]

        def completed() -> bool:
            got = httpx.get(f"{url}/api/studies/{sid}", headers=admin, timeout=30).json()
            return got["status"] == "completed" and got["counts"]["completed"] == 4

        wait_for(completed, 120, "the study to complete", interval=0.5)
        assert "refused this worker" not in log.read_text()
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
