"""Starting and stopping the api and worker processes for ``caviar up``.

Each child runs in its own session (process group), so stopping it stops its children too
(uvicorn, Celery's pool). SIGTERM to the leader first, SIGKILL to the group after a grace
period: nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx


def spawn(module: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args], env=dict(env), start_new_session=True
    )


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, not an address of this machine), or
    None. Checked before ``caviar up`` starts its api: another server already answering on the
    port would otherwise look like this api being healthy."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"{host} is not an address of this machine ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def worker_problem(api: str, broker: str) -> str | None:
    """Why a worker with this api URL and broker URL cannot work, or None."""
    from kombu.transport import resolve_transport  # only here: the CLI starts fast

    parts = urlsplit(api)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"the api's URL {api!r} is not an http:// or https:// URL (--api, CAVIAR_API_URL)"
    scheme = broker.split("://", 1)[0] if "://" in broker else ""
    try:
        resolve_transport(scheme.split("+", 1)[0] or None)
    except (KeyError, ImportError):
        return f"the broker's URL names no transport Caviar knows: {scheme!r} (CAVIAR_BROKER_URL)"
    return None


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until ``GET url/api/health`` answers 200; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the api exited with code {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the api did not answer at {url} within {timeout:g} s")


def stop(procs: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    """Stop every process group: SIGTERM to its leader (Celery's main process stops its own
    pool, so no child dies of a signal it did not expect), then SIGKILL to the whole group for
    whatever outlives ``grace``."""
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(deadline - time.monotonic(), 0.1))
    for p in procs:
        _signal_group(p, signal.SIGKILL)  # the group may outlive its leader
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=5)


def _signal_group(p: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, sig)


def wait_file(path: Path, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    """Wait until ``path`` exists (a process touches it when ready); raise if it dies first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"a process exited with code {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"a process was not ready within {timeout:g} s")
        time.sleep(0.2)
