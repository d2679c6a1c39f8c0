"""Training checkpoints, stored through the api: workers have no storage of their own.

The bytes are stored once per content (sha256) in ``checkpoint_blobs``; a ``checkpoints`` row
names a trial, the attempt that wrote it and its step. A write is fenced: the row is inserted
only if the attempt is the trial's current one, the claim its claim, and the trial runs (one
conditional statement). Each trial keeps its latest few checkpoints; blobs no checkpoint names
any more are deleted.

Locks, in the trial life's order: the trial's row (the fence), then the blob's row
(``api.db.blobs``).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy import insert as sa_insert
from sqlalchemy.orm import Session

from api.db import blobs
from api.db.models import Checkpoint, CheckpointBlob
from api.errors import NotFound
from api.trials import lifecycle
from api.trials.service import get
from caviar.schemas import CheckpointPublic


def public(c: Checkpoint, size: int) -> CheckpointPublic:
    return CheckpointPublic(
        id=c.id,
        trial_id=c.trial_id,
        attempt=c.attempt,
        step=c.step,
        sha256=c.sha256,
        size=size,
        created_at=c.created_at,
    )


def store(
    session: Session,
    trial_id: int,
    attempt: int,
    claim: str | None,
    step: int,
    raw: bytes,
    keep: int,
) -> Checkpoint:
    """Store a checkpoint of ``attempt`` at ``step``; 409 for a stale attempt, a missing or
    wrong claim, or a trial that does not run. Prunes the trial's checkpoints to the latest
    ``keep``."""
    get(session, trial_id)
    # The fence (which also beats the heart) leads: a requeue cannot slip in before the insert.
    if not lifecycle.fenced(session, trial_id, attempt, claim):
        raise lifecycle.refusal(session, trial_id, attempt, claim)
    sha = blobs.store(session, raw)
    row_id = session.execute(
        sa_insert(Checkpoint)
        .values(trial_id=trial_id, attempt=attempt, step=step, sha256=sha)
        .returning(Checkpoint.id)
    ).scalar_one()
    prune(session, trial_id, keep)
    checkpoint = session.get_one(Checkpoint, row_id)
    return checkpoint


def prune(session: Session, trial_id: int, keep: int) -> None:
    """Keep the trial's latest ``keep`` checkpoints (by step, then write order)."""
    old = list(
        session.scalars(
            select(Checkpoint)
            .where(Checkpoint.trial_id == trial_id)
            .order_by(Checkpoint.step.desc(), Checkpoint.id.desc())
            .offset(max(keep, 1))
        )
    )
    if not old:
        return
    session.execute(delete(Checkpoint).where(Checkpoint.id.in_([c.id for c in old])))
    blobs.drop_orphans(session, {c.sha256 for c in old})


def latest(session: Session, trial_id: int, step: int | None = None) -> Checkpoint:
    """The trial's latest checkpoint, or its latest at or before ``step``; 404 if none."""
    get(session, trial_id)
    query = select(Checkpoint).where(Checkpoint.trial_id == trial_id)
    if step is not None:
        query = query.where(Checkpoint.step <= step)
    found = session.scalars(
        query.order_by(Checkpoint.step.desc(), Checkpoint.id.desc()).limit(1)
    ).first()
    if found is None:
        at = f" at or before step {step}" if step is not None else ""
        raise NotFound(f"checkpoint{at} of trial", trial_id)
    return found


def content(session: Session, sha: str) -> bytes:
    blob = session.get(CheckpointBlob, sha)
    assert blob is not None  # a checkpoint row always names a stored blob
    return blob.content


def size_of(session: Session, sha: str) -> int:
    return session.scalar(select(CheckpointBlob.size).where(CheckpointBlob.sha256 == sha)) or 0


def list_for(session: Session, trial_id: int) -> list[Checkpoint]:
    get(session, trial_id)
    return list(
        session.scalars(
            select(Checkpoint).where(Checkpoint.trial_id == trial_id).order_by(Checkpoint.step)
        )
    )


def copy_to(session: Session, checkpoint: Checkpoint, trial_id: int, attempt: int) -> None:
    """Give ``trial_id`` the same state (a fork starts from its parent's checkpoint)."""
    blobs.hold(session, checkpoint.sha256)
    session.add(
        Checkpoint(
            trial_id=trial_id, attempt=attempt, step=checkpoint.step, sha256=checkpoint.sha256
        )
    )
