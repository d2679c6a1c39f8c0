"""Whether a worker is online: heard of (a claim, heartbeat, report or tell) within its window,
the longest heartbeat grace among the studies it worked for (``DEFAULT_GRACE`` where a study
sets none), judged by the database's clock.

A worker is heard of only through the trials it runs: one that has sat idle for longer than its
window shows offline until it takes its next trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from api.db.clock import db_now, seconds_since
from api.db.models import Study, Trial
from api.studies.service import DEFAULT_GRACE

# A worker silent for longer than this is forgotten (pool processes come and go, each with
# its own pid).
WORKER_WINDOW = timedelta(hours=24)
FINISHED_BY_WORKER = ("completed", "pruned", "failed")  # cancelled is a person's doing


@dataclass(frozen=True)
class Heard:
    """One worker as its trials tell of it."""

    worker: str
    last_heard: datetime
    silent_for: float  # seconds since last heard, on the database's clock
    window: float  # seconds of silence after which it is offline
    finished: int  # trials it finished (completed, pruned, failed)

    @property
    def online(self) -> bool:
        return self.silent_for <= self.window


def heard(session: Session, *, offline_only: bool = False, limit: int = 200) -> list[Heard]:
    """Workers heard of within ``WORKER_WINDOW``: online ones first, then offline ones, each
    group most recently heard first."""
    # Heard of: its claim, beats, reports and tell; never a finish by someone else (a stop, a
    # cancel, the reaper's fail), which sets finished_at only.
    last = func.coalesce(Trial.heartbeat_at, Trial.started_at)
    last_heard = func.max(last)
    silent: ColumnElement[float] = func.min(seconds_since(last))
    window: ColumnElement[float] = func.max(func.coalesce(Study.heartbeat_grace, DEFAULT_GRACE))
    finished = func.sum(case((Trial.state.in_(FINISHED_BY_WORKER), 1), else_=0))
    query = (
        select(Trial.worker, last_heard, silent, window, finished)
        .join(Study, Study.id == Trial.study_id)
        .where(Trial.worker.is_not(None))
        .group_by(Trial.worker)
        .having(last_heard >= _since(session))
        .order_by(case((silent <= window, 0), else_=1), last_heard.desc())
        .limit(limit)
    )
    if offline_only:
        query = query.having(silent > window)
    return [
        Heard(
            worker=w,
            last_heard=at,
            silent_for=float(s),
            window=float(win),
            finished=int(n or 0),
        )
        for w, at, s, win, n in session.execute(query).all()
    ]


def _since(session: Session) -> datetime:
    now = session.scalar(select(db_now()))
    assert now is not None
    return now - WORKER_WINDOW
