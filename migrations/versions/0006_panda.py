"""Panda mode: trial commands, checkpoints, forks, and the paused trial state.

Revision ID: 0006
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db.base

revision: str = "0006"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_checkpoint_blobs")),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            api.db.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["checkpoint_blobs.sha256"],
            name=op.f("fk_checkpoints_sha256_checkpoint_blobs"),
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_checkpoints_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
    )
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.create_index("ix_checkpoints_trial_step", ["trial_id", "step"], unique=False)

    op.create_table(
        "trial_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("applied_at", api.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("applied_step", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            api.db.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "action IN ('set', 'pause', 'resume', 'stop')", name=op.f("ck_trial_commands_action")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'applied', 'rejected')", name=op.f("ck_trial_commands_state")
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_trial_commands_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_commands")),
    )
    with op.batch_alter_table("trial_commands", schema=None) as batch_op:
        batch_op.create_index("ix_trial_commands_trial_state", ["trial_id", "state"], unique=False)

    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fork_count", sa.Integer(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("forked_at_step", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_trials_parent_id_trials"), "trials", ["parent_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_trials_state"), type_="check")
        batch_op.create_check_constraint(
            "state",
            "state IN ('queued', 'running', 'paused', 'completed', 'pruned', 'failed', "
            "'cancelled')",
        )


def downgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_trials_state"), type_="check")
        batch_op.create_check_constraint(
            "state", "state IN ('queued', 'running', 'completed', 'pruned', 'failed', 'cancelled')"
        )
        batch_op.drop_constraint(batch_op.f("fk_trials_parent_id_trials"), type_="foreignkey")
        batch_op.drop_column("forked_at_step")
        batch_op.drop_column("parent_id")

    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_column("fork_count")

    with op.batch_alter_table("trial_commands", schema=None) as batch_op:
        batch_op.drop_index("ix_trial_commands_trial_state")

    op.drop_table("trial_commands")
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_checkpoints_trial_step")

    op.drop_table("checkpoints")
    op.drop_table("checkpoint_blobs")
