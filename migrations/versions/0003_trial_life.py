"""The trial life under faults: reports keyed by attempt, the claiming worker, trial events.

Revision ID: 0003
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db.base

revision: str = "0003"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker", sa.String(length=200), nullable=True))
    # Reports written before this revision belong to the attempt that was current then; the
    # best guess is the first one.
    with op.batch_alter_table("trial_reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
    with op.batch_alter_table("trial_reports", schema=None) as batch_op:
        batch_op.alter_column("attempt", server_default=None)
        batch_op.drop_constraint("pk_trial_reports", type_="primary")
        batch_op.create_primary_key("pk_trial_reports", ["trial_id", "attempt", "step"])
    op.create_table(
        "trial_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            api.db.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_trial_events_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_trial_events_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_events")),
    )
    with op.batch_alter_table("trial_events", schema=None) as batch_op:
        batch_op.create_index("ix_trial_events_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_trial_events_trial_id", ["trial_id"], unique=False)


def downgrade() -> None:
    op.drop_table("trial_events")
    op.execute("DELETE FROM trial_reports WHERE attempt <> 1")  # one report per (trial, step)
    with op.batch_alter_table("trial_reports", schema=None) as batch_op:
        batch_op.drop_constraint("pk_trial_reports", type_="primary")
        batch_op.create_primary_key("pk_trial_reports", ["trial_id", "step"])
        batch_op.drop_column("attempt")
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_column("worker")
