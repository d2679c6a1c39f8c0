"""The ``caviar`` command against real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.services import ROOT, Backend, free_port, wait_for

CAVIAR = [sys.executable, "-m", "caviar.cli"]


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAVIAR, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def descendants(pid: int) -> set[int]:
    """Every live process whose ancestry includes ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                parents[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, frontier = set(), {pid}
    while frontier:
        children = {p for p, pp in parents.items() if pp in frontier and p not in out}
        out |= children
        frontier = children
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_up_runs_a_study_and_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k in ("CAVIAR_DATABASE_URL", "CAVIAR_BROKER_URL"):
        env.pop(k, None)
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen(
        [
            *CAVIAR,
            "up",
            "--port",
            str(port),
            "--workers",
            "2",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    children: set[int] = set()
    try:
        wait_for(lambda: f"docs       {url}/docs" in (tmp_path / "up.log").read_text(), 60, "up")
        time.sleep(1.0)  # anything printed after the addresses would show up by now
        started = (tmp_path / "up.log").read_text().rstrip().splitlines()
        assert started[-4:] == [
            "Caviar is up (Ctrl-C stops it):",
            f"  dashboard  {url}/",
            f"  api        {url}/api",
            f"  docs       {url}/docs",
        ], started
        assert httpx.get(url + "/").status_code == 200  # the dashboard
        spec = tmp_path / "study.yaml"
        spec.write_text(
            yaml.safe_dump(
                {
                    "name": "cli",
                    "objective": {"kind": "function", "name": "quadratic"},
                    "space": {"w": {"type": "float", "low": -10, "high": 20}},
                    "max_trials": 12,
                    "parallelism": 3,
                    "seed": 1,
                }
            )
        )
        cli_env = {**env, "CAVIAR_API_URL": url}
        created = run(["study", "create", str(spec), "--wait"], cli_env, timeout=90)
        assert created.returncode == 0, created.stderr
        assert "created study 1" in created.stdout and "completed" in created.stdout
        shown = run(["study", "show", "1", "--json"], cli_env)
        study = json.loads(shown.stdout)
        assert study["status"] == "completed" and study["counts"]["completed"] == 12
        children = descendants(up.pid)
        assert len(children) >= 3  # api, celery main, its pool
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=30)
        log.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in children):
        time.sleep(0.2)
    output = (tmp_path / "up.log").read_text()
    assert not [p for p in children if alive(p)], output
    assert up.returncode == 0, output
    # a clean Ctrl-C: no ERROR lines, no traceback, no banner or SecurityWarning noise
    for noise in ("ERROR", "Traceback", "SecurityWarning", "-------------- "):
        assert noise not in output, output
    assert output.rstrip().endswith("stopped."), output


def test_study_create_reports_bad_files_and_fields(
    tmp_path: Path, be: Backend, api_url: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAVIAR_API_URL": api_url}
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nobjective: {kind: external}\n"
        "space: {lr: {type: float, low: 0, high: 1, scale: log}}\n"
    )
    r = run(["study", "create", str(bad)], env)
    assert r.returncode != 0 and "space.lr.low" in r.stderr and "log scale" in r.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    r = run(["study", "create", str(broken)], env)
    assert r.returncode != 0 and "not valid json" in r.stderr
    r = run(["study", "show", "424242"], env)
    assert r.returncode != 0 and "404" in r.stderr
