"""The trial life over REST: ask/start/report/tell, fencing, idempotency, completion."""

from __future__ import annotations

import httpx
import pytest

from caviar.client import CaviarError, Client, Conflict
from tests.services import wait_for

SPACE = {"w": {"type": "float", "low": -10, "high": 10}}


def external(client: Client, **over: object) -> int:
    body = {"name": "ext", "objective": {"kind": "external"}, "space": SPACE, "max_trials": 3}
    body.update(over)
    return client.create_study(body).id


def test_ask_report_tell_completes_study(client: Client) -> None:
    sid = external(client)
    trials = client.ask(sid, 5)
    assert [t.number for t in trials] == [0, 1, 2]  # capped at max_trials
    assert all(t.state == "running" and t.attempt == 1 for t in trials)
    for t in trials:
        answer = client.report(t.id, 1, step=0, value=10.0, metrics={"loss": 10.0})
        assert answer.prune is False
        w = t.params["w"]
        client.tell(t.id, 1, "completed", w * w - 10 * w + 25)
    s = client.study(sid)
    assert s.status == "completed" and s.counts["completed"] == 3
    best = min(trials, key=lambda t: (t.params["w"] - 5) ** 2)
    assert s.best is not None and s.best.trial_id == best.id
    assert client.ask(sid, 1) == []  # a finished study hands out nothing: the loop ends


def test_reports_are_keyed_by_step(client: Client) -> None:
    sid = external(client)
    [t] = client.ask(sid, 1)
    client.report(t.id, 1, 0, 3.0)
    client.report(t.id, 1, 1, 2.0)
    client.report(t.id, 1, 1, 1.5)  # a resend of step 1 replaces it
    assert [(r.step, r.value) for r in client.reports(t.id).data] == [(0, 3.0), (1, 1.5)]


def test_tell_is_idempotent_and_finished_trials_are_immutable(client: Client) -> None:
    sid = external(client)
    [t] = client.ask(sid, 1)
    first = client.tell(t.id, 1, "completed", 4.0)
    again = client.tell(t.id, 1, "completed", 4.0)
    assert first.model_dump() == again.model_dump()
    with pytest.raises(Conflict) as e:
        client.tell(t.id, 1, "completed", 5.0)
    assert e.value.status == 409 and "never changes" in str(e.value)
    with pytest.raises(Conflict):
        client.tell(t.id, 1, "failed", None, "boom")
    with pytest.raises(Conflict):
        client.report(t.id, 1, 3, 1.0)
    assert client.study(sid).counts["completed"] == 1


