"""Engines and sessions. Repositories flush; the request commits.

On SQLite, writes begin with ``BEGIN IMMEDIATE`` on their own engine, so concurrent writers in
the api's thread pool queue on the file lock instead of failing on a lock upgrade; reads use a
second engine with deferred transactions, which WAL lets run beside a writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engines(url: str) -> tuple[Engine, Engine]:
    """(write engine, read engine) for a database URL."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, immediate=True), _sqlite_engine(url, immediate=False)
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    return engine, engine


class Database:
    """The api's handle on its database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.write_engine, self.read_engine = make_engines(url)
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write session; the caller commits. Rolled back on error."""
        with self._writer() as s:
            try:
                yield s
            except BaseException:
                s.rollback()
                raise

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with self._reader() as s:
            yield s

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()
