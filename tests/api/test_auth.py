"""Tokens and roles on a real api: every documented operation, every role, and the Host check.

The expectations are written here from the design, not read from ``api.auth.access``: a worker
may only claim (its trial, and companions to train fused with it), report, tell, heartbeat,
checkpoint, poll and pause its trials, ask on an external study (an external trainer is a
worker), and read trials and datasets; a viewer reads; an admin does everything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from caviar.settings import Settings
from tests.api.auth_helpers import make_token, make_tokens, tokens_cli
from tests.services import api_server, backend, wait_for

READS = {"GET", "HEAD", "OPTIONS"}
WORKER_CALLS = {
    "start",
    "companions",
    "reports",
    "reports/batch",
    "tell",
    "heartbeat",
    "heartbeats",
    "checkpoint",
    "checkpoints",
    "poll",
    "paused",
}
PUBLIC = {("GET", "/api/health")}


def _operations() -> list[tuple[str, str]]:
    schema = create_app(Settings(data_dir=Path("/nonexistent"))).openapi()
    return [
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if (method.upper(), path) not in PUBLIC
    ]


OPERATIONS = _operations()


def allowed(role: str, method: str, path: str) -> bool:
    if role == "admin":
        return True
    if role == "viewer":
        return method in READS
    worker_write = re.fullmatch(r"/api/trials/\{trial_id\}/(\w+(?:/\w+)?)", path)
    if method in READS:
        return path.startswith(("/api/trials", "/api/datasets"))
    if (method, path) == ("POST", "/api/studies/{study_id}/ask"):
        return True
    return bool(worker_write and worker_write.group(1) in WORKER_CALLS)


@dataclass
class Secured:
    url: str
    tokens: dict[str, str]
    be: object


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    with backend("sqlite", tmp_path_factory.mktemp("auth")) as be:
        tokens: dict[str, str] = dict(make_tokens(be, ["admin", "viewer", "worker"]))
        with api_server(be) as url:
            yield Secured(url, tokens, be)


def _call(url: str, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    concrete = re.sub(r"\{[^}]+\}", "1", path)
    return httpx.request(method, url + concrete, headers=headers, timeout=30)


def test_the_app_documents_the_write_routes() -> None:
    assert ("POST", "/api/studies") in OPERATIONS
    assert ("POST", "/api/trials/{trial_id}/start") in OPERATIONS


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_each_role_on_each_operation(secured: Secured, method: str, path: str) -> None:
    for who, token in [(None, None), ("bad", "cvr_not-a-token")]:
        r = _call(secured.url, method, path, token)
        assert r.status_code == 401, (who, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
    for role, token in secured.tokens.items():
        r = _call(secured.url, method, path, token)
        if allowed(role, method, path):
            assert r.status_code not in (401, 403), (role, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert f"a {role} token may not {method} {path}" in r.json()["detail"]


def test_every_guarded_operation_lists_401_and_403(secured: Secured) -> None:
    schema = httpx.get(f"{secured.url}/openapi.json").json()
    for method, path in OPERATIONS:
        answers = schema["paths"][path][method.lower()]["responses"]
        assert {"401", "403"} <= set(answers), (method, path)
    assert "401" not in schema["paths"]["/api/health"]["get"]["responses"]


def test_health_and_the_dashboard_files_need_no_token(secured: Secured) -> None:
    assert httpx.get(f"{secured.url}/api/health").status_code == 200
    assert httpx.get(f"{secured.url}/").status_code == 200
    assert httpx.get(f"{secured.url}/js/api.js").status_code == 200


def test_messages_say_what_is_missing(secured: Secured) -> None:
    r = httpx.get(f"{secured.url}/api/studies")
    assert "Authorization: Bearer" in r.json()["detail"]
    r = httpx.get(f"{secured.url}/api/studies", headers={"authorization": "Bearer nope"})
    assert r.json()["detail"] == "the token is unknown or revoked"


def test_a_revoked_token_is_refused(secured: Secured) -> None:
    token_id, token = make_token(secured.be, "viewer")  # type: ignore[arg-type]
    headers = {"authorization": f"Bearer {token}"}
    wait_for(
        lambda: httpx.get(f"{secured.url}/api/studies", headers=headers).status_code == 200,
        10,
        "the new token to be accepted",
    )
    done = tokens_cli(secured.be, "revoke", str(token_id))  # type: ignore[arg-type]
    assert done.returncode == 0, done.stderr
    wait_for(
        lambda: httpx.get(f"{secured.url}/api/studies", headers=headers).status_code == 401,
        10,
        "the revoked token to be refused",
    )
    again = tokens_cli(secured.be, "revoke", str(token_id))  # type: ignore[arg-type]
    assert again.returncode == 1 and "no active token" in again.stderr


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("[::1]:{port}", 200),
        ("evil.example:{port}", 421),
        ("127.0.0.1.evil.example:{port}", 421),
        ("localhost:1", 421),
        ("", 421),
    ],
)
def test_a_loopback_api_answers_only_to_its_own_host(
    secured: Secured, host: str, status: int
) -> None:
    port = secured.url.rsplit(":", 1)[1]
    headers = {"host": host.format(port=port), **_bearer(secured.tokens["viewer"])}
    r = httpx.get(f"{secured.url}/api/studies", headers=headers)
    assert r.status_code == status, r.text
    if status == 421:
        assert "is not this server" in r.json()["detail"]


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_a_deployment_adds_its_own_token_once(tmp_path: Path) -> None:
    """``python -m api.auth.tokens add --from-env VAR``: idempotent; short tokens are refused."""
    with backend("sqlite", tmp_path) as be:
        secret = "s3cret-" + "x" * 40
        env = {"CAVIAR_WORKER_SECRET": secret, "SHORT": "abc"}
        first = tokens_cli(
            be, "add", "--role", "worker", "--from-env", "CAVIAR_WORKER_SECRET", **env
        )
        assert first.returncode == 0 and '"role": "worker"' in first.stdout, first.stderr
        again = tokens_cli(
            be, "add", "--role", "worker", "--from-env", "CAVIAR_WORKER_SECRET", **env
        )
        assert again.returncode == 0 and '"added": false' in again.stdout
        short = tokens_cli(be, "add", "--role", "admin", "--from-env", "SHORT", **env)
        assert short.returncode == 1 and "at least 32 characters" in short.stderr
        listed = json.loads(tokens_cli(be, "list").stdout)
        assert [t["role"] for t in listed] == ["worker"]
