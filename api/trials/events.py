"""Trial events: what happened to a trial's attempt and why, for operators (``trial_events``)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from api.db.models import TrialEvent

EVENT_KINDS = (
    "claimed",
    "reclaimed",
    "requeued",
    "failed",
    "resent",
    "paused",
    "resumed",
    "stopped",
)


def record(
    session: Session,
    *,
    trial_id: int,
    study_id: int,
    attempt: int,
    kind: str,
    reason: str,
    worker: str | None = None,
) -> None:
    """Add one event to the current transaction (it lands only if the transaction commits)."""
    assert kind in EVENT_KINDS, kind
    session.execute(
        insert(TrialEvent).values(
            trial_id=trial_id,
            study_id=study_id,
            attempt=attempt,
            kind=kind,
            reason=reason[:2000],
            worker=worker,
        )
    )
