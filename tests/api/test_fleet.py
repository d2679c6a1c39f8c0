"""``/api/fleet`` against a real api: a worker not heard of within its window is offline and
listed after the online ones; the fields it had before stay."""

from __future__ import annotations

import httpx

from tests.api.liveness_helpers import GONE, LIVE, live_and_gone


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
