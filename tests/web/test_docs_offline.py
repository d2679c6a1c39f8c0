"""/docs works offline: every asset comes from the api itself (vendored from a pinned
PyPI package), checked in Chromium with every non-loopback request aborted."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.web.conftest import Site

pytestmark = pytest.mark.browser
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def block_the_network(page: Page) -> list[str]:
    """Abort every request that leaves this machine; returns the list of what was blocked."""
    blocked: list[str] = []

    def handle(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return blocked


def test_docs_render_with_the_network_blocked(page: Page, site: Site) -> None:
    blocked = block_the_network(page)
    page.goto(f"{site.url}/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 10
    expect(
        page.locator(".opblock-summary-path").filter(has_text="/api/studies").first
    ).to_be_visible()
    assert blocked == [], f"/docs tried to leave the machine: {blocked}"


def test_docs_pages_name_no_other_host(site: Site) -> None:
    html = httpx.get(site.url + "/docs").text
    assert "http://" not in html and "https://" not in html, html
    assert httpx.get(f"{site.url}/vendor/docs/nothing.js").status_code == 404
    js = httpx.get(f"{site.url}/vendor/docs/swagger-ui-bundle.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
