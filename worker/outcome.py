"""How an attempt ends, as its worker tells the api: the outcome of its objective (a value,
a prune, a pause, a fence, an error) becomes a tell, or nothing when the attempt is no longer
this worker's. Shared by a trial trained alone and each member of a fused run."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
from celery.exceptions import SoftTimeLimitExceeded

from caviar.client import CaviarError, Client, Conflict
from worker.heartbeat import Fenced
from worker.objectives.base import Paused, Pruned

log = logging.getLogger("caviar.worker")


def settle(client: Client, trial_id: int, attempt: int, work: Callable[[], float]) -> str:
    """Run ``work`` (what is left of the attempt: it returns the final value or raises) and
    tell its outcome; returns it ("completed", "pruned", "failed", "paused", "fenced",
    "abandoned", "refused")."""
    try:
        value = work()
    except (Conflict, Fenced):
        log.info("trial %s attempt %s fenced off; stopping", trial_id, attempt)
        return "fenced"
    except Paused:
        log.info("trial %s attempt %s paused; its worker slot is free", trial_id, attempt)
        return "paused"
    except Pruned as p:
        return tell(client, trial_id, attempt, "pruned", p.value, None)
    except (httpx.TransportError, CaviarError) as exc:
        return gave_up(trial_id, exc, "the reaper requeues it")
    except SoftTimeLimitExceeded:
        return tell(client, trial_id, attempt, "failed", None, "time limit exceeded")
    except Exception as exc:  # the objective failed: the trial fails, no retry
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        return tell(client, trial_id, attempt, "failed", None, error)
    return tell(client, trial_id, attempt, "completed", value, None)


def gave_up(trial_id: int, exc: httpx.TransportError | CaviarError, then: str) -> str:
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


def tell(
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
