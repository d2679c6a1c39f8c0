"""Where the published schema and the server disagreed (issue 21's smaller findings): each
answer now matches what the OpenAPI document says."""

from __future__ import annotations

import httpx

STUDY = {
    "name": "agree",
    "objective": {"kind": "external"},
    "space": {"x": {"type": "float", "low": 0, "high": 1}},
    "max_trials": 5,
}


def _study(api_url: str, **extra: object) -> httpx.Response:
    return httpx.post(f"{api_url}/api/studies", json={**STUDY, **extra}, timeout=30)


def test_a_boolean_is_not_a_step(api_url: str) -> None:
    sid = _study(api_url).json()["id"]
    [trial] = httpx.post(f"{api_url}/api/studies/{sid}/ask", json={"count": 1}).json()["data"]
    body = {"attempt": 1, "applied": [{"id": 1, "step": False}]}
    r = httpx.post(f"{api_url}/api/trials/{trial['id']}/poll", json=body)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["detail"]] == ["applied.0.step"]


def test_a_bad_sort_is_reported_in_the_query(api_url: str) -> None:
    sid = _study(api_url).json()["id"]
    r = httpx.get(f"{api_url}/api/studies/{sid}/dashboard/trials", params={"sort": "nope"})
    assert r.status_code == 422
    [error] = r.json()["detail"]
    assert error["loc"] == ["query", "sort"] and error["field"] == "sort"


def test_the_schema_says_a_name_is_never_null(api_url: str) -> None:
    spec = httpx.get(f"{api_url}/openapi.json").json()
    name = spec["components"]["schemas"]["StudyUpdate"]["properties"]["name"]
    assert name.get("type") == "string" and "anyOf" not in name
    sid = _study(api_url).json()["id"]
    r = httpx.patch(f"{api_url}/api/studies/{sid}", json={"name": None})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "name"


def test_a_seed_is_exact_in_json(api_url: str) -> None:
    spec = httpx.get(f"{api_url}/openapi.json").json()
    seed = spec["components"]["schemas"]["StudyCreate"]["properties"]["seed"]
    assert [s.get("maximum") for s in seed["anyOf"] if s.get("type") == "integer"] == [2**53]
    assert _study(api_url, seed=2**53).status_code == 201
    r = _study(api_url, seed=2**53 + 1)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "seed"


def test_a_post_only_path_allows_post(api_url: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        r = httpx.request(method, f"{api_url}/api/studies/1/cancel")
        assert r.status_code == 405 and r.headers["allow"] == "POST", (method, r.headers)
    r = httpx.request("PUT", f"{api_url}/api/studies")
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"


def test_a_boolean_is_not_a_count_nor_a_study_setting(api_url: str) -> None:
    """JSON's true is not the integer 1: the schema says integer, and so does the server."""
    sid = _study(api_url).json()["id"]
    r = httpx.post(f"{api_url}/api/studies/{sid}/ask", json={"count": True})
    assert r.status_code == 422 and [e["field"] for e in r.json()["detail"]] == ["count"]
    r = _study(api_url, max_trials=True, seed=False)
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["detail"]) == ["max_trials", "seed"]
