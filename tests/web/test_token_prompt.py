"""With tokens, the dashboard asks for one when the api answers 401, keeps it, and sends it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from caviar.client import Client
from tests.api.auth_helpers import make_tokens
from tests.services import api_server, backend
from tests.web.conftest import screenshot

pytestmark = pytest.mark.browser


def test_the_dashboard_asks_for_a_token_and_sends_it(page: Page, tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        tokens = make_tokens(be, ["admin", "viewer"])
        with api_server(be) as url:
            with Client(url, token=tokens["admin"]) as admin:
                admin.create_study(
                    {
                        "name": "behind a token",
                        "objective": {"kind": "external"},
                        "space": {"x": {"type": "float", "low": 0, "high": 1}},
                        "max_trials": 3,
                    }
                )
            page.goto(url + "/")
            prompt = page.get_by_test_id("token-prompt")
            expect(prompt).to_be_visible()
            expect(page.get_by_test_id("token-reason")).to_contain_text("a token is required")
            page.get_by_test_id("token-input").fill("cvr_wrong")
            page.get_by_test_id("token-save").click()
            expect(page.get_by_test_id("token-reason")).to_have_text(
                "the token is unknown or revoked"
            )
            screenshot(page, "token-prompt")
            page.get_by_test_id("token-input").fill(tokens["viewer"])
            page.get_by_test_id("token-save").click()
            expect(prompt).to_have_count(0)
            expect(page.get_by_test_id("study-row")).to_have_count(1)
            page.reload()  # the token is kept in this browser
            expect(page.get_by_test_id("study-row")).to_have_count(1)
            expect(prompt).to_have_count(0)
            page.evaluate("() => localStorage.clear()")


def test_a_viewers_refused_action_says_why(page: Page, tmp_path: Path) -> None:
    """A viewer who clicks Rename sees the api's 403 on the page, not only in the console."""
    with backend("sqlite", tmp_path) as be:
        tokens = make_tokens(be, ["admin", "viewer"])
        with api_server(be) as url:
            with Client(url, token=tokens["admin"]) as admin:
                sid = admin.create_study(
                    {
                        "name": "read only here",
                        "objective": {"kind": "external"},
                        "space": {"x": {"type": "float", "low": 0, "high": 1}},
                        "max_trials": 3,
                    }
                ).id
            page.goto(url + "/")
            page.get_by_test_id("token-input").fill(tokens["viewer"])
            page.get_by_test_id("token-save").click()
            page.goto(f"{url}/#/studies/{sid}")
            page.once("dialog", lambda d: d.accept("a new name"))
            page.get_by_test_id("rename-study").click()
            error = page.get_by_test_id("study-action-error")
            expect(error).to_contain_text("admin")
            expect(page.get_by_test_id("study-name")).to_have_text("read only here")
