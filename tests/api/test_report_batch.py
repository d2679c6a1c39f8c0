"""``POST /trials/{id}/reports/batch``: several steps of one attempt in one request, each judged
as if reported alone, behind the same fence as a single report."""

from __future__ import annotations

import httpx
import pytest

from caviar.client import Client, Conflict

SPACE = {"w": {"type": "float", "low": -10, "high": 10}}


def external(client: Client, **over: object) -> int:
    body = {"name": "batch", "objective": {"kind": "external"}, "space": SPACE, "max_trials": 3}
    body.update(over)
    return client.create_study(body).id


def steps(*values: float, first: int = 1) -> list[dict[str, object]]:
    return [{"step": first + i, "value": v, "metrics": {"loss": v}} for i, v in enumerate(values)]


def test_a_batch_stores_its_steps_in_order_and_a_resent_step_replaces_it(client: Client) -> None:
    sid = external(client)
    [t] = client.ask(sid, 1)
    client.report(t.id, 1, 0, 9.0)
    answer = client.report_batch(t.id, 1, [*steps(3.0, 2.0), {"step": 2, "value": 1.5}])
    assert (answer.prune, answer.step) == (False, None)
    curve = client.reports(t.id).data
    assert [(r.step, r.value) for r in curve] == [(0, 9.0), (1, 3.0), (2, 1.5)]
    assert curve[1].metrics == {"loss": 3.0}


def test_a_batch_is_fenced_like_a_report(client: Client, api_url: str) -> None:
    sid = external(client)
    [t] = client.ask(sid, 1)
    with pytest.raises(Conflict):
        client.report_batch(t.id, 1, steps(1.0), claim="not-the-claim")
    with pytest.raises(Conflict):
        client.report_batch(t.id, 2, steps(1.0))  # no such attempt
    r = httpx.post(f"{api_url}/api/trials/{t.id}/reports/batch", json={"attempt": 1})
    assert r.status_code == 422 and "reports" in [e["field"] for e in r.json()["detail"]]
    assert client.reports(t.id).data == []
    client.tell(t.id, 1, "completed", 1.0)
    with pytest.raises(Conflict):
        client.report_batch(t.id, 1, steps(1.0))  # a finished trial takes no more reports


def test_a_batch_stops_at_the_step_the_pruner_prunes_at(client: Client) -> None:
    sid = external(
        client,
        max_trials=4,
        pruner={"name": "median", "warmup_steps": 0, "min_trials": 2},
    )
    trials = client.ask(sid, 3)
    for t in trials[:2]:  # two peers, each good up to step 3
        client.report_batch(t.id, 1, steps(1.0, 1.0, 1.0))
    late = trials[2]
    # As good as its peers at step 1, worse from step 2 on: pruned at 2, the rest not stored.
    answer = client.report_batch(late.id, 1, steps(1.0, 5.0, 6.0, 7.0))
    assert answer.prune is True and answer.step == 2
    assert answer.reason is not None and answer.reason["step"] == 2
    assert [(r.step, r.value) for r in client.reports(late.id).data] == [(1, 1.0), (2, 5.0)]
