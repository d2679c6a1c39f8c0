"""The Re-tests panel in a real browser against a real api: the schedule edited in place, the
next round's time, rounds appearing on the timeline as they finish, the stale badge on the
study page and the studies page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from caviar.client import Client
from tests.api.test_retests import external, run_out
from tests.services import api_server, backend
from tests.web.conftest import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        backend("sqlite", tmp_path_factory.mktemp("retest-web")) as be,
        api_server(be, CAVIAR_RETEST_INTERVAL="0.3") as url,
    ):
        yield url


def near(centre: float, offset: float = 0.0) -> Callable[[float], float]:
    return lambda x: (x - centre) ** 2 + offset


def test_rounds_timeline_and_stale_badge(page: Page, api: str) -> None:
    with Client(api) as c:
        sid = c.create_study(external(name="drifting-web", max_trials=6)).id
        run_out(c, sid, near(0.2))

        page.goto(f"{api}/#/studies/{sid}")
        panel = page.get_by_test_id("retests-card")
        expect(panel.get_by_test_id("retest-next")).to_have_text("no schedule")
        panel.get_by_test_id("retest-every").fill("1h")
        panel.get_by_test_id("retest-top-k").fill("2")
        panel.get_by_test_id("retest-repeats").fill("2")
        panel.get_by_test_id("retest-explore").fill("1")
        panel.get_by_test_id("retest-save").click()
        expect(panel.get_by_test_id("retest-next")).to_contain_text(
            re.compile(r"next re-test in (60 min|59 min)")
        )
        expect(panel.get_by_test_id("timeline-next")).to_have_count(1)
        assert c.study(sid).retest is not None

        panel.get_by_test_id("retest-top-k").fill("99")  # more than the finished trials
        panel.get_by_test_id("retest-save").click()
        expect(panel.get_by_test_id("retest-error")).to_contain_text("retest.top_k")

        panel.get_by_test_id("retest-now").click()
        rounds = panel.get_by_test_id("timeline-round")
        expect(rounds).to_have_count(1)
        expect(rounds.first).to_have_attribute("data-verdict", "running")
        panel.get_by_test_id("retest-now").click()  # one runs: the api says 409
        expect(panel.get_by_test_id("retest-error")).to_contain_text("still running")
        run_out(c, sid, near(0.2))
        expect(rounds.first).to_have_attribute("data-verdict", re.compile("fresh|stale"))

        panel.get_by_test_id("retest-now").click()
        expect(rounds).to_have_count(2)
        run_out(c, sid, near(0.8, offset=1.0))  # the world moved and everything got worse
        expect(panel.locator("[data-testid=timeline-round][data-number='2']")).to_have_attribute(
            "data-verdict", "stale"
        )
        expect(panel.get_by_test_id("stale-badge")).to_be_visible()
        expect(panel.get_by_test_id("retest-round")).to_have_count(2)
        expect(panel.get_by_test_id("retest-round").first).to_contain_text("mean ± SE")
        screenshot(page, "retests-panel")

        page.goto(f"{api}/")
        row = page.locator(f"[data-testid=study-row][data-study-id='{sid}']")
        expect(row.get_by_test_id("stale-badge")).to_be_visible()
        expect(row.get_by_test_id("next-retest")).to_have_text(re.compile(r"in (60|59) min"))
        screenshot(page, "studies-stale")
