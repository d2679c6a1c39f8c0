"""Api replicas that start at once migrate one at a time, and all of them start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.services import ROOT, postgres_database

UPGRADE = "import sys; from api.db.migrate import upgrade; upgrade(sys.argv[1])"


def _upgrade_at_once(url: str, n: int) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE, url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(n)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, "\n".join(outputs)
    engine = create_engine(url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        tables = conn.execute(text("SELECT count(*) FROM api_tokens")).scalar()
    engine.dispose()
    assert len(versions) == 1 and tables == 0


@pytest.mark.postgres
def test_two_upgrades_at_once_on_a_fresh_postgres_database() -> None:
    with postgres_database() as url:
        _upgrade_at_once(url, 2)


def test_two_upgrades_at_once_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    _upgrade_at_once(f"sqlite:///{tmp_path / 'caviar.db'}", 2)
