"""Real components for the tests: PostgreSQL and Redis servers, api and worker processes.

PostgreSQL and Redis tests skip with a reason when the servers are absent, except under
``CI=true``, where they fail instead: CI must run them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("CAVIAR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CAVIAR_TEST_REDIS", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str, why: str) -> None:
    """Skip outside CI; fail in CI, where every real-component test must run."""
    message = f"{what} is not reachable ({why})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it (.ci/run starts it)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_database(*, migrated: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards. Yields a SQLAlchemy URL.

    Empty, or with ``migrated`` a copy of a database already at ``alembic upgrade head``
    (``CREATE DATABASE … TEMPLATE``, made once per test session): an api started on it finds
    nothing to migrate."""
    import psycopg

    name = f"caviar_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).strip().splitlines()[0])
    with admin:
        template = f' TEMPLATE "{_postgres_template()}"' if migrated else ""
        admin.execute(f'CREATE DATABASE "{name}"{template}')
    try:
        yield _postgres_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


_templates: dict[str, str] = {}


def _postgres_template() -> str:
    """The session's migrated PostgreSQL template database (made at first use, dropped at exit)."""
    if "postgres" not in _templates:
        import psycopg

        from api.db.migrate import upgrade

        name = f"caviar_template_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        atexit.register(_drop_postgres, name)
        upgrade(_postgres_url(name))  # disposes its engines: the template has no sessions left
        _templates["postgres"] = name
    return _templates["postgres"]


def _drop_postgres(name: str) -> None:
    import psycopg

    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin,
    ):
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sqlite_template() -> Path:
    """The session's migrated SQLite file (made at first use, removed at exit)."""
    if "sqlite" not in _templates:
        from api.db.migrate import upgrade

        directory = Path(tempfile.mkdtemp(prefix="caviar-template-"))
        atexit.register(shutil.rmtree, directory, True)
        upgrade(f"sqlite:///{directory / 'caviar.db'}")
        _templates["sqlite"] = str(directory / "caviar.db")
    return Path(_templates["sqlite"])


def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", str(exc))
    return f"{REDIS_URL}/0"


@dataclass
class Backend:
    """Where the api keeps its data and sends its messages."""

    name: str
    database_url: str
    broker_url: str
    data_dir: Path
    queue: str

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CAVIAR_DATA_DIR=str(self.data_dir),
            CAVIAR_DATABASE_URL=self.database_url,
            CAVIAR_BROKER_URL=self.broker_url,
            CAVIAR_TRIAL_QUEUE=self.queue,
            PYTHONPATH=str(ROOT),
        )
        env.update(extra)
        return env

    def worker_env(self, **extra: str) -> dict[str, str]:
        """A worker's environment: the broker, the queue and its cache directory; never the
        database (workers talk to the api only)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAVIAR_")}
        env.update(
            CAVIAR_DATA_DIR=str(self.data_dir),  # the dataset cache
            CAVIAR_BROKER_URL=self.broker_url,
            CAVIAR_TRIAL_QUEUE=self.queue,
            PYTHONPATH=str(ROOT),
        )
        env.update(extra)
        return env


@contextmanager
def backend(kind: str, tmp: Path) -> Iterator[Backend]:
    queue = f"caviar.test.{uuid.uuid4().hex[:8]}"
    if kind == "sqlite":
        shutil.copyfile(_sqlite_template(), tmp / "caviar.db")
        yield Backend(
            "sqlite",
            f"sqlite:///{tmp / 'caviar.db'}",
            f"sqla+sqlite:///{tmp / 'broker.db'}",
            tmp,
            queue,
        )
        return
    broker = redis_url()
    with postgres_database(migrated=True) as url:
        yield Backend("postgres", url, broker, tmp, queue)


class Process:
    """A child process in its own process group, with its output kept in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # any grandchild left in the group
        self._out.close()


