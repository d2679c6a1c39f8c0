"""Trials a person steered: ``trials.steered``, set for forks and for trials that applied a
``set`` command.

Revision ID: 0010
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("steered", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        "UPDATE trials SET steered = true WHERE parent_id IS NOT NULL OR EXISTS ("
        "SELECT 1 FROM trial_commands c WHERE c.trial_id = trials.id"
        " AND c.action = 'set' AND c.state = 'applied')"
    )


def downgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_column("steered")
