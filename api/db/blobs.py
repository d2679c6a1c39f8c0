"""Checkpoint bytes, stored once per content (sha256) however many checkpoints name them.

Locks: a blob's row is locked by whatever is about to name it (``store``, ``hold``) and by
``drop_orphans`` before it checks that nothing names it, so a blob is never dropped under a
checkpoint being written or copied, and identical uploads never race on the blob's key.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.db.models import Checkpoint, CheckpointBlob


def store(session: Session, raw: bytes) -> str:
    """Store ``raw`` once per content and return its sha256; its row stays locked until
    commit."""
    sha = hashlib.sha256(raw).hexdigest()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(CheckpointBlob).values(sha256=sha, size=len(raw), content=raw)
    # DO UPDATE (of nothing that changes) rather than DO NOTHING: it locks an existing row too.
    session.execute(
        stmt.on_conflict_do_update(index_elements=["sha256"], set_={"size": stmt.excluded.size})
    )
    return sha


def hold(session: Session, sha: str) -> None:
    """Lock a stored blob's row until commit: a new checkpoint is about to name it."""
    session.execute(
        select(CheckpointBlob.sha256).where(CheckpointBlob.sha256 == sha).with_for_update()
    )


def drop_orphans(session: Session, shas: set[str]) -> None:
    """Delete the blobs among ``shas`` that no checkpoint names any more."""
    if not shas:
        return
    # Locked first: a checkpoint being written or copied with one of them holds it already (and
    # this waits for its commit), or waits for this drop and then stores it anew.
    session.execute(
        select(CheckpointBlob.sha256).where(CheckpointBlob.sha256.in_(shas)).with_for_update()
    )
    still_named = set(
        session.scalars(select(Checkpoint.sha256).where(Checkpoint.sha256.in_(shas)).distinct())
    )
    orphans = shas - still_named
    if orphans:
        session.execute(delete(CheckpointBlob).where(CheckpointBlob.sha256.in_(orphans)))
