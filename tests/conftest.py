"""Shared fixtures: each backend (SQLite + SQL broker, PostgreSQL + Redis) and a real api on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from caviar.client import Client
from tests.services import Backend, api_server, backend

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
    with api_server(be, CAVIAR_RECONCILE_INTERVAL="0.3") as url:
        yield url


@pytest.fixture
def client(api_url: str) -> Iterator[Client]:
    with Client(api_url) as c:
        yield c


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path
