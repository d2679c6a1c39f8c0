"""The worker's api client retries every call it makes (checkpoint downloads included) through
transport errors and 5xx answers, and gives up on a 4xx at once."""

from __future__ import annotations

import httpx
import pytest

from caviar.client import Conflict
from worker.api_client import RetryingClient


def flaky(failures: int, answer: httpx.Response) -> tuple[httpx.MockTransport, list[str]]:
    """A transport that fails ``failures`` times (a refused connection, then a 503), then
    answers ``answer``; it records the paths asked for."""
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) <= failures:
            if len(calls) % 2:
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(503, json={"detail": "restarting"})
        return answer

    return httpx.MockTransport(handle), calls


def test_a_checkpoint_download_survives_an_api_restart() -> None:
    answer = httpx.Response(200, content=b"state", headers={"x-caviar-step": "5"})
    transport, calls = flaky(3, answer)
    with RetryingClient("http://api.invalid", retry_for=30, transport=transport) as c:
        assert c.checkpoint(7) == (5, b"state")
    assert calls == ["/api/trials/7/checkpoint"] * 4


def test_a_conflict_is_not_retried() -> None:
    answer = httpx.Response(409, json={"detail": "attempt 1 is stale", "field": "attempt"})
    transport, calls = flaky(0, answer)
    with (
        RetryingClient("http://api.invalid", retry_for=30, transport=transport) as c,
        pytest.raises(Conflict),
    ):
        c.heartbeat(7, 1)
    assert len(calls) == 1
