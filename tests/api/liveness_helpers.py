"""Two external workers for the fleet's liveness tests: one still training, one gone."""

from __future__ import annotations

from typing import Any

import httpx

from caviar.client import Client
from tests.services import wait_for

LIVE = "live@here:2"
GONE = "gone@earlier-run:1"


def external(name: str, grace: float) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {"kind": "external"},
        "space": {"x": {"type": "float", "low": 0, "high": 1}},
        "max_trials": 1,
        "heartbeat_grace": grace,
    }


def live_and_gone(url: str, token: str | None = None) -> None:
    """``LIVE`` holds a running trial of a study whose heartbeat grace is 60 s; ``GONE``, heard
    of after it, finished a trial of a study whose grace is 1 s and was not heard of since.
    Returns once ``GONE`` has been silent for longer than its window."""
    with (
        Client(url, token=token) as admin,
        Client(url, token=token, worker=GONE) as gone,
        Client(url, token=token, worker=LIVE) as live,
    ):
        [now] = live.ask(admin.create_study(external("now", 60)).id)
        live.heartbeat(now.id, now.attempt)
        [old] = gone.ask(admin.create_study(external("earlier", 1)).id)
        gone.heartbeat(old.id, old.attempt)
        gone.tell(old.id, old.attempt, "completed", 0.5)

    def gone_offline() -> bool:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        workers = httpx.get(f"{url}/api/fleet", headers=headers).json()["workers"]
        return any(w["worker"] == GONE and not w["online"] for w in workers)

    wait_for(gone_offline, 20, f"{GONE} offline")
