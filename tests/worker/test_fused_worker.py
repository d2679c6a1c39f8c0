"""Fused runs through a real api and a real worker: queued trials of one shape are trained as
one network, and each member stays an ordinary trial whose values are those of the same trial
trained alone (its own seed); a person's ``set`` or ``pause`` of one member leaves the others'
values as they were, and a paused member resumed alone ends as if never paused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from caviar.client import Client
from tests.services import Backend, wait_for, worker_process
from worker.datasets import load_builtin
from worker.nn.training import fit
from worker.objectives.train import hyperparameters

SEED = 5


def study_body(epochs: int, trials: int, **over: Any) -> dict[str, Any]:
    body = {
        "name": "fused",
        "objective": {
            "kind": "train",
            "dataset": "digits",
            "epochs": epochs,
            "fixed": {"hidden_units": 32, "batch_size": 32, "layers": 1},
        },
        "space": {
            "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "scale": "log"},
            "optimizer": {"type": "categorical", "choices": ["adam", "momentum", "rmsprop"]},
        },
        "max_trials": trials,
        "parallelism": trials,
        "seed": SEED,
        "heartbeat_grace": 4,
    }
    body.update(over)
    return body


def alone(objective: dict[str, Any], params: dict[str, Any], number: int) -> list[float]:
    """The val losses of the trial trained alone, in this process, with its own seed."""
    seed = (SEED * 1_000_003 + number) % 2**63
    hp = hyperparameters(objective, params)
    result = fit(load_builtin("digits"), hp, np.random.default_rng(seed))
    return [m["val_loss"] for m in result.history]


def curve(c: Client, trial_id: int) -> list[float]:
    return [r.value for r in c.reports(trial_id).data]


def test_same_shape_trials_train_fused_and_each_equals_its_alone_run(
    be: Backend, api_url: str
) -> None:
    body = study_body(epochs=6, trials=4)
    with Client(api_url) as c:
        sid = c.create_study(body).id
        with worker_process(be, api_url, concurrency=1, CAVIAR_FUSE_MAX="16") as w:
            wait_for(lambda: c.study(sid).status == "completed", 120, "the study", log=w)
            # The companions' own messages find them claimed: acknowledged and skipped.
            wait_for(lambda: w.output().count("not started") == 3, 30, "the skips", log=w)
            log = w.output()
        trials = c.trials(sid).data
        assert "training 4 trials fused" in log, log[-3000:]
        for t in trials:
            assert (t.state, t.attempt) == ("completed", 1)
            got = curve(c, t.id)
            assert got == pytest.approx(alone(body["objective"], t.params, t.number), rel=1e-6)
            assert t.value == pytest.approx(got[-1])


def test_a_set_or_a_pause_of_one_member_leaves_the_others_as_they_were(
    be: Backend, api_url: str
) -> None:
    body = study_body(epochs=400, trials=4)
    with Client(api_url) as c:
        sid = c.create_study(body).id
        with worker_process(be, api_url, concurrency=1, CAVIAR_FUSE_MAX="16") as w:
            first, steered, paused, last = c.trials(sid).data
            wait_for(lambda: len(c.reports(paused.id).data) >= 3, 120, "the first epochs", log=w)
            set_ = c.command(steered.id, "set", {"learning_rate": 0.2})
            pause = c.command(paused.id, "pause")
            wait_for(lambda: c.trial(paused.id).state == "paused", 60, "the pause", log=w)
            assert c.trial(first.id).state == "running"  # the others go on
            c.command(paused.id, "resume")
            wait_for(lambda: c.study(sid).status == "completed", 300, "the study", log=w)
            assert "training 4 trials fused" in w.output()
        objective = body["objective"]
        for t in (first, last):
            done = c.trial(t.id)
            assert (done.state, done.attempt) == ("completed", 1)
            assert curve(c, t.id) == pytest.approx(alone(objective, t.params, t.number), rel=1e-6)
        [applied] = c.commands(steered.id).data
        assert (applied.id, applied.state) == (set_.id, "applied")
        steered_curve = curve(c, steered.id)
        assert steered_curve != pytest.approx(alone(objective, steered.params, steered.number))
        [acked] = [x for x in c.commands(paused.id).data if x.id == pause.id]
        assert acked.state == "applied"
        resumed = c.trial(paused.id)
        assert (resumed.state, resumed.attempt) == ("completed", 2)
        expected = alone(objective, paused.params, paused.number)
        assert curve(c, paused.id) == pytest.approx(expected, rel=1e-6)


def test_the_worker_fuses_only_when_told_and_only_fresh_small_shapes_up_to_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worker.objectives.base import Run
    from worker.objectives.fused_train import fusion_size

    objective = study_body(epochs=3, trials=1)["objective"]
    fresh, resumed = Run(1, 1, resume=False), Run(1, 2, resume=True)
    monkeypatch.delenv("CAVIAR_FUSE_MAX", raising=False)
    assert fusion_size(fresh, {}, objective) == 1  # off unless the worker is told
    monkeypatch.setenv("CAVIAR_FUSE_MAX", "64")
    assert fusion_size(fresh, {}, objective) == 16  # 32 x 32: the rule's largest run
    assert fusion_size(resumed, {}, objective) == 1  # continues from its checkpoint, alone
    assert fusion_size(fresh, {"hidden_units": 256}, objective) == 1  # 32 x 256: no gain
    assert fusion_size(fresh, {}, {**objective, "kind": "function"}) == 1
    monkeypatch.setenv("CAVIAR_FUSE_MAX", "4")
    assert fusion_size(fresh, {}, objective) == 4
    monkeypatch.setenv("CAVIAR_FUSE_MAX", "2")  # below the rule's smallest fused run
    assert fusion_size(fresh, {}, objective) == 1


def test_a_fused_run_at_its_time_limit_leaves_each_member_to_a_next_attempt(
    be: Backend, api_url: str
) -> None:
    """The task's time limit was the fused run's, not a member's: at it, each member is left
    without a tell (the reaper requeues it, its next attempt continues alone), never failed
    for good as a trial too long for the limit would be."""
    body = study_body(epochs=5000, trials=4, heartbeat_grace=2)
    with Client(api_url) as c:
        sid = c.create_study(body).id
        env = {"CAVIAR_FUSE_MAX": "16", "CAVIAR_TASK_SOFT_TIME_LIMIT": "3"}
        with worker_process(be, api_url, concurrency=1, **env) as w:
            wait_for(lambda: "reached its time limit" in w.output(), 60, "the limit", log=w)
            after_limit = c.trials(sid).data
            wait_for(lambda: all(t.attempt >= 2 for t in c.trials(sid).data), 60, "requeues", log=w)
        assert "training 4 trials fused" in w.output()
        assert not [t for t in after_limit if t.state == "failed"], after_limit
        assert all(t.state != "failed" or t.attempt >= 2 for t in c.trials(sid).data)
