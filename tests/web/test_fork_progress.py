"""A fork is a person's trial outside max_trials: the study's progress leaves it out and names it
apart (Chromium), and the Study answer counts forks by state."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from caviar.client import Client
from tests.services import api_server, backend

pytestmark = pytest.mark.browser


def test_a_finished_fork_is_counted_apart_from_progress(page: Page, tmp_path: Path) -> None:
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    with backend("sqlite", tmp_path) as be, api_server(be) as url, Client(url) as c:
        sid = c.create_study(
            {"name": "forked", "objective": {"kind": "external"}, "space": space, "max_trials": 1}
        ).id
        [t] = c.ask(sid, 1)
        c.report(t.id, t.attempt, 1, 0.5)
        c.put_checkpoint(t.id, t.attempt, 1, b"state 1")
        child = c.fork(t.id, {"learning_rate": 0.01})
        c.tell(t.id, t.attempt, "completed", 0.5)
        [again] = c.ask(sid, 1)
        assert again.id == child.id
        c.tell(again.id, again.attempt, "completed", 0.4)
        study = c.study(sid)
        assert study.counts["completed"] == 2 and study.forks == {"completed": 1}
        page.goto(url + "/")
        expect(page.get_by_test_id("study-progress")).to_contain_text("1 / 1 · 1 fork")
        page.goto(f"{url}/#/studies/{sid}")
        expect(page.get_by_test_id("study-progress")).to_contain_text("1 / 1 finished · 1 fork")
