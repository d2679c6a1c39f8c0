"""The Alembic revisions build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.orm import Session

from api.db import models
from api.db.base import Base
from api.db.migrate import alembic_config, upgrade
from api.trials.study import config_of
from caviar.bounds import MAX_HEARTBEAT_GRACE, MAX_TRIALS_PER_REQUEST
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


def test_stored_configs_are_brought_within_the_limits(tmp_path: Path) -> None:
    """A study stored before the limits (parallelism 1000, grace of a year) loads after them."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0002")
    config = {
        "name": "old",
        "objective": {"kind": "external"},
        "space": {"x": {"type": "float", "low": 0, "high": 1}},
        "parallelism": 1000,
        "heartbeat_grace": 3e7,
    }
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO studies (name, config, direction, status, seed, trial_count, "
                    "heartbeat_grace) VALUES ('old', :config, 'minimize', 'running', 1, 0, 3e7)"
                ),
                {"config": json.dumps(config)},
            )
        upgrade(url)
        with Session(engine) as session:
            study = session.scalars(select(models.Study)).one()
            loaded = config_of(study)
            assert loaded.parallelism == MAX_TRIALS_PER_REQUEST
            assert loaded.heartbeat_grace == study.heartbeat_grace == MAX_HEARTBEAT_GRACE
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_steered_trials_are_marked_when_the_flag_arrives(tmp_path: Path, backend: str) -> None:
    """Revision 0010 marks the forks and the trials that applied a ``set``, no others."""
    if backend == "sqlite":
        _steered_backfill(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        with postgres_database() as url:
            _steered_backfill(url)


def _steered_backfill(url: str) -> None:
    command.upgrade(alembic_config(url), "0006")
    engine = create_engine(url)
    trial = (
        "INSERT INTO trials (id, study_id, number, params, state, attempt, stage, dispatch_count, "
        "parent_id) VALUES (:id, 1, :id, '{}', 'completed', 1, 0, 0, :parent)"
    )
    order = (
        "INSERT INTO trial_commands (trial_id, action, params, state, created_at) "
        "VALUES (:trial, :action, '{}', :state, CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO studies (id, name, config, direction, status, seed, "
                    "trial_count, heartbeat_grace) VALUES (1, 'old', '{}', 'minimize', "
                    "'completed', 1, 5, 60)"
                )
            )
            for tid, parent in ((1, None), (2, 1), (3, None), (4, None), (5, None)):
                conn.execute(text(trial), {"id": tid, "parent": parent})
            for tid, action, state in (
                (3, "set", "applied"),
                (4, "set", "rejected"),
                (5, "pause", "applied"),
            ):
                conn.execute(text(order), {"trial": tid, "action": action, "state": state})
        upgrade(url)
        with Session(engine) as session:
            flags = dict(session.execute(select(models.Trial.id, models.Trial.steered)).all())
        assert flags == {1: False, 2: True, 3: True, 4: False, 5: False}
    finally:
        engine.dispose()
