"""``/api/fleet`` against a real api: a worker not heard of within its window is offline and
listed after the online ones; the fields it had before stay."""

from __future__ import annotations

import httpx

from caviar.client import Client
from tests.api.liveness_helpers import GONE, LIVE, external, live_and_gone
from tests.services import wait_for


def test_a_worker_silent_past_its_window_is_offline_and_listed_last(api_url: str) -> None:
    live_and_gone(api_url)
    workers = httpx.get(f"{api_url}/api/fleet").json()["workers"]
    mine = [w for w in workers if w["worker"] in (LIVE, GONE)]
    assert [(w["worker"], w["online"], w["window"]) for w in mine] == [
        (LIVE, True, 60.0),
        (GONE, False, 1.0),
    ]
    live, gone = mine
    assert live["current_trial"] is not None and gone["current_trial"] is None
    assert (gone["host"], gone["finished"]) == ("earlier-run", 1)
    assert gone["last_heard"] > live["last_heard"]  # heard of last, yet listed last


def test_a_trial_the_reaper_fails_is_not_word_from_its_worker(api_url: str) -> None:
    """The reaper failing a silent worker's last attempt (or a person's stop, a cancel) sets the
    trial's finish, not the worker's last word: the worker stays offline."""
    silent = "silent@here:3"
    body = {**external("reaped", 1), "max_attempts": 1}
    with Client(api_url) as admin, Client(api_url, worker=silent) as w:
        sid = admin.create_study(body).id
        [t] = w.ask(sid)
        w.heartbeat(t.id, t.attempt)
        wait_for(lambda: admin.trial(t.id).state == "failed", 20, "the reaper's fail")
        workers = httpx.get(f"{api_url}/api/fleet").json()["workers"]
    [mine] = [x for x in workers if x["worker"] == silent]
    assert mine["online"] is False, mine
