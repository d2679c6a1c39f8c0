"""The worker's api client: each call is retried, with backoff, through transport errors and
5xx answers (an api restarting, a proxy's 503), for at most ``retry_for`` seconds in all.

Every call a worker makes is safe to repeat: a claim repeated by the same worker succeeds
again, heartbeats and reports (keyed by attempt and step) overwrite themselves, and a tell
with the same content is answered 200.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from caviar.client import CaviarError, Client

log = logging.getLogger("caviar.worker")


def transient(exc: BaseException) -> bool:
    """Worth retrying: the api could not be reached, or answered with a server error."""
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, CaviarError) and exc.status >= 500


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("api call failed (%s); retry %d", exc, state.attempt_number)


class RetryingClient(Client):
    """A :class:`Client` whose calls survive a short api or network outage."""

    def __init__(self, base_url: str, *, retry_for: float, **kw: Any) -> None:
        super().__init__(base_url, **kw)
        self.retry_for = retry_for

    def _request(
        self, method: str, path: str, ok: tuple[int, ...] = (), **kw: Any
    ) -> httpx.Response:
        retrying = Retrying(
            retry=retry_if_exception(transient),
            # 0.25 s, 0.5 s, 1 s, then every 2 s: a 6-second api restart costs ≤ 2 s more.
            wait=wait_exponential_jitter(initial=0.25, max=2.0, jitter=0.25),
            stop=stop_after_delay(self.retry_for),
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(super()._request, method, path, ok, **kw)