def test_bad_tells_and_reports_are_4xx(client: Client, api_url: str) -> None:
    sid = external(client)
    [t] = client.ask(sid, 1)
    cases = [
        (f"/api/trials/{t.id}/tell", {"attempt": 1, "state": "completed"}, 422, "value"),
        (f"/api/trials/{t.id}/tell", {"attempt": 1, "state": "exploded"}, 422, "state"),
        (f"/api/trials/{t.id}/tell", {"attempt": 0, "state": "failed"}, 422, "attempt"),
        (f"/api/trials/{t.id}/reports", {"attempt": 1, "step": -1, "value": 1}, 422, "step"),
        (f"/api/trials/{t.id}/reports", {"attempt": 1, "step": 0, "value": "x"}, 422, "value"),
        (f"/api/studies/{sid}/ask", {"count": 0}, 422, "count"),
    ]
    for path, body, status, field in cases:
        r = httpx.post(api_url + path, json=body)
        assert r.status_code == status, (path, body, r.text)
        assert field in [e["field"] for e in r.json()["detail"]], r.json()
    r = httpx.post(
        f"{api_url}/api/trials/{t.id}/tell",
        content=b'{"attempt": 1, "state": "completed", "value": NaN}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422


def test_stale_attempt_is_409(client: Client) -> None:
    sid = external(client)
    [t] = client.ask(sid, 1)
    with pytest.raises(Conflict) as e:
        client.report(t.id, 2, 0, 1.0)
    assert e.value.detail["field"] == "attempt"
    with pytest.raises(Conflict):
        client.tell(t.id, 7, "completed", 1.0)


def test_ask_is_for_external_studies(client: Client) -> None:
    sid = client.create_study(
        {
            "name": "f",
            "objective": {"kind": "function", "name": "quadratic"},
            "space": SPACE,
            "max_trials": 2,
            "parallelism": 1,
        }
    ).id
    with pytest.raises(CaviarError) as e:
        client.ask(sid, 1)
    assert e.value.status == 409 and "external" in str(e.value)


def test_silent_trial_goes_back_to_the_queue_then_fails(client: Client) -> None:
    """Heartbeat grace 1 s, two attempts: attempt 1 is requeued, fenced, then fails."""
    sid = external(client, heartbeat_grace=1.0, max_attempts=2, max_trials=1)
    [t] = client.ask(sid, 1)
    wait_for(lambda: client.trials(sid).data[0].state == "queued", 15, "requeue")
    assert client.trials(sid).data[0].attempt == 2
    with pytest.raises(Conflict):  # the old attempt is fenced off
        client.tell(t.id, 1, "completed", 1.0)
    [again] = client.ask(sid, 1)  # external studies hand requeued trials out again
    assert again.id == t.id and again.attempt == 2 and again.params == t.params
    client.report(again.id, 2, 0, 5.0)  # a heartbeat
    wait_for(lambda: client.trials(sid).data[0].state == "failed", 15, "failure")
    failed = client.trials(sid).data[0]
    assert "no heartbeat" in (failed.error or "")
    assert client.study(sid).status == "completed"


def queued_function_study(client: Client, **over: object) -> int:
    """A function study: with no worker listening, its trials stay queued for our claims."""
    body = {
        "name": "claims",
        "objective": {"kind": "function", "name": "quadratic"},
        "space": SPACE,
        "max_trials": 2,
        "parallelism": 2,
    }
    body.update(over)
    return client.create_study(body).id


def test_the_same_worker_may_claim_its_attempt_again(api_url: str) -> None:
    """A repeated claim (a retry after a lost answer) gets the same claim back when it carries
    the first claim's nonce; a worker that only borrows the claimer's name gets 409."""
    with Client(api_url, worker="host-a:11") as a, Client(api_url, worker="host-b:12") as b:
        sid = queued_function_study(a)
        t = a.trials(sid).data[0]
        first = a.start(t.id, 1)
        again = a.start(t.id, 1)  # a retry after a lost answer
        assert first.state == again.state == "running" and again.attempt == 1
        assert first.claim and again.claim == first.claim
        with pytest.raises(Conflict) as e:
            b.start(t.id, 1)
        assert e.value.detail["field"] == "state"
        with Client(api_url, worker="host-a:11") as impostor:  # the same name, not the nonce
            with pytest.raises(Conflict) as e:
                impostor.start(t.id, 1)
            assert e.value.detail["field"] == "state"
        with pytest.raises(Conflict) as e:
            a.start(t.id, 2)
        assert e.value.detail["field"] == "attempt"
        assert a.trial(t.id).claim is None  # a trial's read never shows its claim
        anonymous = a.trials(sid).data[1]
        with Client(api_url) as nobody:
            claimed = nobody.start(anonymous.id, 1)
            assert nobody.start(anonymous.id, 1).claim == claimed.claim  # its own nonce
        with Client(api_url) as other, pytest.raises(Conflict):
            other.start(anonymous.id, 1)


def test_heartbeat_answers_state_and_fences(api_url: str) -> None:
    with Client(api_url, worker="host-a:11") as a:
        sid = queued_function_study(a)
        t = a.trials(sid).data[0]
        with pytest.raises(Conflict) as e:  # queued: nothing to beat for
            a.heartbeat(t.id, 1)
        assert e.value.detail["field"] == "state"
        a.start(t.id, 1)
        beat = a.heartbeat(t.id, 1)
        assert (beat.state, beat.attempt) == ("running", 1)
        with pytest.raises(Conflict) as e:
            a.heartbeat(t.id, 2)
        assert e.value.detail["field"] == "attempt"
        a.tell(t.id, 1, "completed", 1.0)
        with pytest.raises(Conflict) as e:
            a.heartbeat(t.id, 1)
        assert e.value.detail["field"] == "state"
    r = httpx.post(f"{api_url}/api/trials/{t.id}/heartbeat", json={"attempt": 1, "worker": ""})
    assert r.status_code == 422 and "worker" in [d["field"] for d in r.json()["detail"]]


def test_start_refuses_a_trial_of_an_external_study(client: Client) -> None:
    sid = external(client, heartbeat_grace=0.5, max_trials=1)
    [t] = client.ask(sid, 1)
    wait_for(lambda: client.trials(sid).data[0].state == "queued", 15, "requeue")
    with pytest.raises(Conflict) as e:  # queued with attempt 2, yet never a worker's
        client.start(t.id, 2)
    assert e.value.detail["field"] == "objective.kind"
    assert client.trials(sid).data[0].state == "queued"


def test_reports_are_keyed_by_attempt_and_the_curve_continues(client: Client) -> None:
    sid = external(client, heartbeat_grace=1.0, max_attempts=3, max_trials=1)
    [t] = client.ask(sid, 1)
    for step, value in enumerate([9.0, 8.0, 7.0]):
        client.report(t.id, 1, step, value)
    wait_for(lambda: client.trials(sid).data[0].attempt == 2, 15, "requeue")
    with pytest.raises(Conflict):  # the fenced attempt writes nothing
        client.report(t.id, 1, 3, 0.5)
    [again] = client.ask(sid, 1)
    assert again.attempt == 2
    client.report(t.id, 2, 1, 6.0)  # continued from a checkpoint at step 1
    client.report(t.id, 2, 2, 5.0)
    curve = [(r.attempt, r.step, r.value) for r in client.reports(t.id).data]
    assert curve == [(1, 0, 9.0), (2, 1, 6.0), (2, 2, 5.0)]


def test_pruner_peers_come_from_each_trials_latest_attempt(client: Client) -> None:
    """Trial A reported 100 at step 1, was requeued, and its new attempt reported 0. B's 50 is
    worse than A's only current value; the stale 100 must not make it look like a median."""
    sid = external(
        client,
        heartbeat_grace=1.0,
        max_attempts=3,
        max_trials=2,
        pruner={"name": "median", "warmup_steps": 0, "min_trials": 1},
    )
    [a] = client.ask(sid, 1)
    assert client.report(a.id, 1, 1, 100.0).prune is False
    wait_for(lambda: client.trials(sid).data[0].attempt == 2, 15, "requeue")
    [a2] = client.ask(sid, 1)
    assert (a2.id, a2.attempt) == (a.id, 2)
    client.report(a.id, 2, 1, 0.0)
    [b] = client.ask(sid, 1)
    answer = client.report(b.id, 1, 1, 50.0)
    assert answer.prune is True and answer.reason is not None
    assert answer.reason["peers"] == 1 and answer.reason["threshold"] == 0.0


def test_pruner_last_step_is_the_trials_effective_epochs(api_url: str) -> None:
    """Epochs pinned in ``fixed`` (3) beat the objective's default (20): step 3 is the last."""
    with Client(api_url, worker="host-a:11") as c:
        sid = c.create_study(
            {
                "name": "epochs",
                "objective": {
                    "kind": "train",
                    "dataset": "digits",
                    "epochs": 20,
                    "fixed": {"epochs": 3},
                },
                "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2}},
                "max_trials": 2,
                "parallelism": 2,
                "pruner": {"name": "median", "warmup_steps": 0, "min_trials": 1},
            }
        ).id
        good, bad = c.trials(sid).data
        for t in (good, bad):
            c.start(t.id, 1)
        for step in (1, 2, 3):
            c.report(good.id, 1, step, 1.0)
        assert c.report(bad.id, 1, 3, 5.0).prune is False  # the result, not a reason to stop
        assert c.report(bad.id, 1, 2, 5.0).prune is True  # the pruner is on


def test_pruner_peers_leave_out_steered_trials(client: Client) -> None:
    """A's learning rate was changed by a person: its 0 at step 1 is no peer of B's 50. C's
    60 is compared with B's 50 alone."""
    sid = external(
        client,
        max_trials=3,
        pruner={"name": "median", "warmup_steps": 0, "min_trials": 1},
    )
    a, b, c = client.ask(sid, 3)
    command = client.command(a.id, "set", {"learning_rate": 0.01})
    client.report(a.id, 1, 1, 0.0, applied=[{"id": command.id, "step": 1}])
    assert client.trial(a.id).steered
    answer = client.report(b.id, 1, 1, 50.0)
    assert answer.prune is False  # no peer at all: A does not count
    answer = client.report(c.id, 1, 1, 60.0)
    assert answer.prune is True and answer.reason is not None
    assert answer.reason["peers"] == 1 and answer.reason["threshold"] == 50.0


def test_ids_are_never_reused_and_a_late_write_of_a_deleted_trial_is_404(
    client: Client,
) -> None:
    """Delete the newest study: the next study and its trials get new ids (SQLite reused them
    before ``AUTOINCREMENT``), and the deleted trial's late tell finds nothing."""
    sid = external(client, max_trials=2)
    gone = client.ask(sid, 2)
    client.cancel(sid)
    client.delete_study(sid)
    after = external(client, max_trials=2)
    fresh = client.ask(after, 2)
    assert after > sid
    assert min(t.id for t in fresh) > max(t.id for t in gone)
    with pytest.raises(CaviarError) as e:
        client.tell(gone[0].id, 1, "completed", 1.0, claim="late-claim-of-a-deleted-trial")
    assert e.value.status == 404
    assert all(t.state == "running" for t in client.trials(after).data)
