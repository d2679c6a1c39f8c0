"""A page on another site can't drive Caviar, and the dashboard runs under its security headers.

The other site is a page served on a second port of this machine (another origin): it fires
``fetch(..., {mode: "no-cors"})`` writes and a submitted form at the api, as the issue's attack
did. None changes anything. The dashboard's pages carry a Content-Security-Policy, and
Chromium reports no violation of it while they load, draw and poll.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from caviar.client import Client
from tests.services import api_server, backend, free_port

pytestmark = pytest.mark.browser

ATTACK = """<!doctype html><html><body>
<form id="f" method="POST" action="{api}/api/studies/{sid}/cancel"></form>
<script>
const api = "{api}";
const writes = [
  [api + "/api/studies/{sid}/cancel", {{method: "POST", mode: "no-cors"}}],
  [api + "/api/studies/{sid}/retests", {{method: "POST", mode: "no-cors"}}],
  [api + "/api/datasets?name=evil", {{method: "POST", mode: "no-cors",
    headers: {{"content-type": "text/plain"}},
    body: "a,b,label\\n" + "1,2,0\\n2,1,1\\n".repeat(10)}}],
  [api + "/api/studies", {{method: "POST", mode: "no-cors",
    headers: {{"content-type": "text/plain"}},
    body: JSON.stringify({{name: "evil", objective: {{kind: "external"}},
      space: {{x: {{type: "float", low: 0, high: 1}}}}}})}}],
  [api + "/api/studies/{sid}", {{method: "DELETE", mode: "no-cors"}}],
];
Promise.allSettled(writes.map(([u, o]) => fetch(u, o))).then(() => {{
  document.title = "sent";
}});
</script></body></html>"""


@contextmanager
def other_site(page_html: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page_html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


STUDY = {
    "name": "target",
    "objective": {"kind": "external"},
    "space": {"x": {"type": "float", "low": 0, "high": 1}},
    "max_trials": 3,
}


def test_a_page_on_another_site_changes_nothing(page: Page, tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be, api_server(be) as api:
        with Client(api) as c:
            sid = c.create_study(STUDY).id
        with other_site(ATTACK.format(api=api, sid=sid)) as evil:
            page.goto(evil + "/")
            expect(page).to_have_title("sent")
            with page.expect_navigation():
                page.evaluate("() => document.getElementById('f').submit()")
            expect(page.locator("body")).to_contain_text("may not change anything")
        study = httpx.get(f"{api}/api/studies/{sid}").json()
        assert study["status"] == "running"
        assert httpx.get(f"{api}/api/studies").json()["count"] == 1
        assert httpx.get(f"{api}/api/studies/{sid}/retests").json()["count"] == 0
        assert httpx.get(f"{api}/api/datasets").json()["count"] == 0


def test_the_dashboard_runs_under_its_security_headers(page: Page, tmp_path: Path) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    with backend("sqlite", tmp_path) as be, api_server(be) as api:
        with Client(api) as c:
            sid = c.create_study({**STUDY, "max_trials": 6}).id
            for t in c.ask(sid, 3):
                c.report(t.id, 1, 0, 0.5)
                c.tell(t.id, 1, "completed", float(t.params["x"]))
            tid = t.id
        answer = httpx.get(api + "/")
        csp = answer.headers["content-security-policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert script_src.split() == ["script-src", "'self'", "'unsafe-eval'"]  # no inline
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        for where, ready in [
            ("/", "study-row"),
            (f"/#/studies/{sid}", "study-name"),
            (f"/#/trials/{tid}", "trial-state"),
            ("/#/new", "study-form"),
            ("/#/fleet", "queue-depth"),
        ]:
            page.goto(api + where)
            expect(page.get_by_test_id(ready).first).to_be_visible()
            page.wait_for_timeout(1500)  # the page draws and polls
        # A page on another site cannot frame the dashboard.
        with other_site(f'<iframe id="d" src="{api}/"></iframe>') as evil:
            page.goto(evil + "/")
            page.wait_for_timeout(1000)
            framed = page.frame_locator("#d").get_by_test_id("nav-home")
            expect(framed).to_have_count(0)
        violations = [v for v in violations if "frame-ancestors" not in v]
    assert not violations, violations
