"""The trial page draws ``value`` and every reported metric, and lets a person choose which:
an external trainer that reports only ``value`` gets a curve; the study page's learning curves
mark a person's interventions (Chromium, a real api)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from caviar.client import Client
from tests.services import api_server, backend
from tests.web.conftest import screenshot

pytestmark = pytest.mark.browser
SPACE = {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "scale": "log"}}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    with (
        backend("sqlite", tmp_path_factory.mktemp("trial-series")) as be,
        api_server(be) as url,
        Client(url) as c,
    ):
        yield c


def running(c: Client) -> tuple[int, int]:
    sid = c.create_study(
        {"name": "series", "objective": {"kind": "external"}, "space": SPACE, "max_trials": 1}
    ).id
    [t] = c.ask(sid, 1)
    return t.id, t.attempt


def curves(page: Page) -> object:
    return page.get_by_test_id("trial-curves")


def option(page: Page, key: str) -> object:
    return page.locator(f"[data-testid=curve-option][data-key={key}] input")


def test_a_value_only_trial_gets_a_curve_and_its_interventions(page: Page, client: Client) -> None:
    tid, attempt = running(client)
    for step in range(1, 6):
        client.report(tid, attempt, step=step, value=1.0 / step)
    command = client.command(tid, "set", {"learning_rate": 0.05}, note="faster")
    client.report(tid, attempt, step=6, value=0.15, applied=[{"id": command.id, "step": 6}])
    page.goto(f"{client.http.base_url}/#/trials/{tid}")
    expect(curves(page)).to_have_attribute("data-last-step", "6")
    expect(curves(page)).to_have_attribute("data-series", "value")
    expect(curves(page)).to_have_attribute("data-drawn", "1")
    expect(curves(page)).to_have_attribute("data-markers", "1")
    expect(page.get_by_test_id("curve-option")).to_have_count(1)
    expect(option(page, "value")).to_be_checked()
    expect(curves(page).locator(".scatterlayer .trace")).to_have_count(2)  # value, markers
    screenshot(page, "trial-value-only")


def test_every_metric_is_offered_and_the_choice_outlives_the_polls(
    page: Page, client: Client
) -> None:
    tid, attempt = running(client)

    def report(step: int) -> None:
        metrics = {
            "train_loss": 2.0 / step,
            "val_accuracy": 1 - 1 / (step + 1),
            "grad_norm": 5.0 / step,
            "learning_rate": 0.01,
        }
        client.report(tid, attempt, step=step, value=1.5 / step, metrics=metrics)

    for step in range(1, 4):
        report(step)
    page.goto(f"{client.http.base_url}/#/trials/{tid}")
    expect(curves(page)).to_have_attribute("data-last-step", "3")
    keys = ["value", "grad_norm", "learning_rate", "train_loss", "val_accuracy"]
    options = page.get_by_test_id("curve-option")
    expect(options).to_have_count(5)
    assert [options.nth(i).get_attribute("data-key") for i in range(5)] == keys
    expect(curves(page)).to_have_attribute("data-series", ",".join(keys))
    expect(curves(page)).to_have_attribute("data-drawn", "5")
    screenshot(page, "trial-metrics")

    option(page, "grad_norm").uncheck()
    option(page, "value").uncheck()
    shown = "learning_rate,train_loss,val_accuracy"
    expect(curves(page)).to_have_attribute("data-series", shown)
    report(4)  # the page polls: the new report is drawn, the choice stays
    expect(curves(page)).to_have_attribute("data-last-step", "4")
    expect(curves(page)).to_have_attribute("data-series", shown)
    expect(option(page, "grad_norm")).not_to_be_checked()
    option(page, "value").check()
    expect(curves(page)).to_have_attribute("data-series", f"value,{shown}")


def test_a_value_equal_to_a_metric_is_offered_but_not_drawn_twice(
    page: Page, client: Client
) -> None:
    tid, attempt = running(client)
    for step in range(1, 4):
        loss = 1.0 / step
        client.report(tid, attempt, step=step, value=loss, metrics={"val_loss": loss})
    page.goto(f"{client.http.base_url}/#/trials/{tid}")
    expect(curves(page)).to_have_attribute("data-last-step", "3")
    expect(curves(page)).to_have_attribute("data-series", "val_loss")
    value = page.locator("[data-testid=curve-option][data-key=value]")
    expect(value).to_contain_text("value (= val_loss)")
    expect(option(page, "value")).not_to_be_checked()


def test_the_study_page_marks_interventions_on_the_learning_curves(
    page: Page, client: Client
) -> None:
    sid = client.create_study(
        {"name": "marked", "objective": {"kind": "external"}, "space": SPACE, "max_trials": 2}
    ).id
    steered, plain = client.ask(sid, 2)
    for step in range(1, 5):
        client.report(plain.id, 1, step=step, value=2.0 / step)
    client.tell(plain.id, 1, "completed", 0.5)
    client.report(steered.id, 1, step=1, value=1.0)
    faster = client.command(steered.id, "set", {"learning_rate": 0.05}, note="too slow")
    client.report(steered.id, 1, step=2, value=0.8, applied=[{"id": faster.id, "step": 2}])
    pause = client.command(steered.id, "pause")
    client.put_checkpoint(steered.id, 1, 2, b"state")
    client.paused(steered.id, 1, 2, [{"id": pause.id, "step": 2}])
    client.command(steered.id, "resume")
    [again] = client.ask(sid, 1)
    client.report(again.id, again.attempt, step=3, value=0.5)
    client.tell(again.id, again.attempt, "completed", 0.5)

    applied = [c for c in client.commands(steered.id).data if c.applied_step is not None]
    assert len(applied) >= 2  # the set and the pause (the resume too, when it has a step)
    snapshot = httpx.get(f"{client.http.base_url}/api/studies/{sid}/dashboard").json()
    marks = {t["number"]: t["interventions"] for t in snapshot["curves"]["trials"]}
    assert marks[plain.number] == []
    in_order = sorted(applied, key=lambda c: (c.applied_step, c.id))
    assert [(m["step"], m["action"]) for m in marks[steered.number]] == [
        (c.applied_step, c.action) for c in in_order
    ]
    assert marks[steered.number][0]["params"] == {"learning_rate": 0.05}

    page.goto(f"{client.http.base_url}/#/studies/{sid}")
    plot = page.get_by_test_id("plot-curves")
    expect(plot).to_have_attribute("data-interventions", str(len(applied)))
    texts = page.evaluate(
        "() => document.querySelector('[data-testid=plot-curves]').data"
        ".find((t) => t.name === 'interventions').hovertext"
    )
    assert "set learning_rate = 0.05" in texts[0] and "too slow" in texts[0]
    screenshot(page, "study-interventions")
