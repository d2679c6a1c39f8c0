"""The trial task: claim the trial, run its objective, report and tell through the REST API.

A training error fails the trial and is not retried. Infrastructure errors are retried call
by call (``worker.api_client``): a short api outage neither aborts the task nor costs an
attempt, and a claim repeated after a lost answer is this worker's own again. A heartbeat
thread (``worker.heartbeat``) beats from the claim on. A 409 means this attempt is fenced
off: stop quietly.
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
from typing import Any

import httpx
from celery.exceptions import SoftTimeLimitExceeded

from caviar.client import CaviarError, Client, Conflict
from caviar.settings import Settings
from worker.api_client import RetryingClient
from worker.celery_app import app
from worker.heartbeat import Fenced, Heartbeat
from worker.objectives import Paused, Pruned, Run, run_objective

log = logging.getLogger("caviar.worker")


def worker_name(hostname: str | None) -> str:
    """This pool process's name: the Celery hostname and the pid."""
    return f"{hostname or 'worker'}:{os.getpid()}"[:200]


def api_client(worker: str | None = None) -> RetryingClient:
    """This pool process's client, kept from trial to trial: one connection to the api, and
    no client to build (TLS context, connection) for each trial of a tenth of a second."""
    settings = Settings()
    return _process_client(settings.api_url, settings.worker_retry_for, worker)


@functools.cache
def _process_client(url: str, retry_for: float, worker: str | None) -> RetryingClient:
    return RetryingClient(url, retry_for=retry_for, worker=worker)


@app.task(name="caviar.run_trial", bind=True)
def run_trial(
    self: Any,
    trial_id: int,
    attempt: int,
    params: dict[str, Any],
    objective: dict[str, Any],
    seed: int = 0,
    heartbeat_every: float = 5.0,
    resume: bool = True,
    **newer: Any,
) -> str:
    """Run one attempt of a trial. Keys that a newer api adds to the message land in ``newer``
    and are ignored, so api replicas and workers can be upgraded in either order."""
    if newer:
        log.info("trial %s: ignoring message keys %s", trial_id, sorted(newer))
    worker = worker_name(getattr(self.request, "hostname", None))

    def beat_client() -> Client:
        return Client(Settings().api_url, timeout=max(heartbeat_every, 2.0), worker=worker)

    client = api_client(worker)
    try:
        try:
            claimed = client.start(trial_id, attempt)
        except Conflict as exc:
            # Claimed by another worker (a duplicate message), or this attempt is stale.
            log.info("trial %s attempt %s not started: %s", trial_id, attempt, exc)
            return "skipped"
        except (httpx.TransportError, CaviarError) as exc:
            return _gave_up(trial_id, exc, "it stays queued")
        try:
            with Heartbeat(beat_client, trial_id, attempt, heartbeat_every, claimed.claim):
                run = Run(trial_id, attempt, seed, resume, claimed.commands)
                return _run(client, run, params, objective)
        except Fenced:
            log.info("trial %s attempt %s fenced off; stopped", trial_id, attempt)
            return "fenced"
    finally:
        client.forget(trial_id, attempt)


def _run(client: Client, run: Run, params: dict[str, Any], objective: dict[str, Any]) -> str:
    trial_id, attempt = run.trial_id, run.attempt
    try:
        value = run_objective(client, run, params, objective)
    except Conflict:
        log.info("trial %s attempt %s fenced off; stopping", trial_id, attempt)
        return "fenced"
    except Paused:
        log.info("trial %s attempt %s paused; its worker slot is free", trial_id, attempt)
        return "paused"
    except Pruned as p:
        return _tell(client, trial_id, attempt, "pruned", p.value, None)
    except (httpx.TransportError, CaviarError) as exc:
        return _gave_up(trial_id, exc, "the reaper requeues it")
    except SoftTimeLimitExceeded:
        return _tell(client, trial_id, attempt, "failed", None, "time limit exceeded")
    except Exception as exc:  # the objective failed: the trial fails, no retry
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        return _tell(client, trial_id, attempt, "failed", None, error)
    return _tell(client, trial_id, attempt, "completed", value, None)


def _gave_up(trial_id: int, exc: httpx.TransportError | CaviarError, then: str) -> str:
    """Log why this worker stopped talking to the api about a trial, and what happens to the
    trial (``then``): a refused token is an error that says how to mend it."""
    if isinstance(exc, CaviarError) and exc.status in (401, 403):
        log.error(
            "trial %s: the api refused this worker (%s); CAVIAR_TOKEN must hold a worker token "
            "(caviar token create --role worker); %s",
            trial_id,
            exc,
            then,
        )
        return "refused"
    if isinstance(exc, CaviarError) and exc.status < 500:
        log.warning("trial %s: the api answered %s; %s", trial_id, exc, then)
    else:
        log.warning("trial %s: the api stayed away (%s); %s", trial_id, exc, then)
    return "abandoned"


def _tell(
    client: Client, trial_id: int, attempt: int, state: str, value: float | None, error: str | None
) -> str:
    try:
        client.tell(trial_id, attempt, state, value, error)
    except Conflict as exc:
        log.info("tell for trial %s attempt %s refused: %s", trial_id, attempt, exc)
        return "fenced"
    except (httpx.TransportError, CaviarError) as exc:
        log.warning("trial %s: could not tell (%s); the reaper requeues it", trial_id, exc)
        return "abandoned"
    return state
