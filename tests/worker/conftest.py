"""The worker tests' api is a real ``python -m api`` process: the workers, separate processes
themselves, reach it over the loopback as they reach a deployed one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import Backend, api_server


@pytest.fixture(scope="module")
def api_url(be: Backend) -> Iterator[str]:
    with api_server(be, CAVIAR_RECONCILE_INTERVAL="0.3") as url:
        yield url
