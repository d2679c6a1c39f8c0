"""The README's "Running at scale" block, run for real on this host as an operator would.

Its commands run in order, read from README.md, with the other hosts replaced by local ones: a
fresh PostgreSQL database for ``db-host``, a Redis of its own for ``redis-host``, a free port
for ``8000`` and ``127.0.0.1`` for the load balancer ``lb``. ``caviar migrate`` upgrades the
schema, ``caviar token create`` makes the admin and the worker tokens, ``caviar api --host
0.0.0.0 --no-migrate`` serves and refuses a request without a token, and ``caviar worker``,
given the broker, the api's URL and its worker token but no database, takes a study's trials
through the api until the study completes.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.auth.loopback import is_loopback
from caviar.client import Client
from tests.services import ROOT, Backend, Process, fleet_backend, free_port, wait_for
from tests.test_readme import README, blocks

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

HEADING = "## Running at scale"
STUDY = {
    "name": "at-scale",
    "objective": {"kind": "function", "name": "quadratic"},
    "space": {"w": {"type": "float", "low": -10, "high": 20}},
    "max_trials": 4,
    "parallelism": 2,
    "seed": 7,
}


def scale_block() -> str:
    """The text of the block under the heading, as the README has it."""
    heading = README.read_text().splitlines().index(HEADING)
    block = next(b for b in blocks() if b.line > heading and b.lang == "sh")
    assert block.kind == "skip", f"{block}: test_readme would run it too"
    return block.body


def localised(block: str, here: dict[str, str]) -> list[str]:
    """The block's lines with each of its other hosts (``here``'s keys) replaced by a local one;
    every key must be in the block, so that a README which changes them fails here."""
    missing = [other for other in here if other not in block]
    assert not missing, f"the README's block no longer says {missing}; update this test"
    for other, local in here.items():
        block = block.replace(other, local)
    return [line for line in block.splitlines() if line.strip()]


def operator_shell(tmp: Path, exports: list[str]) -> dict[str, str]:
    """The environment of a shell where this checkout's ``caviar`` is first on PATH and the
    block's ``export`` lines ran (no other ``CAVIAR_*`` setting but the data directory, so that
    the processes' local files stay in ``tmp``, not in the checkout's ``./caviar-data``)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    cli = bin_dir / "caviar"
    cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m caviar.cli "$@"\n')
    cli.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAVIAR_")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
        CAVIAR_DATA_DIR=str(tmp / "caviar-data"),
    )
    for line in exports:
        exported = re.fullmatch(r"export (\w+)=(\S+)", line)
        assert exported, f"not an export: {line!r}"
        env[exported[1]] = exported[2]
    return env


def run(line: str, env: dict[str, str]) -> str:
    """Run one of the block's lines in bash; it must exit 0. Returns its stdout."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{line!r} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def token_of(stdout: str) -> str:
    """The token that ``caviar token create`` prints on its last line."""
    token = stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\S{20,}", token), stdout
    return token


def tables(database_url: str) -> set[str]:
    engine = sa.create_engine(database_url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def outside_address() -> str | None:
    """This host's address on its default route, if it has one that is not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("198.51.100.1", 9))  # sends nothing: the kernel only picks the route
        except OSError:
            return None
        host = str(s.getsockname()[0])
    return None if is_loopback(host) else host


@contextmanager
def background(line: str, env: dict[str, str], log: Path, sig: int) -> Iterator[Process]:
    """One of the block's long-running lines in the background, stopped with ``sig``."""
    p = Process(["bash", "-c", line], env, log)
    try:
        yield p
    finally:
        p.stop(sig)


def healthy(url: str, api: Process) -> bool:
    if api.proc.poll() is not None:
        raise AssertionError(f"the api exited with {api.proc.returncode}:\n{api.output()}")
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Backend]:
    """A fresh PostgreSQL database and a Redis server of its own, gone afterwards."""
    with fleet_backend(tmp_path, migrated=False) as (be, _redis):
        yield be


def test_the_running_at_scale_block_runs(fleet: Backend, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    lines = localised(
        scale_block(),
        {
            "postgresql+psycopg://user@db-host/caviar": fleet.database_url,
            "redis://redis-host:6379/0": fleet.broker_url,
            "--port 8000": f"--port {port}",
            "http://lb:8000": url,
        },
    )
    exports = [line for line in lines if line.startswith("export ")]
    commands = [line for line in lines if not line.startswith("export ")]
    assert [c.split("#")[0].split()[:3] for c in commands] == [
        ["caviar", "migrate"],
        ["caviar", "token", "create"],
        ["caviar", "token", "create"],
        ["caviar", "api", "--host"],
        ["CAVIAR_TOKEN=<the", "worker", "token>"],
    ], commands
    migrate, make_admin, make_worker, api_line, worker_line = commands
    env = operator_shell(tmp_path, exports)
    assert (env["CAVIAR_DATABASE_URL"], env["CAVIAR_BROKER_URL"]) == (
        fleet.database_url,
        fleet.broker_url,
    )

    assert tables(fleet.database_url) == set()
    run(migrate, env)
    assert {"alembic_version", "studies", "trials", "api_tokens"} <= tables(fleet.database_url)
    admin = token_of(run(make_admin, env))
    worker_token = token_of(run(make_worker, env))
    worker_line = worker_line.replace("<the worker token>", worker_token)
    # A worker host knows the broker and the api, not the database.
    worker_env = {k: v for k, v in env.items() if k != "CAVIAR_DATABASE_URL"}

    with (
        background(api_line, env, tmp_path / "api.log", signal.SIGTERM) as api,
        background(worker_line, worker_env, tmp_path / "worker.log", signal.SIGQUIT) as worker,
    ):
        wait_for(lambda: healthy(url, api), 30, "the api's /api/health", log=api)
        # it wants a token, on loopback and off it, and a worker's may only do a worker's calls
        outside = outside_address()
        for base in [url, *([f"http://{outside}:{port}"] if outside else [])]:
            assert httpx.get(f"{base}/api/studies", timeout=5).status_code == 401, base
            forged = {"authorization": "Bearer not-a-token"}
            assert httpx.get(f"{base}/api/studies", headers=forged, timeout=5).status_code == 401
            ops = {"authorization": f"Bearer {admin}"}
            assert httpx.get(f"{base}/api/studies", headers=ops, timeout=5).status_code == 200
        with Client(url, token=worker_token) as as_worker:
            assert as_worker.http.post("/api/studies", json=STUDY).status_code == 403
        with Client(url, token=admin) as c:
            sid = c.create_study(STUDY).id
            wait_for(
                lambda: c.study(sid).status == "completed", 40, "the study to complete", log=worker
            )
            study = c.study(sid)
            trials = c.trials(sid).data
        assert worker.proc.poll() is None, worker.output()
    assert study.counts["completed"] == 4 and study.counts.get("failed", 0) == 0, study.counts
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == "completed" and t.started_at and t.finished_at for t in trials)
    assert study.best is not None
    assert study.best.value == pytest.approx((study.best.params["w"] - 5) ** 2)
