"""The fleet as operators see it: workers (from the trials they claimed), recent requeues and
resends (from ``trial_events``), and the broker's queue depth."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import Trial, TrialEvent
from caviar.fleet_schemas import TrialEventPublic, TrialRef, WorkerPublic

# A worker silent for longer than this leaves the page (and /metrics); pool processes come
# and go, each with its own pid.
WORKER_WINDOW = timedelta(hours=24)
REQUEUE_KINDS = ("requeued", "failed", "resent")
FINISHED_BY_WORKER = ("completed", "pruned", "failed")  # cancelled is a person's doing


def host_of(worker: str) -> str | None:
    """``name@host:pid`` → ``host``; None when the name has no ``@``."""
    if "@" not in worker:
        return None
    return worker.split("@", 1)[1].rsplit(":", 1)[0] or None


def workers(session: Session, limit: int = 200) -> list[WorkerPublic]:
    """Workers heard of within ``WORKER_WINDOW``, most recently heard first."""
    heard = func.max(func.coalesce(Trial.finished_at, Trial.heartbeat_at, Trial.started_at))
    finished = func.sum(case((Trial.state.in_(FINISHED_BY_WORKER), 1), else_=0))
    rows = session.execute(
        select(Trial.worker, heard.label("heard"), finished.label("finished"))
        .where(Trial.worker.is_not(None))
        .group_by(Trial.worker)
        .having(heard >= _since(session))
        .order_by(heard.desc())
        .limit(limit)
    ).all()
    names = [r.worker for r in rows]
    current: dict[str, TrialRef] = {}
    holding: Counter[str] = Counter()
    if names:
        running = session.scalars(
            select(Trial)
            .where(Trial.state == "running", Trial.worker.in_(names))
            .order_by(Trial.started_at)
        )
        for t in running:
            holding[t.worker] += 1  # type: ignore[index]
            current[t.worker] = TrialRef(  # type: ignore[index]
                id=t.id, study_id=t.study_id, number=t.number, attempt=t.attempt
            )
    return [
        WorkerPublic(
            worker=r.worker,
            host=host_of(r.worker),
            current_trial=current.get(r.worker),
            last_heard=r.heard,
            finished=int(r.finished or 0),
            running=holding[r.worker],
        )
        for r in rows
    ]


def _since(session: Session) -> datetime:
    now = session.scalar(select(db_now()))
    assert now is not None
    return now - WORKER_WINDOW


def recent_requeues(session: Session, limit: int = 50) -> list[TrialEventPublic]:
    rows = session.execute(
        select(TrialEvent, Trial.number)
        .join(Trial, Trial.id == TrialEvent.trial_id)
        .where(TrialEvent.kind.in_(REQUEUE_KINDS))
        .order_by(TrialEvent.created_at.desc(), TrialEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        TrialEventPublic(
            trial_id=e.trial_id,
            study_id=e.study_id,
            number=number,
            attempt=e.attempt,
            kind=e.kind,
            reason=e.reason,
            worker=e.worker,
            created_at=e.created_at,
        )
        for e, number in rows
    ]


def event_counts(session: Session) -> dict[str, int]:
    """Trial events by kind since the database began (the counters of /metrics)."""
    rows = session.execute(select(TrialEvent.kind, func.count()).group_by(TrialEvent.kind))
    return {kind: int(n) for kind, n in rows}
