"""Pre-start: wait for the database, then ``alembic upgrade head`` under a lock.

Api replicas that start at once take turns: a PostgreSQL advisory lock (a file lock next to
the database for SQLite) is held around the upgrade, so one replica migrates and the others
find the database already at head.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def wait_for_database(url: str, timeout: float = 60.0) -> None:
    """Retry a trivial query until the database answers, or raise after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    engine = create_engine(url)
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        engine.dispose()


# The advisory lock's key: any constant that no other application on the server uses.
MIGRATION_LOCK_KEY = 0x43617669  # "Cavi"


@contextlib.contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold an exclusive, server- (or file-) wide lock on migrating this database."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        with open(path.with_name(path.name + ".migrate.lock"), "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return
    if not url.startswith("postgresql"):
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


def upgrade(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    wait_for_database(url)
    with migration_lock(url):
        command.upgrade(alembic_config(url), "head")
