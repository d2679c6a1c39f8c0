"""The dashboard's papercuts, fixed and checked in Chromium against a real api with seeded
studies: the studies page's direction column and page titles, the learning-curves panel of an
objective that never reports, one colour scale for pruned and completed points, a log
objective axis over decades, counts of distinct values, importance, rename and delete, from a
point or a table row to the trial's page, and which Plotly bundle the page loads."""

from __future__ import annotations

import itertools
import math
import re

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from caviar.client import Client
from tests.web.conftest import Site, screenshot
from tests.web.seed import study_body
from tests.web.test_dashboard import open_study, plot

pytestmark = pytest.mark.browser


def test_the_studies_page_shows_direction_and_titles_follow_the_page(
    page: Page, site: Site
) -> None:
    page.goto(site.url + "/")
    head = page.get_by_test_id("studies").locator("thead th")
    expect(head.nth(3)).to_have_text("direction")
    row = page.locator(f"[data-testid=study-row][data-study-id='{site.ids['c2f-demo']}']")
    expect(row.get_by_test_id("study-direction")).to_have_text("minimize")
    expect(page).to_have_title("Studies · Caviar")
    open_study(page, site, site.ids["c2f-demo"])
    expect(page).to_have_title("c2f-demo · Caviar")
    page.get_by_test_id("nav-new").click()
    expect(page.get_by_test_id("study-form")).to_be_visible()
    expect(page).to_have_title("New study · Caviar")


def test_an_objective_that_never_reports_has_no_curves_panel(page: Page, site: Site) -> None:
    open_study(page, site, site.ids["decades-demo"])
    expect(page.get_by_test_id("curves-card")).to_be_hidden()
    expect(page.get_by_test_id("history-card")).to_be_visible()
    # History takes the whole row
    width = page.get_by_test_id("history-card").bounding_box()["width"]  # type: ignore[index]
    assert width > 0.8 * page.get_by_test_id("parcoords-card").bounding_box()["width"]  # type: ignore[index]
    open_study(page, site, site.ids["random-demo"])
    expect(page.get_by_test_id("curves-card")).to_be_visible()


def test_parallel_coordinates_use_a_log_objective_axis_over_decades(page: Page, site: Site) -> None:
    open_study(page, site, site.ids["decades-demo"])
    parcoords = page.get_by_test_id("plot-parcoords")
    expect(parcoords).to_have_attribute("data-objective-scale", "log")
    texts = plot(page, "plot-parcoords", "layout.annotations.map(a => a.text)")
    ticks = texts[texts.index("<b>objective</b>") + 1 :]
    assert ticks[:3] == ["0.001", "0.01", "0.1"], ticks  # powers of ten, not 4 even steps
    open_study(page, site, site.ids["c2f-demo"])  # 0.1 to about 6: linear
    expect(page.get_by_test_id("plot-parcoords")).to_have_attribute(
        "data-objective-scale", "linear"
    )


def test_pruned_points_share_the_completed_colour_scale(page: Page, site: Site) -> None:
    open_study(page, site, site.ids["random-demo"])
    traces = plot(page, "plot-regions", "data")
    by_name = {t["name"]: t for t in traces}
    done, pruned = by_name["completed"]["marker"], by_name["pruned"]["marker"]
    assert (pruned["cmin"], pruned["cmax"]) == (done["cmin"], done["cmax"])
    assert pruned["reversescale"] == done["reversescale"]
    assert pruned["color"] == [round(v, 6) for v in pruned["color"]]  # raw values, not rescaled
    screenshot(page, "study-random-pruned")


def test_distinct_values_are_counts(page: Page, site: Site) -> None:
    open_study(page, site, site.ids["c2f-demo"])
    cells = page.get_by_test_id("distinct").locator("tbody td.num")
    expect(cells.first).to_be_visible()
    for text in cells.all_inner_texts():
        assert re.fullmatch(r"\d+", text), text


def test_importance_chart_ranks_the_hyperparameters(page: Page, site: Site) -> None:
    open_study(page, site, site.ids["c2f-demo"])
    bars = plot(page, "plot-importance", "data[0]")
    scores = dict(zip(bars["y"], bars["x"], strict=True))
    assert set(scores) == {"learning_rate", "beta", "hidden_units", "optimizer"}
    # the seeded loss depends on learning_rate and beta most, on the optimizer least
    assert bars["y"][-1] in ("learning_rate", "beta")
    assert scores["learning_rate"] > scores["optimizer"]
    assert all(0 <= v <= 1 for v in scores.values())
    screenshot(page, "study-coarse-to-fine")


def test_a_table_row_and_a_point_open_the_trial(page: Page, site: Site) -> None:
    study_id = site.ids["random-demo"]
    open_study(page, site, study_id)
    row = page.get_by_test_id("trial-row").first
    trial_id = row.get_attribute("data-trial-id")
    row.click()
    expect(page).to_have_url(re.compile(rf"#/trials/{trial_id}$"))
    expect(page.get_by_test_id("trial-title")).to_have_text(
        re.compile(rf"Trial #{row_number(site, trial_id)}")
    )
    expect(page.get_by_test_id("trial-study")).to_have_attribute("href", f"#/studies/{study_id}")
    expect(page.get_by_test_id("report-row").first).to_be_visible()
    screenshot(page, "trial")

    open_study(page, site, study_id)
    number = plot(page, "plot-regions", "data[0].customdata[0]")
    page.evaluate(
        """(n) => {
          const el = document.querySelector('[data-testid=plot-regions]');
          el.emit('plotly_click', {points: [{customdata: n}]});
        }""",
        number,
    )
    expect(page.get_by_test_id("trial-title")).to_have_text(f"Trial #{number}")


