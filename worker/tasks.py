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
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from caviar.client import CaviarError, Client, Conflict
from caviar.settings import Settings
from worker.api_client import RetryingClient
from worker.celery_app import app
from worker.heartbeat import Beats, Fenced, Heartbeat
from worker.objectives import Run, run_objective
from worker.objectives.fused_train import FusedRun, claim_companions, fusion_size
from worker.outcome import gave_up, settle

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
    # A nonce of this task's own: a repeated /start or /companions after a lost answer claims
    # again what this task claimed, never an attempt an earlier task of this process gave up.
    client.nonce = secrets.token_urlsafe(24)
    try:
        try:
            claimed = client.start(trial_id, attempt)
        except Conflict as exc:
            # Claimed by another worker (a duplicate message), or this attempt is stale.
            log.info("trial %s attempt %s not started: %s", trial_id, attempt, exc)
            return "skipped"
        except (httpx.TransportError, CaviarError) as exc:
            return gave_up(trial_id, exc, "it stays queued")
        run = Run(trial_id, attempt, seed, resume, claimed.commands)
        size = fusion_size(run, params, objective)
        if size > 1:
            try:
                mates = claim_companions(client, run, size)
            except Conflict as exc:
                log.info("trial %s attempt %s fenced off: %s", trial_id, attempt, exc)
                return "fenced"
            if mates:
                members = [(run, params), *mates]
                return _run_fused(client, beat_client, heartbeat_every, members, objective)
        try:
            with Heartbeat(beat_client, trial_id, attempt, heartbeat_every, claimed.claim):
                return settle(
                    client, trial_id, attempt, lambda: run_objective(client, run, params, objective)
                )
        except Fenced:
            log.info("trial %s attempt %s fenced off; stopped", trial_id, attempt)
            return "fenced"
    finally:
        client.forget(trial_id, attempt)


def _run_fused(
    client: Client,
    beat_client: Callable[[], Client],
    heartbeat_every: float,
    members: list[tuple[Run, dict[str, Any]]],
    objective: dict[str, Any],
) -> str:
    """Train the claimed trial (first) and the companions it claimed as one fused network;
    the leader's outcome is the task's (each companion's own broker message finds it
    claimed: 409)."""
    run = members[0][0]
    ids = [r.trial_id for r, _ in members]
    log.info("trial %s: training %d trials fused: %s", run.trial_id, len(members), ids)
    with Beats(beat_client, heartbeat_every) as beats:
        for r, _ in members:
            beats.add(r.trial_id, r.attempt, client.claim_of(r.trial_id, r.attempt))
        outcomes = FusedRun(client, members, objective, beats).run()
    log.info(
        "fused run of %d trials done: %s",
        len(members),
        ", ".join(f"{key} {outcome}" for key, outcome in outcomes.items()),
    )
    return outcomes.get(run.trial_id, "abandoned")