class ApiProcess:
    """A real api (``python -m api``: alembic upgrade head, then uvicorn) on a fixed free port;
    it can be stopped and started again on the same address."""

    def __init__(self, be: Backend, **env: str) -> None:
        self.be, self.env = be, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Process | None = None

    def start(self, timeout: float = 60) -> None:
        p = self.process = Process(
            [sys.executable, "-m", "api", "--port", str(self.port), "--log-level", "warning"],
            self.be.env(CAVIAR_API_URL=self.url, **self.env),
            self.be.data_dir / f"api-{self.port}-{uuid.uuid4().hex[:4]}.log",
        )
        deadline = time.monotonic() + timeout
        while True:
            if p.proc.poll() is not None:
                raise RuntimeError(f"api exited early:\n{p.output()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"api did not start:\n{p.output()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@contextmanager
def api_server(be: Backend, **env: str) -> Iterator[str]:
    """A real api on a free port, for the duration of the block. Yields its URL."""
    api = ApiProcess(be, **env)
    try:
        api.start()
        yield api.url
    finally:
        api.stop()


@contextmanager
def api_in_thread(be: Backend, **env: str) -> Iterator[str]:
    """The api's app served by uvicorn in a thread of the test process, on a free loopback
    port: the same app, middleware and HTTP path as ``python -m api``, without a process to
    start. For the REST-contract tests, where no process boundary is under test; tests that
    kill, restart or read the output of an api use :func:`api_server`. Yields its URL."""
    import uvicorn

    from api.db.migrate import upgrade
    from api.main import create_app
    from caviar.settings import Settings

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    values = be.env(CAVIAR_API_URL=url, **env)
    settings = Settings(
        **{
            k.removeprefix("CAVIAR_").lower(): v
            for k, v in values.items()
            if k.startswith("CAVIAR_")
        }
    )
    upgrade(settings.resolved_database_url)
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"api-{port}", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), 60, "the api to start")
        if not server.started:
            raise RuntimeError("the api did not start (see the captured log)")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class RedisServer:
    """A Redis of its own on a free port, without persistence: a restart comes back empty."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self) -> None:
        import redis

        if shutil.which("redis-server") is None:
            unavailable("redis-server", "not installed")
        self.process = Process(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            dict(os.environ),
            self.directory / f"redis-{self.port}-{uuid.uuid4().hex[:4]}.log",
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        wait_for(lambda: _pings(client), 15, "redis-server", log=self.process)

    def kill(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGKILL)
            self.process = None


def _pings(client: object) -> bool:
    import redis

    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except redis.RedisError:
        return False


@contextmanager
def fleet_backend(tmp: Path, *, migrated: bool = True) -> Iterator[tuple[Backend, RedisServer]]:
    """The fleet configuration: PostgreSQL (migrated, or empty) and a Redis of its own (never
    the shared one)."""
    server = RedisServer(tmp)
    server.start()
    try:
        with postgres_database(migrated=migrated) as url:
            queue = f"caviar.fleet.{uuid.uuid4().hex[:8]}"
            yield Backend("fleet", url, server.url, tmp, queue), server
    finally:
        server.kill()


@contextmanager
def worker_process(
    be: Backend, api_url: str, concurrency: int = 2, **env: str
) -> Iterator[Process]:
    """A real ``celery worker`` (``python -m worker``) talking to ``api_url``."""
    p = Process(
        [
            sys.executable,
            "-m",
            "worker",
            "--api",
            api_url,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--hostname",
            f"w{uuid.uuid4().hex[:6]}@%h",
        ],
        be.worker_env(**env),
        be.data_dir / f"worker-{uuid.uuid4().hex[:6]}.log",
    )
    try:
        yield p
    finally:
        p.stop(signal.SIGQUIT)


def wait_for(
    predicate: object,
    timeout: float,
    what: str,
    interval: float = 0.2,
    *,
    log: Process | None = None,
) -> None:
    """Poll ``predicate`` until it is true; on timeout fail, with the tail of ``log``'s output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    tail = f"\n{log.output()[-3000:]}" if log is not None else ""
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{tail}")
