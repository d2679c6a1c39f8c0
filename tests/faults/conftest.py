"""The fleet configuration for the fault suite: PostgreSQL, a Redis of its own (restartable,
empty after a restart), and an api that can be restarted on the same address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.services import ApiProcess, Backend, RedisServer, fleet_backend


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Backend, RedisServer]]:
    with fleet_backend(tmp_path_factory.mktemp("fleet")) as f:
        yield f


@pytest.fixture(scope="module")
def fleet_be(fleet: tuple[Backend, RedisServer]) -> Backend:
    return fleet[0]


@pytest.fixture(scope="module")
def redis_server(fleet: tuple[Backend, RedisServer]) -> RedisServer:
    return fleet[1]


@pytest.fixture(scope="module")
def api(fleet_be: Backend) -> Iterator[ApiProcess]:
    """The api with its default settings (a reconcile pass every 2 s, resend after 120 s)."""
    process = ApiProcess(fleet_be)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def db(fleet_be: Backend) -> Iterator[sa.Engine]:
    """Read access to the api's database, to check what the REST answers cannot show."""
    engine = sa.create_engine(fleet_be.database_url)
    try:
        yield engine
    finally:
        engine.dispose()
