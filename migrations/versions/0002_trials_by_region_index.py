"""Index trials by (study, region), for per-region counts on large studies.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_trials_study_region", "trials", ["study_id", "region_id"])


def downgrade() -> None:
    op.drop_index("ix_trials_study_region", table_name="trials")
