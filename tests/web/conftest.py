"""Browser fixtures: a real api on a free port with seeded studies, and Debian's Chromium driven
headless by Playwright (its own browser download cannot work offline).

Without /usr/bin/chromium the browser tests skip with a reason, except under ``CI=true``, where
they fail: CI must run them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from caviar.client import Client
from tests.services import ROOT, api_server, backend, unavailable
from tests.web.seed import seed

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class Site:
    url: str
    ids: dict[str, int]


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A real api (SQLite) with the deterministic studies of ``tests.web.seed``."""
    with backend("sqlite", tmp_path_factory.mktemp("web")) as be, api_server(be) as url:
        with Client(url) as c:
            ids = seed(c)
        yield Site(url, ids)


@pytest.fixture(scope="session")
def browser_context() -> Iterator[BrowserContext]:
    if not CHROMIUM.exists():
        unavailable("Debian's chromium", f"{CHROMIUM} is absent; apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="caviar-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
            accept_downloads=True,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Iterator[Page]:
    """A fresh tab; the test fails if the page throws an uncaught error."""
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.set_default_timeout(15_000)
    yield tab
    tab.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (look at them)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
