"""The dashboard in a real browser (Debian's Chromium, headless) against a real api with seeded
studies: the studies page, the form (and its errors), the regions of a coarse-to-fine study,
learning curves, the trials table, and live updates."""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from caviar.client import Client
from caviar.states import TRIAL_STATES
from tests.web.conftest import Site, screenshot
from tests.web.seed import SPACE, loss, study_body

pytestmark = pytest.mark.browser


def open_study(page: Page, site: Site, study_id: int) -> None:
    page.goto(f"{site.url}/#/studies/{study_id}")
    expect(page.get_by_test_id("app")).to_have_attribute("data-ready", "1")


def plot(page: Page, testid: str, what: str) -> Any:
    """A property of a drawn Plotly figure, e.g. what='layout.shapes'."""
    return page.evaluate(f"() => document.querySelector('[data-testid={testid}]').{what}")


def plot_coord(bound: dict[str, Any], scale: str) -> tuple[float, float]:
    """Where the dashboard draws a region's bounds: real units on a log axis; -log10(1 - x)
    for reverse_log; real units on a linear axis."""
    lo, hi = bound["low"], bound["high"]
    if scale == "reverse_log":
        return -math.log10(1 - lo), -math.log10(1 - hi)
    return lo, hi


def test_studies_page_lists_the_studies(page: Page, site: Site) -> None:
    page.goto(site.url + "/")
    rows = page.get_by_test_id("study-row")
    expect(rows).to_have_count(len(site.ids))
    c2f = page.locator(f"[data-testid=study-row][data-study-id='{site.ids['c2f-demo']}']")
    expect(c2f.get_by_test_id("study-status")).to_have_text("completed")
    expect(c2f.get_by_test_id("study-progress")).to_contain_text("64 / 64")
    screenshot(page, "studies")


