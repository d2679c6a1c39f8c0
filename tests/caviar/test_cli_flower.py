"""``caviar flower`` through the installed command: on the embedded SQL broker it refuses in
one line naming CAVIAR_BROKER_URL (Flower would list no worker there); on Redis it serves its
port and lists a real worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.services import Backend, Process, free_port, redis_url, wait_for, worker_process

CAVIAR = str(Path(sys.executable).with_name("caviar"))


def test_on_the_sql_broker_flower_is_refused_naming_the_broker_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAVIAR_")}
    env["CAVIAR_DATA_DIR"] = str(tmp_path)  # the embedded default: sqla+sqlite in it
    done = subprocess.run(
        [CAVIAR, "flower", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    [line] = done.stderr.splitlines()
    assert line.startswith("error: Flower cannot see workers on the SQL broker"), line
    assert f"CAVIAR_BROKER_URL is 'sqla+sqlite:///{tmp_path}/broker.db'" in line, line
    assert "CAVIAR_BROKER_URL=redis://" in line, line


def serves(flower: Process, port: int) -> bool:
    """Whether Flower answers its health check; fails the test if it exited."""
    if flower.proc.poll() is not None:
        pytest.fail(f"caviar flower exited with {flower.proc.returncode}:\n{flower.output()}")
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=2).text == "OK"
    except httpx.HTTPError:
        return False


def listed(port: int) -> list[str]:
    """The workers Flower knows of (from their events), by hostname; [] until it answers."""
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/workers?json=1", timeout=2)
    except httpx.HTTPError:
        return []
    return [w["hostname"] for w in answer.json()["data"]] if answer.status_code == 200 else []


@pytest.mark.redis
def test_on_redis_flower_serves_its_port_and_lists_the_worker(tmp_path: Path) -> None:
    queue = f"caviar.test.{uuid.uuid4().hex[:8]}"
    be = Backend("redis", f"sqlite:///{tmp_path}/unused.db", redis_url(), tmp_path, queue)
    port = free_port()
    # No trial runs here, so the worker never calls its api.
    with worker_process(be, "http://127.0.0.1:9", concurrency=1) as worker:
        args = list(worker.proc.args)  # type: ignore[arg-type]
        hostname = args[args.index("--hostname") + 1].replace("%h", socket.gethostname())
        flower = Process(
            [CAVIAR, "flower", "--port", str(port)], be.worker_env(), tmp_path / "flower.log"
        )
        try:
            wait_for(lambda: serves(flower, port), 60, "Flower's port", log=flower)
            wait_for(lambda: hostname in listed(port), 60, f"{hostname} in Flower", log=flower)
        finally:
            flower.stop()
