"""The trial page (panda mode) in Chromium against a real api and a real worker: change the
learning rate from the page and see the marker and the learning-rate line; pause and resume from
the page; and a trial with 10,000 reports stays usable (downsampled)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, insert

from api.db.models import TrialReport
from caviar.client import Client
from tests.services import Backend, api_server, backend, wait_for, worker_process
from tests.web.conftest import screenshot

pytestmark = pytest.mark.browser


@dataclass
class Live:
    url: str
    be: Backend


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with (
        backend("sqlite", tmp_path_factory.mktemp("trial-page")) as be,
        api_server(be) as url,
        worker_process(be, url, concurrency=1),
    ):
        yield Live(url, be)


def attr(page: Page, name: str) -> str:
    return page.get_by_test_id("trial-curves").get_attribute(name) or ""


def test_steer_a_training_trial_from_its_page(page: Page, live: Live) -> None:
    c = Client(live.url)
    study = c.create_study(
        {
            "name": "panda-page",
            "objective": {
                "kind": "train",
                "dataset": "digits",
                "epochs": 400,
                "fixed": {"hidden_units": 128, "batch_size": 4},
            },
            "space": {"learning_rate": {"type": "categorical", "choices": [0.003]}},
            "max_trials": 1,
            "parallelism": 1,
        }
    )
    tid = c.trials(study.id).data[0].id
    page.goto(f"{live.url}/#/trials/{tid}")
    expect(page.get_by_test_id("app")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("trial-state")).to_have_text("running", timeout=30_000)
    wait_for(lambda: attr(page, "data-last-step") not in ("", "1"), 30, "the first epochs")
    assert float(attr(page, "data-lr-last")) == 0.003

    page.get_by_test_id("lr-input").fill("0.0001")
    page.get_by_test_id("command-note").fill("plateau")
    page.get_by_test_id("lr-apply").click()
    expect(page.get_by_test_id("trial-curves")).to_have_attribute("data-markers", "1")
    expect(page.get_by_test_id("trial-curves")).to_have_attribute("data-lr-last", "0.0001")
    row = page.locator("[data-testid=command-row][data-action=set]")
    expect(row).to_have_attribute("data-state", "applied")
    expect(row).to_contain_text("plateau")
    screenshot(page, "trial-page")

    page.get_by_test_id("trial-pause").click()
    expect(page.get_by_test_id("trial-state")).to_have_text("paused", timeout=15_000)
    expect(page.get_by_test_id("trial-resume")).to_be_enabled()
    paused_at = attr(page, "data-last-step")
    page.get_by_test_id("trial-resume").click()
    expect(page.get_by_test_id("trial-state")).to_have_text("running", timeout=30_000)
    wait_for(lambda: int(attr(page, "data-last-step")) > int(paused_at), 30, "the resumed run")
    assert c.trial(tid).attempt == 2
    page.get_by_test_id("trial-stop").click()
    expect(page.get_by_test_id("trial-state")).to_have_text("completed")
    expect(page.get_by_test_id("command-row")).to_have_count(4)
    # The set made it a person's experiment, which the page says.
    expect(page.get_by_test_id("trial-steered")).to_contain_text("does not learn from it")
    # The Reports heading keeps its distance from the hyperparameters table above it.
    table = page.get_by_test_id("trial-params").bounding_box()
    heading = page.get_by_role("heading", name="Reports").bounding_box()
    assert table and heading and heading["y"] >= table["y"] + table["height"] + 12
    # A finished trial takes no command: its learning rate can no longer be set.
    expect(page.get_by_test_id("lr-apply")).to_be_disabled()
    expect(page.get_by_test_id("lr-input")).to_be_disabled()


def test_ten_thousand_reports_draw_downsampled(page: Page, live: Live) -> None:
    c = Client(live.url)
    space = {"learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"}}
    sid = c.create_study(
        {"name": "long", "objective": {"kind": "external"}, "space": space, "max_trials": 1}
    ).id
    [t] = c.ask(sid, 1)
    rows = [
        {
            "trial_id": t.id,
            "attempt": 1,
            "study_id": sid,
            "step": s,
            "value": 1.0 / s,
            "metrics": {"train_loss": 1.0 / s, "val_loss": 1.1 / s, "learning_rate": 0.01},
        }
        for s in range(1, 10_001)
    ]
    engine = create_engine(live.be.database_url)  # seeding only: the page reads through the api
    with engine.begin() as conn:
        conn.execute(insert(TrialReport), rows)
    engine.dispose()
    late = c.command(t.id, "set", {"learning_rate": 0.001}, note="late")
    c.report(t.id, 1, step=10_001, value=1e-4, applied=[{"id": late.id, "step": 10_001}])
    started = time.monotonic()
    page.goto(f"{live.url}/#/trials/{t.id}")
    expect(page.get_by_test_id("trial-curves")).to_have_attribute("data-last-step", "10001")
    assert time.monotonic() - started < 20  # generous: shared CI machines
    assert int(attr(page, "data-points")) <= 2001
    expect(page.get_by_test_id("report-row")).to_have_count(50)  # the table keeps the latest
    assert attr(page, "data-markers") == "1"
