"""A command that cannot run says why in one line and exits non-zero: ``caviar up`` and
``caviar api`` on a busy port, ``caviar up`` whose api refuses to start, ``caviar worker`` with
an api or broker URL that cannot work."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import ROOT, api_server, backend, free_port


def caviar(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "caviar.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_up_on_a_port_where_another_api_answers_exits_non_zero(tmp_path: Path) -> None:
    """The other api answers /api/health: ``caviar up`` must not take it for its own."""
    (tmp_path / "other").mkdir()
    with backend("sqlite", tmp_path / "other") as other, api_server(other) as url:
        port = url.rsplit(":", 1)[1]
        with backend("sqlite", tmp_path) as be:
            done = caviar(
                ["up", "--port", port, "--workers", "0", "--data-dir", str(tmp_path)], be.env()
            )
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Caviar is up" not in done.stdout
    assert f"error: the api cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "in use" in done.stderr


def test_api_on_a_busy_port_exits_non_zero(tmp_path: Path) -> None:
    with busy_port() as port, backend("sqlite", tmp_path) as be:
        done = caviar(["api", "--port", str(port)], be.env())
    assert done.returncode == 1
    assert (
        f"error: the api cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    )


def test_up_whose_api_refuses_to_start_exits_with_its_code(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        args = ["up", "--host", "0.0.0.0", "--port", str(free_port()), "--workers", "0"]
        done = caviar([*args, "--data-dir", str(tmp_path)], be.env())
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refusing to listen on 0.0.0.0" in done.stderr
    assert "error: the api exited with code 2 before it was ready" in done.stderr
    assert "Caviar is up" not in done.stdout


def test_worker_with_urls_that_cannot_work_exits_non_zero(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        bad_broker = caviar(["worker"], be.worker_env(CAVIAR_BROKER_URL="nope://x"))
        bad_api = caviar(["worker", "--api", "127.0.0.1:8000"], be.worker_env())
    assert bad_broker.returncode == 2
    assert bad_broker.stderr.strip().splitlines() == [
        "error: the worker cannot start: the broker's URL names no transport Caviar knows: "
        "'nope' (CAVIAR_BROKER_URL)"
    ]
    assert bad_api.returncode == 2
    assert "is not an http:// or https:// URL" in bad_api.stderr
    assert len(bad_api.stderr.strip().splitlines()) == 1
