"""Stored study configs within the REST contract's limits (``caviar/bounds.py``).

Studies created before the limits may hold a ``parallelism`` above 256 or a ``heartbeat_grace``
above 7 days; every read re-validates a study's config, so those would no longer load. Data
only: clamp both (in the config and in the ``heartbeat_grace`` column). The limits are written
out here, as they were when this revision was made.

Revision ID: 0007
Revises: 0004
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_PARALLELISM = 256
MAX_HEARTBEAT_GRACE = 7 * 24 * 3600.0

studies = sa.table(
    "studies",
    sa.column("id", sa.Integer),
    sa.column("config", sa.JSON),
    sa.column("heartbeat_grace", sa.Float),
)


def _clamped(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    if isinstance(out.get("parallelism"), int) and out["parallelism"] > MAX_PARALLELISM:
        out["parallelism"] = MAX_PARALLELISM
    grace = out.get("heartbeat_grace")
    if isinstance(grace, int | float) and grace > MAX_HEARTBEAT_GRACE:
        out["heartbeat_grace"] = MAX_HEARTBEAT_GRACE
    return out


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(studies.c.id, studies.c.config, studies.c.heartbeat_grace))
    for id_, config, grace in rows.all():
        clamped = _clamped(config or {})
        new_grace = min(grace, MAX_HEARTBEAT_GRACE) if grace is not None else None
        if clamped != config or new_grace != grace:
            conn.execute(
                studies.update()
                .where(studies.c.id == id_)
                .values(config=clamped, heartbeat_grace=new_grace)
            )


def downgrade() -> None:
    """Nothing to undo: the clamped values were valid before too."""
