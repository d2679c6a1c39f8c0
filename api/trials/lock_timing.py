"""How long a request holds a study's lock: ``caviar_study_lock_held_seconds``.

``trials.study.lock`` marks its session when the study row is locked; the transaction's commit or
rollback observes the time since then, by operation (ask, tell, other) and the study's strategy.
Other writers of the study wait at most this long behind it, and on SQLite (one writer at a time
for the whole file, taken at the transaction's first statement) every other write does too.
The histogram is one per process and joins every app's registry (``ApiMetrics``).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "caviar.lock_held"

LOCK_HELD = Histogram(
    "caviar_study_lock_held_seconds",
    "Time from taking a study's row lock to the end of its transaction, by operation and strategy",
    ["operation", "strategy"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=None,
)


def locked(session: Session, operation: str, strategy: str) -> None:
    """The study's lock was just taken in ``session``'s transaction (the first mark counts)."""
    session.info.setdefault(_KEY, (time.perf_counter(), operation, strategy))


def _released(session: Session, *_: Any) -> None:
    mark = session.info.pop(_KEY, None)
    if mark is not None:
        since, operation, strategy = mark
        LOCK_HELD.labels(operation, strategy).observe(time.perf_counter() - since)


event.listen(Session, "after_commit", _released)
event.listen(Session, "after_rollback", _released)