def test_create_a_study_through_the_form(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/#/new")
    page.get_by_test_id("study-name").fill("made-in-the-form")
    page.get_by_test_id("objective-kind").select_option("external")
    page.get_by_test_id("strategy").select_option("random")
    page.get_by_test_id("pruner").select_option("median")
    page.get_by_test_id("max-trials").fill("30")
    page.get_by_test_id("seed").fill("11")
    rows = page.get_by_test_id("space-row")
    expect(rows).to_have_count(3)
    # the scale preview shows 20 draws
    preview = rows.nth(0).get_by_test_id("scale-preview")
    expect(preview).to_have_attribute("data-draws", re.compile(r"^([^,]+,){19}[^,]+$"))
    page.get_by_test_id("add-param").click()
    new = rows.nth(3)
    new.get_by_test_id("param-name").fill("optimizer")
    new.get_by_test_id("param-type").select_option("categorical")
    new.get_by_test_id("param-choices").fill("momentum, rmsprop, adam")
    screenshot(page, "form")
    page.get_by_test_id("submit-study").click()

    expect(page).to_have_url(re.compile(r"#/studies/\d+$"))
    expect(page.get_by_test_id("study-name")).to_have_text("made-in-the-form")
    study_id = int(page.url.rsplit("/", 1)[1])
    config = httpx.get(f"{site.url}/api/studies/{study_id}").json()["config"]
    assert config["space"]["learning_rate"] == SPACE["learning_rate"]
    assert config["space"]["beta"]["scale"] == "reverse_log"
    assert config["space"]["optimizer"]["choices"] == ["momentum", "rmsprop", "adam"]
    assert config["pruner"]["name"] == "median" and config["seed"] == 11

    page.get_by_test_id("nav-studies").click()
    row = page.locator(f"[data-testid=study-row][data-study-id='{study_id}']")
    expect(row.get_by_test_id("study-link")).to_have_text("made-in-the-form")


def test_form_errors_are_shown_next_to_their_fields(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/#/new")
    page.get_by_test_id("objective-kind").select_option("external")
    lr = page.get_by_test_id("space-row").nth(0)
    lr.get_by_test_id("param-high").fill("0.00001")  # below low = 0.0001
    beta = page.get_by_test_id("space-row").nth(1)
    beta.get_by_test_id("param-high").fill("1.5")  # reverse_log needs high < 1
    page.get_by_test_id("submit-study").click()

    high = page.locator("[data-field='space.learning_rate.high']")
    expect(high.get_by_test_id("error-space.learning_rate.high")).to_contain_text(
        "greater than low"
    )
    expect(high).to_have_class(re.compile(r"\binvalid\b"))
    expect(page.get_by_test_id("error-space.beta.high")).to_contain_text("high < 1")
    expect(page.get_by_test_id("error-name")).to_contain_text("at least 1 character")
    expect(page.get_by_test_id("error-space.hidden_units.high")).to_be_empty()
    screenshot(page, "form-errors")

    # fixing the fields clears their errors and creates the study
    lr.get_by_test_id("param-high").fill("1")
    beta.get_by_test_id("param-high").fill("0.999")
    page.get_by_test_id("study-name").fill("fixed-after-errors")
    page.get_by_test_id("submit-study").click()
    expect(page.get_by_test_id("study-name")).to_have_text("fixed-after-errors")


def test_coarse_to_fine_regions_are_drawn_one_rectangle_per_stage(page: Page, site: Site) -> None:
    study_id = site.ids["c2f-demo"]
    regions = httpx.get(f"{site.url}/api/studies/{study_id}/regions").json()
    assert len({r["stage"] for r in regions}) >= 3, "the seed should make several stages"
    open_study(page, site, study_id)
    page.get_by_test_id("pair-x").select_option("learning_rate")
    page.get_by_test_id("pair-y").select_option("beta")
    expect(page.get_by_test_id("plot-regions")).to_have_attribute("data-drawn", re.compile("."))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=plot-regions]').layout.yaxis.title.text"
        ".startsWith('beta')"
    )
    layout = plot(page, "plot-regions", "_fullLayout")
    assert layout["xaxis"]["type"] == "log"
    shapes = {s["name"]: s for s in plot(page, "plot-regions", "layout.shapes")}
    assert len(shapes) == len(regions)
    stages = sorted(r["stage"] for r in regions)
    assert stages == list(range(len(regions))), "one region per stage"
    for r in regions:
        s = shapes[f"region-{r['id']}"]
        x0, x1 = plot_coord(r["bounds"]["learning_rate"], "log")
        y0, y1 = plot_coord(r["bounds"]["beta"], "reverse_log")
        assert (s["x0"], s["x1"]) == (pytest.approx(x0, rel=1e-9), pytest.approx(x1, rel=1e-9))
        assert (s["y0"], s["y1"]) == (pytest.approx(y0, rel=1e-9), pytest.approx(y1, rel=1e-9))
    labels = [a["text"] for a in plot(page, "plot-regions", "layout.annotations")]
    assert sorted(labels) == [f"stage {s}" for s in stages]
    # reverse_log ticks are labelled in β and evenly spaced per decade of 1 - β
    ticks = dict(
        zip(
            plot(page, "plot-regions", "layout.yaxis.ticktext"),
            plot(page, "plot-regions", "layout.yaxis.tickvals"),
            strict=True,
        )
    )
    assert ticks["0.99"] - ticks["0.9"] == pytest.approx(ticks["0.999"] - ticks["0.99"])
    # the table of regions and the slice strips' bands agree
    expect(page.get_by_test_id("region-row")).to_have_count(len(regions))
    bands = plot(page, "plot-slices", "layout.shapes")
    assert len(bands) == (len(regions) - 1) * len(SPACE)
    screenshot(page, "study-coarse-to-fine")


def test_hover_shows_the_trial(page: Page, site: Site) -> None:
    open_study(page, site, site.ids["c2f-demo"])
    texts = plot(page, "plot-regions", "data[0].hovertext")
    numbers = plot(page, "plot-regions", "data[0].customdata")
    trials = httpx.get(f"{site.url}/api/studies/{site.ids['c2f-demo']}/trials").json()["data"]
    by_number = {t["number"]: t for t in trials}
    t = by_number[numbers[0]]
    assert f"trial #{t['number']}" in texts[0] and f"stage {t['stage']}" in texts[0]


