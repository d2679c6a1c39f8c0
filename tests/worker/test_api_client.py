"""The worker's api client retries every call it makes (checkpoint downloads included) through
transport errors and 5xx answers, and gives up on a 4xx at once (a missing checkpoint is None)."""

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


def test_no_checkpoint_is_none_at_once_and_a_dataset_download_is_retried() -> None:
    transport, calls = flaky(0, httpx.Response(404, json={"detail": "no checkpoint"}))
    with RetryingClient("http://api.invalid", retry_for=30, transport=transport) as c:
        assert c.checkpoint(7) is None
    assert len(calls) == 1
    transport, calls = flaky(2, httpx.Response(200, content=b"x1,label\n"))
    with RetryingClient("http://api.invalid", retry_for=30, transport=transport) as c:
        assert c.dataset_content("digits@1") == b"x1,label\n"
    assert calls == ["/api/datasets/digits@1/content"] * 3
