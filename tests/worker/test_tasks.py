"""What a worker's task answers when the api will not let it start a trial: a refused token is
an error that says how to mend it, not an api that "stayed away"."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from worker import tasks
from worker.api_client import RetryingClient


def answering(status: int, detail: str) -> Any:
    def client(worker: str | None = None) -> RetryingClient:
        transport = httpx.MockTransport(lambda _: httpx.Response(status, json={"detail": detail}))
        return RetryingClient("http://api.invalid", retry_for=1, transport=transport, worker=worker)

    return client


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_an_error_naming_the_worker_token(
    status: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tasks, "api_client", answering(status, "the token is unknown or revoked"))
    with caplog.at_level(logging.WARNING, logger="caviar.worker"):
        assert tasks.run_trial(7, 1, {"w": 0.0}, {"kind": "function", "name": "quadratic"}) == (
            "refused"
        )
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "CAVIAR_TOKEN" in record.getMessage() and "--role worker" in record.getMessage()


def test_an_api_that_stays_away_at_start_is_a_warning_that_the_trial_stays_queued(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tasks, "api_client", answering(503, "restarting"))
    with caplog.at_level(logging.WARNING, logger="caviar.worker"):
        assert tasks.run_trial(7, 1, {}, {"kind": "function", "name": "quadratic"}) == "abandoned"
    [record] = [r for r in caplog.records if "stays queued" in r.getMessage()]  # after retries
    assert record.levelno == logging.WARNING and "stayed away" in record.getMessage()