def test_learning_curves_mark_pruned_trials_with_the_reason(page: Page, site: Site) -> None:
    study_id = site.ids["random-demo"]
    open_study(page, site, study_id)
    curves = page.get_by_test_id("plot-curves")
    data = plot(page, "plot-curves", "data")
    cut = next(t for t in data if t["name"] == "pruned here")
    counts = httpx.get(f"{site.url}/api/studies/{study_id}").json()["counts"]
    assert counts["pruned"] > 0 and len(cut["x"]) == counts["pruned"]
    assert all("pruned by median" in text for text in cut["hovertext"])
    number = cut["customdata"][0]
    trial = next(
        t
        for t in httpx.get(f"{site.url}/api/studies/{study_id}/trials").json()["data"]
        if t["number"] == number
    )
    assert cut["x"][0] == trial["prune_reason"]["step"]
    expect(curves).to_have_attribute("data-cuts", str(counts["pruned"]))
    screenshot(page, "study-random-pruned")


def test_trials_table_filters_sorts_and_exports(page: Page, site: Site) -> None:
    study_id = site.ids["c2f-demo"]
    trials = httpx.get(f"{site.url}/api/studies/{study_id}/trials").json()["data"]
    open_study(page, site, study_id)
    count = page.get_by_test_id("trials-count")
    expect(count).to_have_text(f"{len(trials)} trials")
    states = page.get_by_test_id("filter-state").locator("input")
    expect(states).to_have_count(len(TRIAL_STATES))  # served from caviar/states.py
    page.get_by_test_id("filter-stage-2").check()
    in_stage = [t for t in trials if t["stage"] == 2]
    expect(count).to_have_text(f"{len(in_stage)} trials")
    expect(page.get_by_test_id("trial-row").first).to_have_attribute(
        "data-number", str(max(t["number"] for t in in_stage))
    )
    page.get_by_test_id("sort-value").click()
    best = min(in_stage, key=lambda t: t["value"])
    expect(page.get_by_test_id("trial-row").first).to_have_attribute(
        "data-number", str(best["number"])
    )
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [int(r["number"]) for r in rows][:1] == [best["number"]]
    assert sorted(int(r["number"]) for r in rows) == sorted(t["number"] for t in in_stage)
    assert set(rows[0]) >= {"number", "state", "stage", "value", *SPACE}


def test_a_live_update_arrives_without_reloading(page: Page, site: Site) -> None:
    with Client(site.url) as c:
        s = c.create_study(study_body("live", {"name": "random"}, 10, seed=3))
        first, second = c.ask(s.id, 2)
        c.tell(first.id, 1, "completed", loss(first.params))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        open_study(page, site, s.id)
        expect(page.get_by_test_id("finished-count")).to_have_text("1")
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-cursor", "1")

        c.tell(second.id, 1, "completed", loss(second.params))  # a watched trial finishes
        [third] = c.ask(s.id, 1)  # and a new one is told
        c.report(third.id, 1, 0, 2.0)
        c.tell(third.id, 1, "completed", 0.05)
        expect(page.get_by_test_id("finished-count")).to_have_text("3", timeout=2500)
        expect(page.get_by_test_id("live-status")).to_have_attribute(
            "data-cursor", "2", timeout=2500
        )
        expect(page.locator("[data-testid=trial-row][data-number='2']")).to_be_visible()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=plot-history]').data"
            ".filter(t => t.name.startsWith('stage')).reduce((n, t) => n + t.x.length, 0) === 3"
        )
        expect(page.get_by_test_id("study-best")).to_contain_text("0.05")
        screenshot(page, "study-live")
    snapshots = [u for u in requests if re.search(r"/dashboard(\?|$)", u)]
    updates = [u for u in requests if "/dashboard/updates" in u]
    assert len(snapshots) == 1, "the snapshot is read once; then only updates"
    assert any("after=1" in u and "watch=1" in u for u in updates), updates
