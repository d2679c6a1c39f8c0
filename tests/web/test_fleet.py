"""The fleet page in Chromium, against a real api with tokens and a real worker process that
holds a worker token: the worker with its host, current trial, last heard and finished count;
the queue depth; a requeue and its reason. Also the fleet metrics, read from the same run."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from prometheus_client.parser import text_string_to_metric_families

from caviar.client import Client
from tests.api.auth_helpers import make_tokens
from tests.api.liveness_helpers import GONE, LIVE, live_and_gone
from tests.services import api_server, backend, wait_for, worker_process
from tests.web.conftest import screenshot

pytestmark = pytest.mark.browser

QUICK = {
    "name": "quick",
    "objective": {"kind": "function", "name": "quadratic"},
    "space": {"w": {"type": "float", "low": -10, "high": 20}},
    "max_trials": 3,
    "parallelism": 1,
}
TRAINING = {
    "name": "training",
    "objective": {
        "kind": "train",
        "dataset": "digits",
        # long enough to be seen running (a digits epoch of a small network takes ~10 ms)
        "fixed": {"hidden_units": 256, "batch_size": 16, "epochs": 5000},
    },
    "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "scale": "log"}},
    "max_trials": 1,
}
SILENT = {
    "name": "silent",
    "objective": {"kind": "external"},
    "space": {"x": {"type": "float", "low": 0, "high": 1}},
    "max_trials": 1,
    "heartbeat_grace": 1,
}


def test_the_fleet_page_shows_workers_queue_and_requeues(page: Page, tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        tokens = make_tokens(be, ["admin", "viewer", "worker"])
        with (
            api_server(be, CAVIAR_RECONCILE_INTERVAL="0.3") as url,
            worker_process(be, url, concurrency=1, CAVIAR_TOKEN=tokens["worker"]) as worker,
            Client(url, token=tokens["admin"]) as c,
        ):
            quick = c.create_study(QUICK).id
            wait_for(
                lambda: c.study(quick).status == "completed",
                90,
                "the quick study",
                log=worker,
            )
            silent = c.create_study(SILENT).id
            asked = c.ask(silent)[0]
            wait_for(
                lambda: c.trials(silent).data[0].attempt == 2,
                30,
                "the silent trial's requeue",
            )
            training = c.create_study(TRAINING).id

            page.goto(f"{url}/")  # the viewer's token, as if typed into the prompt earlier
            page.evaluate(f"() => localStorage.setItem('caviar.token', {tokens['viewer']!r})")
            page.goto(f"{url}/#/fleet")
            row = page.get_by_test_id("worker-row")
            expect(row).to_have_count(1)
            name = row.get_attribute("data-worker") or ""
            assert re.fullmatch(r"w[0-9a-f]{6}@.+:\d+", name), name
            expect(row.get_by_test_id("worker-host")).to_have_text(socket.gethostname())
            expect(row.get_by_test_id("worker-trial")).to_contain_text(
                f"study {training} · trial 0", timeout=60_000
            )
            expect(row.get_by_test_id("worker-heard")).to_contain_text("s ago")
            expect(row.get_by_test_id("worker-finished")).to_have_text("3")
            expect(page.get_by_test_id("queue-depth")).to_have_text("0")
            requeue = page.locator(f"[data-testid=requeue-row][data-trial-id='{asked.id}']").first
            expect(requeue.get_by_test_id("requeue-kind")).to_have_text("requeued")
            expect(requeue.get_by_test_id("requeue-reason")).not_to_be_empty()
            screenshot(page, "fleet")
            page.evaluate("() => localStorage.clear()")

            metrics = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(
                    httpx.get(
                        f"{url}/metrics",
                        headers={"authorization": f"Bearer {tokens['viewer']}"},
                    ).text
                )
                for s in f.samples
            }
            assert metrics[("caviar_trial_events_total", (("kind", "requeued"),))] >= 1
            heard = [k for k in metrics if k[0] == "caviar_worker_last_heard_timestamp_seconds"]
            assert [dict(labels)["worker"] for _, labels in heard] == [name]


def test_a_worker_gone_silent_shows_offline_after_the_online_ones(
    page: Page, tmp_path: Path
) -> None:
    with backend("sqlite", tmp_path) as be, api_server(be) as url:
        live_and_gone(url)
        page.goto(f"{url}/#/fleet")
        rows = page.get_by_test_id("worker-row")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_have_attribute("data-worker", LIVE)
        expect(rows.nth(0).get_by_test_id("worker-state")).to_have_text("online")
        expect(rows.nth(1)).to_have_attribute("data-worker", GONE)
        expect(rows.nth(1)).to_have_attribute("data-online", "false")
        expect(rows.nth(1).get_by_test_id("worker-state")).to_have_text("offline")
        expect(rows.nth(1).locator(".state.offline")).to_have_attribute(
            "title", re.compile(r"not heard for over 1 s")
        )
        screenshot(page, "fleet-offline")
