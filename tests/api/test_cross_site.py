"""A request from another site can't change anything, with or without tokens; the CLI, the
client and the workers (no ``Origin``) and the dashboard (its own origin) still can."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.auth_helpers import make_tokens
from tests.services import api_server, backend

STUDY = {
    "name": "x",
    "objective": {"kind": "external"},
    "space": {"x": {"type": "float", "low": 0, "high": 1}},
    "max_trials": 5,
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        backend("sqlite", tmp_path_factory.mktemp("cross")) as be,
        api_server(be, CAVIAR_ALLOWED_ORIGINS="https://tuning.example.com") as url,
    ):
        yield url


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"origin": "http://127.0.0.1:1"},  # another port of this machine is another origin
        {"origin": "https://tuning.example.com.evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "cross-site", "origin": "{url}"},
    ],
)
def test_a_cross_site_write_is_refused_and_changes_nothing(api: str, headers: dict) -> None:
    sid = httpx.post(f"{api}/api/studies", json=STUDY).json()["id"]
    sent = {k: v.format(url=api) for k, v in headers.items()}
    for method, path, body in [
        ("POST", f"/api/studies/{sid}/cancel", None),
        ("POST", "/api/studies", STUDY),
        ("DELETE", f"/api/studies/{sid}", None),
        ("POST", "/api/datasets?name=evil", None),
    ]:
        r = httpx.request(method, api + path, json=body, headers=sent)
        assert r.status_code == 403, (method, path, r.text)
        assert "may not change anything" in r.json()["detail"]
    assert httpx.get(f"{api}/api/studies/{sid}").json()["status"] == "running"
    assert httpx.get(f"{api}/api/studies").json()["count"] == sid


@pytest.mark.parametrize(
    "headers",
    [
        {},  # the CLI, the client, the workers
        {"origin": "{url}"},  # the dashboard
        {"origin": "{url}/", "sec-fetch-site": "same-origin"},
        {"origin": "https://tuning.example.com"},  # CAVIAR_ALLOWED_ORIGINS
        {"origin": "https://TUNING.example.com:443"},
    ],
)
def test_the_own_origin_no_origin_and_allowed_origins_pass(api: str, headers: dict) -> None:
    """... where the same write from another origin is refused, and its read is not."""
    sent = {k: v.format(url=api) for k, v in headers.items()}
    assert httpx.post(f"{api}/api/studies", json=STUDY, headers=sent).status_code == 201
    evil = {**sent, "origin": "http://evil.example"}
    assert httpx.post(f"{api}/api/studies", json=STUDY, headers=evil).status_code == 403
    assert httpx.get(f"{api}/api/studies", headers=evil).status_code == 200


def test_a_worker_write_keeps_its_claim_and_token_headers(tmp_path: Path) -> None:
    """Without Origin, a worker's write passes with its Authorization and Caviar-Claim."""
    with backend("sqlite", tmp_path) as be:
        tokens = make_tokens(be, ["admin", "worker"])
        with api_server(be) as url:
            admin = {"authorization": f"Bearer {tokens['admin']}"}
            worker = {"authorization": f"Bearer {tokens['worker']}", "caviar-claim": "x" * 32}
            sid = httpx.post(f"{url}/api/studies", json=STUDY, headers=admin).json()["id"]
            r = httpx.post(f"{url}/api/studies/{sid}/ask", json={"count": 1}, headers=worker)
            assert r.status_code == 200, r.text
            tid = r.json()["data"][0]["id"]
            tell = {"attempt": 1, "state": "completed", "value": 1.0}
            r = httpx.post(f"{url}/api/trials/{tid}/tell", json=tell, headers=worker)
            assert r.status_code in (200, 409), r.text  # 409 only for a claim of another
            evil = {**worker, "origin": "http://evil.example"}
            r = httpx.post(f"{url}/api/studies/{sid}/ask", json={"count": 1}, headers=evil)
            assert r.status_code == 403
