"""Re-testing over REST against a real api: the schedule's validation and PATCH, manual rounds
of an external study whose objective changes between rounds, the verdict and the stale flag."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from caviar.client import Client, Conflict
from caviar.states import TRIAL_STATES
from tests.services import wait_for

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
ZERO = dict.fromkeys(TRIAL_STATES, 0)


def external(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "drifting",
        "objective": {"kind": "external"},
        "space": SPACE,
        "max_trials": 10,
        "seed": 11,
    }
    body.update(over)
    return body


def fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 422, r.text
    return [e["field"] for e in r.json()["detail"]]


def run_out(client: Client, study_id: int, objective: Callable[[float], float]) -> int:
    """Answer every trial the study hands out; returns how many."""
    told = 0
    while True:
        try:
            trials = client.ask(study_id, count=5)
        except Conflict:  # a completed study with nothing left to hand out
            return told
        if not trials:
            return told
        for t in trials:
            client.tell(t.id, t.attempt, "completed", objective(t.params["x"]))
            told += 1


@pytest.mark.parametrize("every", ["-5s", "soon", "0s", "400d", "7 fortnights"])
def test_bad_every_names_the_field(api_url: str, every: str) -> None:
    r = httpx.post(f"{api_url}/api/studies", json=external(retest={"every": every}))
    assert fields(r) == ["retest.every"]


def test_schedule_checks_name_the_field(api_url: str, client: Client) -> None:
    r = httpx.post(f"{api_url}/api/studies", json=external(retest={"on_new_data": True}))
    assert fields(r) == ["retest.on_new_data"]
    r = httpx.post(f"{api_url}/api/studies", json=external(retest={"top_k": 11}))
    assert fields(r) == ["retest.top_k"]
    s = client.create_study(external(max_trials=3))
    run_out(client, s.id, lambda x: x)
    patch = f"{api_url}/api/studies/{s.id}"
    assert fields(httpx.patch(patch, json={"retest": {"top_k": 4}})) == ["retest.top_k"]
    assert fields(httpx.patch(patch, json={"retest": {"every": "-1h"}})) == ["retest.every"]
    assert fields(httpx.patch(patch, json={"retest": {"on_new_data": True}})) == [
        "retest.on_new_data"
    ]
    assert httpx.patch(f"{api_url}/api/studies/999999", json={"name": "x"}).status_code == 404


def test_patch_sets_changes_and_removes_the_schedule(client: Client) -> None:
    s = client.create_study(external(max_trials=3))
    run_out(client, s.id, lambda x: x)
    assert client.study(s.id).status == "completed"
    out = client.update_study(s.id, name="renamed", retest={"every": "7d", "top_k": 2})
    assert out.status == "completed" and out.name == "renamed"
    assert out.retest is not None and out.retest.every == "7d" and out.retest.top_k == 2
    assert out.next_retest_at is not None
    assert (out.next_retest_at - out.created_at).total_seconds() > 6 * 86_400
    kept = client.update_study(s.id, name="again")  # absent fields stay as they are
    assert kept.retest == out.retest
    gone = client.update_study(s.id, retest=None)
    assert gone.retest is None and gone.next_retest_at is None and gone.name == "again"


def _finished_round(client: Client, study_id: int, number: int) -> Any:
    def done() -> bool:
        rounds = client.retests(study_id).data
        return any(r.number == number and r.state == "finished" for r in rounds)

    wait_for(done, 30, f"round {number} of study {study_id} to finish")
    return next(r for r in client.retests(study_id).data if r.number == number)


def test_external_study_goes_stale_when_its_objective_moves(client: Client) -> None:
    noise = random.Random(5)

    def near(centre: float) -> Callable[[float], float]:
        return lambda x: (x - centre) ** 2 + noise.uniform(-1e-3, 1e-3)

    s = client.create_study(
        external(max_trials=12, retest={"top_k": 3, "repeats": 3, "explore": 2})
    )
    assert run_out(client, s.id, near(0.2)) == 12
    s = client.study(s.id)
    assert s.status == "completed" and s.best is not None
    champion = s.best.params

    first = client.start_retest(s.id)
    assert first.trigger == "manual" and first.state == "running" and first.number == 1
    assert [r.origin for r in first.results] == ["champion", "top_k", "top_k", "explore", "explore"]
    assert first.results[0].params == champion
    assert all(len(r.trial_ids) == 3 for r in first.results)
    handed = client.trials(s.id, after=11).data
    assert len(handed) == 15 and {t.retest_round for t in handed} == {first.id}
    # A study's counts are its search's: the round's 15 queued trials are not among them.
    assert client.study(s.id).counts == {**ZERO, "completed": 12}
    with pytest.raises(Conflict) as busy:
        client.start_retest(s.id)
    assert busy.value.status == 409 and busy.value.detail["field"] == "retests"
    assert run_out(client, s.id, near(0.2)) == 15  # the completed study hands out the round
    assert client.study(s.id).status == "completed"  # re-tests never reopen a study
    assert client.study(s.id).counts == {**ZERO, "completed": 12}
    first = _finished_round(client, s.id, 1)
    assert first.verdict == "fresh", first.reason
    assert first.results[0].n == 3 and first.results[0].se is not None
    assert not client.study(s.id).stale

    second = client.start_retest(s.id)  # the world moved: the optimum is now at 0.8
    run_out(client, s.id, near(0.8))
    second = _finished_round(client, s.id, 2)
    assert second.verdict == "stale", second.reason
    assert second.champion is not None and second.champion.origin != "champion"
    won = next(i for i, r in enumerate(second.results) if r.trial_ids == second.champion.trial_ids)
    assert (second.reason or "").startswith(
        f"challenger #{won} ({second.champion.origin}) [x={second.champion.params['x']:.3g}] "
        "scored "
    ), second.reason
    assert "better than the champion's" in (second.reason or "")
    after = client.study(s.id)
    assert after.stale and after.stale_reason == second.reason
    assert after.champion is not None and after.champion.params == second.champion.params
    assert after.champion.value == pytest.approx(second.champion.mean)
    assert after.best == s.best  # the best search trial: a round never changes it

    # The new champion alone against the same world holds: the flag is cleared.
    client.update_study(s.id, retest={"top_k": 1, "repeats": 3, "explore": 0})
    client.start_retest(s.id)
    run_out(client, s.id, near(0.8))
    third = _finished_round(client, s.id, 3)
    assert third.results[0].params == second.champion.params
    assert third.baseline == pytest.approx(second.champion.mean)
    assert third.verdict == "fresh", third.reason
    assert not client.study(s.id).stale and client.study(s.id).stale_reason is None
    assert client.retests(s.id).count == 3


def test_no_round_trial_is_pruned(client: Client) -> None:
    """A round judges full-budget runs: neither the top_k nor the explore challengers are cut,
    however far worse than the study's own trials they report."""
    body = external(
        max_trials=5,
        pruner={"name": "median", "warmup_steps": 0, "min_trials": 1},
        retest={"top_k": 2, "repeats": 1, "explore": 2},
    )
    sid = client.create_study(body).id
    for t in client.ask(sid, count=5):
        client.report(t.id, t.attempt, 0, 0.1)
        client.tell(t.id, t.attempt, "completed", 0.1)
    rnd = client.start_retest(sid)
    by_id = {t.id: t for t in client.ask(sid, count=10)}
    assert set(by_id) == {i for r in rnd.results for i in r.trial_ids}
    for r in rnd.results:
        [trial_id] = r.trial_ids
        answer = client.report(trial_id, by_id[trial_id].attempt, 0, 9.0)  # far worse than all
        assert not answer.prune, (r.origin, answer.reason)


def test_a_steered_round_trial_is_left_out_of_the_verdict(client: Client) -> None:
    """A person changed one of the champion's repeats mid-run: its value (far worse) is no
    repeat of the champion's params, so the verdict averages the other two."""
    s = client.create_study(external(max_trials=6, retest={"top_k": 1, "repeats": 3, "explore": 0}))
    run_out(client, s.id, lambda x: (x - 0.3) ** 2)
    rnd = client.start_retest(s.id)
    first, *rest = client.ask(s.id, count=3)
    command = client.command(first.id, "set", {"learning_rate": 0.5})
    client.report(first.id, first.attempt, 1, 9.0, applied=[{"id": command.id, "step": 1}])
    client.tell(first.id, first.attempt, "completed", 9.0)
    for t in rest:
        client.tell(t.id, t.attempt, "completed", (t.params["x"] - 0.3) ** 2)
    done = _finished_round(client, s.id, rnd.number)
    champion = done.results[0]
    assert champion.origin == "champion" and champion.n == 2
    assert champion.mean == pytest.approx((rest[0].params["x"] - 0.3) ** 2)
    assert done.verdict == "fresh", done.reason
