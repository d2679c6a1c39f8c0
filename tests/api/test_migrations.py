"""The Alembic revisions build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from api.db import models  # noqa: F401
from api.db.base import Base
from api.db.migrate import upgrade
from tests.services import postgres_database


def _diff(url: str) -> list[object]:
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {"studies", "trials", "trial_reports", "regions", "datasets"} <= tables
            return compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()


def test_sqlite_schema_matches_models(tmp_path: Path) -> None:
    assert _diff(f"sqlite:///{tmp_path / 'm.db'}") == []


@pytest.mark.postgres
def test_postgres_schema_matches_models() -> None:
    with postgres_database() as url:
        assert _diff(url) == []
