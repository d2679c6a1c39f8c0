"""Broker settings shared by the api (producer) and the workers (consumers).

The embedded default broker is kombu's SQLAlchemy transport on a SQLite file. Its transport
options go straight to ``create_engine``, so it gets a subclass that polls every 0.2 s instead
of options; Redis gets a visibility timeout above the task time limit.
"""

from __future__ import annotations

from typing import Any

from kombu.transport.sqlalchemy import Transport as _SQLTransport


class SQLTransport(_SQLTransport):
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
