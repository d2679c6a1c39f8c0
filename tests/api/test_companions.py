"""``POST /trials/{id}/companions``: a worker that holds a ``train`` trial claims more queued
trials of its study with the same shape, to train them fused, each through the normal claim."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from caviar.client import Client, Conflict


def train_study(client: Client, n: int, space: dict[str, Any] | None = None) -> int:
    body = {
        "name": "companions",
        "objective": {"kind": "train", "dataset": "blobs", "epochs": 2},
        "space": space
        or {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "scale": "log"}},
        "max_trials": n,
        "parallelism": n,
    }
    return client.create_study(body).id


def test_companions_are_claimed_each_with_its_own_claim(client: Client, api_url: str) -> None:
    sid = train_study(client, 5)
    leader, *rest = client.trials(sid).data
    client.start(leader.id, 1)
    got = client.companions(leader.id, 1, 3)
    assert [c.id for c in got] == [t.id for t in rest[:3]]
    assert all(c.state == "running" and c.attempt == 1 and c.claim for c in got)
    assert len({c.claim for c in got}) == 3 and all(c.resume is False for c in got)
    assert all(c.commands == [] for c in got)
    # Their own broker messages find them claimed: 409, as for any duplicate.
    other = Client(api_url, worker="another")
    with pytest.raises(Conflict):
        other.start(got[0].id, 1)
    # A repeat after a lost answer (same worker and nonce) gets the same trials and claims.
    again = client.companions(leader.id, 1, 3)
    assert [(c.id, c.claim) for c in again] == [(c.id, c.claim) for c in got]
    # Each member writes with its own claim.
    client.report_batch(got[1].id, 1, [{"step": 1, "value": 0.5}])
    assert [r.value for r in client.reports(got[1].id).data] == [0.5]
    with pytest.raises(Conflict):
        client.report_batch(got[1].id, 1, [{"step": 1, "value": 0.5}], claim=got[0].claim)
    assert client.trial(rest[3].id).state == "queued"


def test_too_few_candidates_claim_none(client: Client) -> None:
    sid = train_study(client, 3)
    leader, *rest = client.trials(sid).data
    client.start(leader.id, 1)
    assert client.companions(leader.id, 1, 8, min_count=3) == []
    assert {client.trial(t.id).state for t in rest} == {"queued"}
    assert len(client.companions(leader.id, 1, 8, min_count=2)) == 2


def test_only_the_leaders_claimer_may_ask_and_only_same_shapes_come(
    client: Client, api_url: str
) -> None:
    space = {"hidden_units": {"type": "categorical", "choices": [16, 32]}}
    sid = train_study(client, 10, space)
    leader, *rest = client.trials(sid).data
    with pytest.raises(Conflict):
        client.companions(leader.id, 1, 3)  # not claimed yet
    client.start(leader.id, 1)
    r = httpx.post(
        f"{api_url}/api/trials/{leader.id}/companions",
        json={"attempt": 1, "nonce": "x" * 16, "count": 3},
        headers={"Caviar-Claim": "not-the-claim"},
    )
    assert r.status_code == 409
    assert {client.trial(t.id).state for t in rest} == {"queued"}
    same = [t.id for t in rest if t.params["hidden_units"] == leader.params["hidden_units"]]
    got = client.companions(leader.id, 1, 256)
    assert [c.id for c in got] == same
    assert all(c.params["hidden_units"] == leader.params["hidden_units"] for c in got)


def test_a_paused_trial_is_no_companion(client: Client) -> None:
    sid = train_study(client, 3)
    leader, paused, queued = client.trials(sid).data
    client.command(paused.id, "pause")
    client.start(leader.id, 1)
    assert [c.id for c in client.companions(leader.id, 1, 5)] == [queued.id]
    assert client.trial(paused.id).state == "paused"


def test_the_fleet_answer_counts_the_trials_a_worker_trains_fused(api_url: str) -> None:
    with Client(api_url, worker="fleet-fused@host:1") as c:
        sid = train_study(c, 4)
        leader = c.trials(sid).data[0]
        c.start(leader.id, 1)
        assert len(c.companions(leader.id, 1, 3)) == 3
        fleet = httpx.get(f"{api_url}/api/fleet").json()
    [me] = [w for w in fleet["workers"] if w["worker"] == "fleet-fused@host:1"]
    assert me["running"] == 4
