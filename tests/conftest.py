"""Shared fixtures: each backend (SQLite + SQL broker, PostgreSQL + Redis) and an api on it."""

from __future__ import annotations

import os

# One BLAS thread, as in the workers: the in-process training tests share two cores with the
# api and worker processes of other tests.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from caviar.client import Client  # noqa: E402
from tests.services import Backend, api_in_thread, backend  # noqa: E402

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
]


@pytest.fixture(scope="module", params=BACKENDS)
def be(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    with backend(request.param, tmp_path_factory.mktemp(request.param)) as b:
        yield b


@pytest.fixture(scope="module")
def api_url(be: Backend) -> Iterator[str]:
    """The module's api: its app served in a thread of the test process, on a fresh migrated
    database. Where a process boundary is under test (workers, faults, the browser), the
    package's conftest serves ``python -m api`` instead."""
    with api_in_thread(be, CAVIAR_RECONCILE_INTERVAL="0.3") as url:
        yield url


@pytest.fixture
def client(api_url: str) -> Iterator[Client]:
    with Client(api_url) as c:
        yield c


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


# The slowest modules first (from `pytest --durations`), so that the processes of
# `make test` finish together: pytest-xdist hands out whole modules (--dist loadfile) in the
# collection's order (--no-loadscope-reorder). Every other module keeps its place after them.
SLOW_FIRST = (
    "tests/faults/test_fleet_faults.py",
    "tests/worker/test_search_end_to_end.py",
    "tests/api/test_retest_trust.py",
    "tests/worker/test_panda_worker.py",
    "tests/api/test_openapi_fuzz.py",
    "tests/worker/test_end_to_end.py",
    "tests/worker/test_faults.py",
    "tests/worker/test_worker_shutdown.py",
    "tests/worker/test_train_objective.py",
    "tests/api/test_token_life.py",
    "tests/worker/test_retests_end_to_end.py",
    "tests/test_readme.py",
    "tests/examples/test_examples.py",
    "tests/worker/test_fused_worker.py",
    "tests/caviar/test_cli_output.py",
    "tests/caviar/test_runner.py",
    "tests/web/test_dashboard.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
