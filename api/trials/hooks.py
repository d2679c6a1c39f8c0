"""What a trial's life asks of the domains above it, which register here when imported.

The trial life sits below studies: when a trial finishes, its study may queue its next trials
(``studies.scheduling`` registers ``refill``), and a tell may first bring the study's search
history up to date outside the study's lock (``prepare``). Registering, rather than importing,
keeps every import running one way (studies → trials).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from api.db.models import Study, Trial

Refill = Callable[[Session, Study], list[Trial]]
Prepare = Callable[[Session, int], None]

_refills: list[Refill] = []
_prepares: list[Prepare] = []


def on_finish(refill: Refill) -> Refill:
    """Register ``refill(session, study)``: called under the study's lock after one of its
    trials finished; returns the trials it queued, to dispatch after commit."""
    if refill not in _refills:
        _refills.append(refill)
    return refill


def before_finish(prepare: Prepare) -> Prepare:
    """Register ``prepare(read_session, trial_id)``: called before a tell takes any lock."""
    if prepare not in _prepares:
        _prepares.append(prepare)
    return prepare


def refill(session: Session, study: Study) -> list[Trial]:
    return [t for r in _refills for t in r(session, study)]


def prepare(session: Session, trial_id: int) -> None:
    for p in _prepares:
        p(session, trial_id)
