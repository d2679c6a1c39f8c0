"""The token life: once a token has existed the api stays closed (``caviar token reopen``
opens a loopback api on purpose), a worker token may ask, and whether a call needs a token is
decided by the request (its peer and Host), not by the listening socket."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.api.auth_helpers import make_token, tokens_cli
from tests.services import api_server, backend, wait_for

STUDY = {
    "name": "x",
    "objective": {"kind": "external"},
    "space": {"x": {"type": "float", "low": 0, "high": 1}},
    "max_trials": 5,
}


def test_revoking_the_last_token_leaves_the_api_closed_until_reopened(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        token_id, _ = make_token(be, "admin")
        with api_server(be) as url:
            assert httpx.post(f"{url}/api/studies", json=STUDY).status_code == 401
            done = tokens_cli(be, "revoke", str(token_id))
            assert done.returncode == 0, done.stderr
            time.sleep(3)  # past the token cache's 2 s: still closed
            assert httpx.post(f"{url}/api/studies", json=STUDY).status_code == 401
            done = tokens_cli(be, "reopen")
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout) == {"reopened": True, "forgotten": 1}
            wait_for(
                lambda: httpx.post(f"{url}/api/studies", json=STUDY).status_code == 201,
                10,
                "the reopened api to answer without a token",
            )


def test_the_last_revoke_keeps_every_call_needing_a_token(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        token_id, token = make_token(be, "admin")
        with api_server(be) as url:
            bearer = {"authorization": f"Bearer {token}"}
            assert httpx.post(f"{url}/api/studies", json=STUDY, headers=bearer).status_code == 201
            assert tokens_cli(be, "revoke", str(token_id)).returncode == 0
            wait_for(
                lambda: httpx.get(f"{url}/api/studies", headers=bearer).status_code == 401,
                10,
                "the revoked token to be refused",
            )
            for _ in range(4):  # past the token cache's 2 s
                r = httpx.post(f"{url}/api/studies", json=STUDY)
                assert r.status_code == 401, r.text
                assert "a token is required" in r.json()["detail"]
                assert httpx.get(f"{url}/api/studies").status_code == 401
                time.sleep(1)
            assert httpx.get(f"{url}/api/health").status_code == 200


def test_reopen_is_refused_while_a_token_is_active(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        make_token(be, "viewer")
        done = tokens_cli(be, "reopen")
        assert done.returncode == 1 and "still active" in done.stderr


def test_a_worker_token_asks_on_an_external_study(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        _, admin = make_token(be, "admin")
        _, worker = make_token(be, "worker")
        with api_server(be) as url:
            as_admin = {"authorization": f"Bearer {admin}"}
            as_worker = {"authorization": f"Bearer {worker}"}
            sid = httpx.post(f"{url}/api/studies", json=STUDY, headers=as_admin).json()["id"]
            r = httpx.post(f"{url}/api/studies/{sid}/ask", json={"count": 2}, headers=as_worker)
            assert r.status_code == 200, r.text
            assert len(r.json()["data"]) == 2
            # ... and nothing an admin does.
            assert (
                httpx.post(f"{url}/api/studies", json=STUDY, headers=as_worker).status_code == 403
            )
            cancel = httpx.post(f"{url}/api/studies/{sid}/cancel", headers=as_worker)
            assert cancel.status_code == 403


def test_a_tokenless_api_answers_only_requests_from_this_machine(tmp_path: Path) -> None:
    """CAVIAR_ALLOWED_HOSTS lets a local proxy's name through the Host check, but a request
    under that name, or from another address, still needs a token the api does not have."""
    with (
        backend("sqlite", tmp_path) as be,
        api_server(
            be, CAVIAR_ALLOWED_HOSTS="tuning.example", CAVIAR_TRUSTED_PROXIES="127.0.0.1"
        ) as url,
    ):
        port = url.rsplit(":", 1)[1]
        assert httpx.get(f"{url}/api/studies").status_code == 200  # this machine
        for headers in [
            {"host": "tuning.example"},
            {"host": f"tuning.example:{port}"},
            {"x-forwarded-for": "203.0.113.9"},  # a remote client, through the local proxy
        ]:
            r = httpx.get(f"{url}/api/studies", headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert "answers without one only to this machine" in r.json()["detail"]
            r = httpx.post(f"{url}/api/studies", json=STUDY, headers=headers)
            assert r.status_code == 401, (headers, r.text)
