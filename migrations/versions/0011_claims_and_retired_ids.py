"""Claims and retired ids.

- ``trials.claim``: the secret of the attempt a worker or a client holds, sent back in the
  ``Caviar-Claim`` header of every later write of that attempt; ``trials.claim_nonce``: the
  claimer's own secret, which lets the same claimer repeat its claim after a lost answer.
- ``trials.note``: a fork's note; ``trials.stopped_at_step``: where a person's stop finished it.
- SQLite: every table with an integer id gets ``AUTOINCREMENT``, so a deleted row's id is never
  handed out again (PostgreSQL's sequences never reuse one). The tables are rebuilt with
  their rows; foreign keys are not enforced on the migration's connection, so no row cascades.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_TABLES = (
    "studies",
    "regions",
    "retest_rounds",
    "trials",
    "trial_events",
    "trial_commands",
    "checkpoints",
    "datasets",
    "api_tokens",
)


def upgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("claim_nonce", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("stopped_at_step", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in ID_TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_column("stopped_at_step")
        batch_op.drop_column("note")
        batch_op.drop_column("claim_nonce")
        batch_op.drop_column("claim")