def row_number(site: Site, trial_id: str | None) -> int:
    return int(httpx.get(f"{site.url}/api/trials/{trial_id}").json()["number"])


def test_rename_and_delete_a_study(page: Page, site: Site) -> None:
    with Client(site.url) as c:
        s = c.create_study(study_body("short-lived", {"name": "random"}, 5))
    open_study(page, site, s.id)
    page.once("dialog", lambda d: d.accept("renamed in the browser"))
    page.get_by_test_id("rename-study").click()
    expect(page.get_by_test_id("study-name")).to_have_text("renamed in the browser")
    expect(page).to_have_title("renamed in the browser · Caviar")
    assert httpx.get(f"{site.url}/api/studies/{s.id}").json()["name"] == "renamed in the browser"
    expect(page.get_by_test_id("delete-study")).to_have_count(0)  # running: cancel first
    page.once("dialog", lambda d: d.accept())
    page.get_by_test_id("cancel-study").click()
    page.once("dialog", lambda d: d.accept())
    page.get_by_test_id("delete-study").click()
    expect(page).to_have_url(re.compile(r"#/$"))
    assert httpx.get(f"{site.url}/api/studies/{s.id}").status_code == 404
    expect(page.locator(f"[data-testid=study-row][data-study-id='{s.id}']")).to_have_count(0)


FAKE_GPU = """
const real = HTMLCanvasElement.prototype.getContext;
HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
  if (kind !== "webgl") return real.call(this, kind, ...rest);
  return {
    RENDERER: 0x1f01,
    getExtension: (name) =>
      name === "WEBGL_debug_renderer_info" ? { UNMASKED_RENDERER_WEBGL: 0x9246 } : null,
    getParameter: () => "ANGLE (NVIDIA, NVIDIA GeForce RTX 4070)",
  };
};
"""


def test_without_a_gpu_the_study_page_loads_plotlys_basic_bundle(
    page: Page, site: Site, browser_context: BrowserContext
) -> None:
    open_study(page, site, site.ids["c2f-demo"])
    loaded = page.evaluate("performance.getEntriesByType('resource').map(r => r.name)")
    assert any(u.endswith("/vendor/plotly-basic.min.js") for u in loaded), loaded
    assert not any(u.endswith("/vendor/plotly.min.js") for u in loaded), loaded
    assert plot(page, "plot-importance", "data[0].type") == "bar"
    # With a hardware GPU the page asks for the full bundle (WebGL parcoords and scattergl).
    gpu = browser_context.new_page()
    try:
        gpu.add_init_script(FAKE_GPU)
        gpu.goto(site.url + "/")
        assert gpu.evaluate("import('/js/plotly.js').then(m => [m.webgl(), m.bundle()])") == [
            "hardware",
            "/vendor/plotly.min.js",
        ]
    finally:
        gpu.close()


def tick_boxes(page: Page, selector: str) -> list[tuple[str, dict[str, float]]]:
    """The text and bounding box of each tick label that ``selector`` finds in the page."""
    labels = page.locator(selector)
    return [
        (labels.nth(i).text_content() or "", labels.nth(i).bounding_box() or {})
        for i in range(labels.count())
    ]


def test_the_learning_rate_axis_labels_decades_only(page: Page, site: Site) -> None:
    """A learning rate set from about 0.012 down to 0.0012: its log axis is labelled at powers
    of ten only (0.001, 0.01 and 0.1), and no two labels overlap (Plotly's minor labels, 2 to 9
    within a decade, ran into each other on this short axis)."""
    with Client(site.url) as c:
        space = {"learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"}}
        body = {"name": "lr-axis", "objective": {"kind": "external"}, "space": space}
        sid = c.create_study({**body, "max_trials": 1}).id
        [t] = c.ask(sid)
        for step in range(1, 31):
            lr = 0.012 * 10 ** (-(step - 1) / 29)
            c.report(t.id, t.attempt, step, 1 / step, metrics={"learning_rate": lr})
        try:
            page.goto(f"{site.url}/#/trials/{t.id}")
            curves = page.get_by_test_id("trial-curves")
            expect(curves).to_have_attribute("data-last-step", "30")
            expect(curves.locator("g.y3tick text").first).to_be_visible()
            ticks = tick_boxes(page, "[data-testid=trial-curves] g.y3tick text")
            texts = [text for text, _ in ticks]
            assert {"0.001", "0.01"} <= set(texts), texts
            assert all(math.log10(float(x)).is_integer() for x in texts), texts
            boxes = sorted((b for _, b in ticks), key=lambda b: b["y"])
            for upper, lower in itertools.pairwise(boxes):
                assert upper["y"] + upper["height"] <= lower["y"], boxes
            screenshot(page, "trial-lr-axis")
        finally:
            c.tell(t.id, t.attempt, "completed", 1 / 30)
            c.delete_study(sid)


def test_the_sampler_dropdown_is_as_wide_as_its_choices(page: Page, site: Site) -> None:
    """The coarse-to-fine sampler's select sizes to its choices (gp, sobol, random) like the
    other selects, not to the width of its long hint."""
    page.goto(f"{site.url}/#/new")
    sampler = page.get_by_test_id("strategy-sampler")
    expect(sampler).to_be_visible()
    box = sampler.bounding_box()
    holder = page.locator("[data-field='strategy.sampler']").bounding_box()
    strategy = page.get_by_test_id("strategy").bounding_box()
    assert box is not None and holder is not None and strategy is not None
    assert box["width"] <= strategy["width"], (box, strategy)  # "random" < "coarse_to_fine"
    assert box["width"] < holder["width"] / 2, (box, holder)
    screenshot(page, "form-sampler")
