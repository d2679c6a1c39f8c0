"""/api/health touches the database; /metrics parses with Prometheus's own parser."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from caviar.client import Client
from tests.services import PG_ADMIN_URL, Backend, api_server, postgres_database, wait_for

WAITING = {
    "name": "waiting",
    "objective": {"kind": "function", "name": "quadratic"},
    "space": {"w": {"type": "float", "low": -10, "high": 20}},
    "max_trials": 10,
    "parallelism": 4,
}


def _metrics(url: str) -> dict[str, list[tuple[dict[str, str], float, str]]]:
    r = httpx.get(f"{url}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    found: dict[str, list[tuple[dict[str, str], float, str]]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            found.setdefault(family.name, []).append((sample.labels, sample.value, sample.name))
    return found


def test_metrics_count_trials_queue_and_requests(be: Backend, api_url: str) -> None:
    """No worker runs: the study's first 4 trials wait, in the database and in the broker."""
    with Client(api_url) as c:
        sid = c.create_study(WAITING).id
        c.study(sid)
    m = _metrics(api_url)
    by_state = {labels["state"]: value for labels, value, _ in m["caviar_trials"]}
    assert by_state["queued"] == 4 and by_state["completed"] == 0
    assert sum(by_state.values()) == 4
    assert [v for _, v, _ in m["caviar_queue_depth"]] == [4]
    counts = {
        (labels["route"], labels["method"], labels["status"]): value
        for labels, value, name in m["caviar_http_request_duration_seconds"]
        if name.endswith("_count")
    }
    assert counts[("/api/studies", "POST", "201")] >= 1
    assert counts[("/api/studies/{study_id}", "GET", "200")] >= 1
    assert not any(route.startswith("/api/studies/1") for route, _, _ in counts)


def test_metrics_time_how_long_asks_and_tells_hold_the_study_lock(api_url: str) -> None:
    body = {
        "name": "held",
        "objective": {"kind": "external"},
        "space": {"w": {"type": "float", "low": -10, "high": 20}},
        "max_trials": 10,
    }
    with Client(api_url) as c:
        sid = c.create_study(body).id
        for _ in range(2):
            [t] = c.ask(sid, 1)
            c.tell(t.id, 1, "completed", 1.0)
    held = {
        (labels["operation"], labels["strategy"]): value
        for labels, value, name in _metrics(api_url)["caviar_study_lock_held_seconds"]
        if name.endswith("_count")
    }
    assert held[("ask", "random")] >= 2 and held[("tell", "random")] >= 2


def test_health_answers_503_naming_no_host_port_or_database_when_it_is_gone(tmp_path: Path) -> None:
    with postgres_database() as url:
        be = Backend("postgres", url, f"sqla+sqlite:///{tmp_path / 'broker.db'}", tmp_path, "q")
        with api_server(be) as api:
            ok = httpx.get(f"{api}/api/health")
            assert ok.status_code == 200 and ok.json()["database"] == "postgresql"
            name = url.rsplit("/", 1)[1]
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            wait_for(
                lambda: httpx.get(f"{api}/api/health", timeout=10).status_code == 503,
                20,
                "health to notice",
            )
            body = httpx.get(f"{api}/api/health", timeout=10).json()
            assert body["status"] == "unavailable"
            assert "postgresql database does not answer (OperationalError)" in body["detail"]
            # What failed, without the database's host, port or name (those go to the log).
            for secret in (name, "127.0.0.1", "5432", "postgres@"):
                assert secret not in body["detail"], body
