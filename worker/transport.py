"""The workers' side of the embedded broker (kombu's SQLAlchemy transport on a SQLite file).

Celery's blocking event loop, the one a polling transport gets, asks the transport for
messages with a 2 s timeout and looks at its shutdown flags only between two such waits. A
worker told to stop therefore sat out up to two of them (about 4 s at every stop of every
worker) before it even began to shut down. Here a wait ends after one polling interval: the
loop comes round every 0.05 s, sees a stop at once, and a message is picked up within a
polling interval.
"""

from __future__ import annotations

from typing import Any

from caviar.broker import SQLTransport as _SQLTransport


class SQLTransport(_SQLTransport):
    # A trial of a small network trains in a tenth of a second: a worker slot that waited
    # 0.2 s (0.1 s on average) for its next message would idle for as long as it trains. An
    # empty poll of the SQLite queue costs well under a millisecond.
    polling_interval = 0.05

    def drain_events(self, connection: Any, timeout: float | None = None) -> Any:
        if timeout is not None:
            timeout = min(timeout, self.polling_interval)
        return super().drain_events(connection, timeout=timeout)
