"""The fleet as operators see it: workers (from the trials they claimed), recent requeues and
resends (from ``trial_events``), and the broker's queue depth."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import Trial, TrialEvent
from api.fleet import liveness
from caviar.fleet_schemas import TrialEventPublic, TrialRef, WorkerPublic

REQUEUE_KINDS = ("requeued", "failed", "resent")


def host_of(worker: str) -> str | None:
    """``name@host:pid`` → ``host``; None when the name has no ``@``."""
    if "@" not in worker:
        return None
    return worker.split("@", 1)[1].rsplit(":", 1)[0] or None


def workers(session: Session, limit: int = 200) -> list[WorkerPublic]:
    """Workers heard of within ``WORKER_WINDOW``: online ones first, each group most recently
    heard first (``api.fleet.liveness`` says when a worker is online)."""
    rows = liveness.heard(session, limit=limit)
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
            last_heard=r.last_heard,
            finished=r.finished,
            online=r.online,
            window=r.window,
            running=holding[r.worker],
        )
        for r in rows
    ]


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
