"""Renaming (PATCH /api/studies/{id}) and deleting (DELETE) a study on both backends: the
answers, the 4xx of bad input, and that a deleted study leaves nothing behind."""

from __future__ import annotations

import httpx
import pytest

from caviar.client import Client, Conflict

SPACE = {"x": {"type": "float", "low": 0, "high": 1}}


def external(client: Client, name: str = "edit-me") -> int:
    body = {"name": name, "objective": {"kind": "external"}, "space": SPACE, "max_trials": 3}
    return client.create_study(body).id


def test_rename(client: Client, api_url: str) -> None:
    sid = external(client)
    renamed = client.update_study(sid, name="a better name")
    assert renamed.name == "a better name" and renamed.config.name == "a better name"
    assert client.study(sid).name == "a better name"
    same = client.update_study(sid)  # an empty patch changes nothing
    assert same.name == "a better name"
    r = httpx.patch(f"{api_url}/api/studies/{sid}", json={"name": ""})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "name"
    r = httpx.patch(f"{api_url}/api/studies/{sid}", json={"colour": "red"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "colour"
    assert httpx.patch(f"{api_url}/api/studies/987654", json={"name": "x"}).status_code == 404


def test_delete_refuses_a_running_study_then_removes_everything(
    client: Client, api_url: str
) -> None:
    sid = external(client, "delete-me")
    [trial] = client.ask(sid)
    client.report(trial.id, trial.attempt, 0, 0.5)
    with pytest.raises(Conflict) as refused:
        client.delete_study(sid)
    assert refused.value.detail["field"] == "status" and "cancel it first" in str(refused.value)
    client.cancel(sid)
    client.delete_study(sid)
    assert httpx.get(f"{api_url}/api/studies/{sid}").status_code == 404
    assert httpx.get(f"{api_url}/api/trials/{trial.id}").status_code == 404
    assert all(s.id != sid for s in client.studies().data)
    assert httpx.delete(f"{api_url}/api/studies/{sid}").status_code == 404
    other = external(client, "still-here")  # the others are untouched
    assert client.study(other).status == "running"
