"""The re-test timeline a person can read, in Chromium against a real api: "no schedule" when
there is nothing to draw, a dated axis, the next round with its date, dataset versions as
labelled ticks, a round's champion against its challengers on hover, and the trials table's
"round N" badges."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from caviar.client import Client
from tests.api.test_retests import _finished_round, external, run_out
from tests.services import api_server, backend
from tests.web.conftest import screenshot

pytestmark = pytest.mark.browser

MONTH = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        backend("sqlite", tmp_path_factory.mktemp("timeline-web")) as be,
        api_server(be, CAVIAR_RETEST_INTERVAL="0.3") as url,
    ):
        yield url


def test_no_schedule_says_so(page: Page, api: str) -> None:
    with Client(api) as c:
        sid = c.create_study(external(name="unscheduled", max_trials=3)).id
        run_out(c, sid, lambda x: x)
    page.goto(f"{api}/#/studies/{sid}")
    panel = page.get_by_test_id("retests-card")
    expect(panel.get_by_test_id("timeline-empty")).to_contain_text("No schedule")
    expect(panel.get_by_test_id("retest-timeline")).to_have_count(0)


def test_timeline_axis_shows_dates_and_rounds_show_their_numbers(page: Page, api: str) -> None:
    with Client(api) as c:
        s = c.create_study(
            external(
                name="dated",
                max_trials=8,
                retest={"every": "1h", "top_k": 2, "repeats": 2, "explore": 1},
            )
        )
        run_out(c, s.id, lambda x: (x - 0.2) ** 2)
        c.start_retest(s.id)
        run_out(c, s.id, lambda x: (x - 0.2) ** 2)
        rnd = _finished_round(c, s.id, 1)
        due = c.study(s.id).next_retest_at
        assert due is not None

    page.goto(f"{api}/#/studies/{s.id}")
    panel = page.get_by_test_id("retests-card")
    ticks = panel.get_by_test_id("timeline-tick")
    expect(ticks.first).to_have_text(re.compile(rf"^{MONTH}( \d{{4}})?( \d\d:\d\d)?$"))
    assert ticks.count() >= 2
    # The labels are the dates they stand for, in the page's local time.
    stamp = ticks.first.get_attribute("data-time")
    assert stamp is not None
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs((at - datetime.now(UTC)).total_seconds()) < 3 * 3600
    expect(panel.get_by_test_id("timeline-next-label")).to_have_text(
        re.compile(rf"^next {MONTH}( \d{{4}})? \d\d:\d\d$")
    )
    dot = panel.locator("[data-testid=timeline-round][data-number='1']")
    expect(dot).to_have_attribute("data-verdict", rnd.verdict or "")
    dot.hover()
    hover = panel.get_by_test_id("timeline-hover")
    expect(hover).to_be_visible()
    expect(hover).to_contain_text(f"Round 1 · {rnd.verdict}")
    expect(hover).to_contain_text("champion")
    expect(hover).to_contain_text("challenger #1 (top_k)")
    expect(hover).to_contain_text("challenger #2 (explore)")
    expect(hover).to_contain_text("(n=2)")
    shot = screenshot(page, "retest-timeline")
    panel.screenshot(path=str(shot.with_name("retest-timeline-panel.png")))

    expect(panel.get_by_test_id("retest-champion")).to_contain_text(
        "Champion after the latest judged round"
    )
    expect(panel.get_by_test_id("retest-champion")).to_contain_text("best search trial")

    badges = page.get_by_test_id("round-badge")
    expect(badges.first).to_have_text("round 1")
    expect(badges).to_have_count(6)  # 3 configurations × 2 repeats, on the table's first page


def test_dataset_versions_are_labelled_ticks(page: Page, api: str) -> None:
    def csv(seed: int) -> bytes:
        x = np.random.default_rng(seed).normal(size=(40, 2))
        rows = [f"{a:.3f},{b:.3f},{'up' if a > 0 else 'down'}" for a, b in x]
        return ("x1,x2,label\n" + "\n".join(rows) + "\n").encode()

    with Client(api) as c:
        c.upload_dataset("tl-data", csv(1))
        sid = c.create_study(
            {
                "name": "versions",
                "objective": {"kind": "train", "dataset": "tl-data", "epochs": 2},
                "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 0.3}},
                "max_trials": 2,
                "retest": {"every": "2h", "top_k": 1},
            }
        ).id
        c.upload_dataset("tl-data", csv(2))
    page.goto(f"{api}/#/studies/{sid}")
    versions = page.get_by_test_id("retests-card").get_by_test_id("timeline-dataset")
    expect(versions).to_have_count(2)
    expect(versions.filter(has_text="tl-data@1")).to_have_attribute("data-ref", "tl-data@1")
    expect(versions.filter(has_text="tl-data@2")).to_have_attribute("data-ref", "tl-data@2")
