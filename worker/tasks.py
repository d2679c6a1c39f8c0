"""The trial task: claim the trial, run its objective, report and tell through the REST API.

A training error fails the trial and is not retried. Infrastructure errors (the api cannot be
reached) are retried with backoff. A 409 means this attempt is fenced off: stop quietly.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import httpx
from celery.exceptions import SoftTimeLimitExceeded

from caviar.client import CaviarError, Client, Conflict
from caviar.settings import Settings
from worker.celery_app import app
from worker.objectives import Pruned, run_objective

log = logging.getLogger("caviar.worker")


def api_client() -> Client:
    return Client(Settings().api_url)


@app.task(
    name="caviar.run_trial",
    bind=True,
    autoretry_for=(httpx.TransportError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
)
def run_trial(
    self: Any,
    trial_id: int,
    attempt: int,
    params: dict[str, Any],
    objective: dict[str, Any],
    seed: int = 0,
) -> str:
    with api_client() as client:
        try:
            client.start(trial_id, attempt)
        except Conflict as exc:
            # Already claimed by this attempt (a redelivery after our own start) or fenced.
            log.info("trial %s attempt %s not started: %s", trial_id, attempt, exc)
            return "skipped"
        try:
            value = run_objective(client, trial_id, attempt, params, objective, seed)
        except Conflict:
            log.info("trial %s attempt %s fenced off; stopping", trial_id, attempt)
            return "fenced"
        except Pruned as p:
            return _tell(client, trial_id, attempt, "pruned", p.value, None)
        except (httpx.TransportError, CaviarError):
            raise
        except SoftTimeLimitExceeded:
            return _tell(client, trial_id, attempt, "failed", None, "time limit exceeded")
        except Exception as exc:  # the objective failed: the trial fails, no retry
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
            return _tell(client, trial_id, attempt, "failed", None, error)
        return _tell(client, trial_id, attempt, "completed", value, None)


def _tell(
    client: Client, trial_id: int, attempt: int, state: str, value: float | None, error: str | None
) -> str:
    try:
        client.tell(trial_id, attempt, state, value, error)
    except Conflict as exc:
        log.info("tell for trial %s attempt %s refused: %s", trial_id, attempt, exc)
        return "fenced"
    return state
