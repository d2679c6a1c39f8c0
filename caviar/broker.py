"""Broker settings shared by the api (producer) and the workers (consumers).

The embedded default broker is kombu's SQLAlchemy transport on a SQLite file. Its transport
options go straight to ``create_engine``, so it gets a subclass that polls every 0.2 s instead
of options, and keeps its SQLite file in WAL mode; Redis gets a visibility timeout above the
task time limit.
"""

from __future__ import annotations

from typing import Any

from kombu.transport.sqlalchemy import Channel as _SQLChannel
from kombu.transport.sqlalchemy import Transport as _SQLTransport
from sqlalchemy import event
from sqlalchemy.engine import Engine


def _wal(dbapi_connection: Any, _record: Any) -> None:
    """Write-ahead log, synced at checkpoints: a message's insert (the api's send) and its
    fetch (a worker's) no longer wait for two or three fsyncs each. A crash of a process
    loses nothing committed; a power cut may lose the last messages, which the api's
    reconciler sends again."""
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class SQLChannel(_SQLChannel):
    def _engine_from_config(self) -> Engine:
        engine: Engine = super()._engine_from_config()
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _wal)
        return engine


class SQLTransport(_SQLTransport):
    Channel = SQLChannel
    polling_interval = 0.2


def celery_broker_conf(broker_url: str, visibility_timeout: int) -> dict[str, Any]:
    """Celery settings for a broker URL."""
    if broker_url.startswith("sqla+"):
        return {
            "broker_url": broker_url.removeprefix("sqla+"),
            "broker_transport": "caviar.broker:SQLTransport",
            "broker_transport_options": {"connect_args": {"timeout": 30}},
        }
    return {
        "broker_url": broker_url,
        "broker_transport_options": {"visibility_timeout": visibility_timeout},
    }
