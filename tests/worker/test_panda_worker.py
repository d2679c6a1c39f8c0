"""Panda mode end to end through real worker processes: a learning rate set mid-run, pause on one
worker and resume on another with bitwise the weights of a run never paused, recovery of a
killed worker's trial from its checkpoint, and a fork continuing from its parent's step."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from caviar.client import Client
from tests.services import Backend, backend, wait_for, worker_process
from worker.nn.checkpoint import meta_of

LR = 0.003


@pytest.fixture(scope="module")
def be(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    # One backend: the REST edges are tested on both in tests/api/test_panda_api.py.
    with backend("sqlite", tmp_path_factory.mktemp("panda")) as b:
        yield b


def study(name: str, epochs: int, seed: int = 5, **objective: Any) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {
            "kind": "train",
            "dataset": "digits",
            "epochs": epochs,
            "fixed": {"hidden_units": 128, "batch_size": 4, "optimizer": "adam"},
            **objective,
        },
        "space": {"learning_rate": {"type": "categorical", "choices": [LR]}},
        "max_trials": 1,
        "parallelism": 1,
        "heartbeat_grace": 4,
        "seed": seed,
    }


def only_trial(c: Client, sid: int) -> int:
    wait_for(lambda: c.trials(sid).count == 1, 10, "the study's trial")
    return c.trials(sid).data[0].id


def reported(c: Client, tid: int, n: int) -> bool:
    return c.reports(tid).count >= n


def test_a_learning_rate_set_mid_run_shows_from_its_step(be: Backend, api_url: str) -> None:
    c = Client(api_url)
    with worker_process(be, api_url, concurrency=1) as w:
        sid = c.create_study(study("set-lr", epochs=30)).id
        tid = only_trial(c, sid)
        wait_for(lambda: reported(c, tid, 2), 60, "the first epochs", log=w)
        command = c.command(tid, "set", {"learning_rate": 1e-4}, note="plateau")
        wait_for(lambda: c.commands(tid).data[0].state == "applied", 20, "the set", log=w)
        wait_for(lambda: c.study(sid).status == "completed", 120, "the run", log=w)
    [applied] = c.commands(tid).data
    assert applied.id == command.id and applied.applied_step is not None
    rates = {r.step: r.metrics["learning_rate"] for r in c.reports(tid).data}
    assert sorted(rates) == list(range(1, 31))
    assert all(rates[s] == LR for s in range(1, applied.applied_step))
    assert all(rates[s] == 1e-4 for s in range(applied.applied_step, 31))


def test_pause_frees_the_worker_and_resume_elsewhere_is_bitwise_the_unpaused_run(
    be: Backend, api_url: str
) -> None:
    with Client(api_url) as c:
        with worker_process(be, api_url, concurrency=1) as first:
            paused_sid = c.create_study(study("paused", epochs=25)).id
            tid = only_trial(c, paused_sid)
            wait_for(lambda: reported(c, tid, 3), 60, "the first epochs", log=first)
            c.command(tid, "pause", note="friday")
            wait_for(lambda: c.trial(tid).state == "paused", 20, "the pause", log=first)
            at = c.checkpoint(tid)
            assert at is not None and at[0] < 25
            # The slot is free: the same single-slot worker runs another study's trial,
            # which is the reference run (same seed, same trial number, never paused).
            reference_sid = c.create_study(study("reference", epochs=25)).id
            wait_for(lambda: c.study(reference_sid).status == "completed", 120, "the reference")
            assert c.trial(tid).state == "paused"
        c.command(tid, "resume", note="monday")
        assert c.trial(tid).attempt == 2
        with worker_process(be, api_url, concurrency=1) as second:
            wait_for(
                lambda: c.study(paused_sid).status == "completed",
                120,
                "the resumed run",
                log=second,
            )
        reference = only_trial(c, reference_sid)
        resumed, unpaused = c.checkpoint(tid), c.checkpoint(reference)
        assert resumed is not None and unpaused is not None
        assert resumed[0] == unpaused[0] == 25
        assert meta_of(resumed[1])["weights_sha256"] == meta_of(unpaused[1])["weights_sha256"]
        curve = [(r.step, r.value, r.metrics) for r in c.reports(tid).data]
        assert curve == [(r.step, r.value, r.metrics) for r in c.reports(reference).data]
        assert c.trial(tid).value == c.trial(reference).value
        assert [x.state for x in c.commands(tid).data] == ["applied", "applied"]


def test_a_killed_worker_trial_continues_from_its_checkpoint(be: Backend, api_url: str) -> None:
    with Client(api_url) as c:
        sid = c.create_study(study("kill", epochs=40, checkpoint_every=2)).id
        tid = only_trial(c, sid)
        with worker_process(be, api_url, concurrency=1) as doomed:
            wait_for(
                lambda: (found := c.checkpoint(tid)) is not None and found[0] >= 4,
                60,
                "a checkpoint",
                log=doomed,
            )
            doomed.stop(signal.SIGKILL)
        at = c.checkpoint(tid)
        assert at is not None
        wait_for(lambda: c.trial(tid).attempt == 2, 30, "the requeue")
        # A command waiting for the next attempt is applied before its first mini-batch, so
        # its step says where that attempt started: right after the checkpoint, not at 1.
        c.command(tid, "set", {"learning_rate": 1e-4})
        with worker_process(be, api_url, concurrency=1) as w:
            wait_for(lambda: c.study(sid).status == "completed", 120, "the retried run", log=w)
        [command] = c.commands(tid).data
        assert command.applied_step is not None and command.applied_step > at[0] >= 4
        curve = c.reports(tid).data
        # The second attempt reported from right after the checkpoint, not from step 1.
        assert min(r.step for r in curve if r.attempt == 2) == at[0] + 1
        assert all(r.attempt == 1 for r in curve if r.step <= at[0])
        rates = {r.step: r.metrics["learning_rate"] for r in curve}
        assert sorted(rates) == list(range(1, 41))
        assert all(rates[s] == LR for s in range(1, at[0] + 1))  # kept from attempt 1
        assert all(rates[s] == 1e-4 for s in range(command.applied_step, 41))


def test_a_fork_continues_from_its_parent_step(be: Backend, api_url: str) -> None:
    c = Client(api_url)
    with worker_process(be, api_url, concurrency=1) as w:
        sid = c.create_study(study("fork", epochs=15, checkpoint_every=5)).id
        parent = only_trial(c, sid)
        wait_for(lambda: c.study(sid).status == "completed", 120, "the parent", log=w)
        child = c.fork(parent, {"learning_rate": 1e-4}, step=7)  # the checkpoint at 5
        assert (child.parent_id, child.forked_at_step) == (parent, 5)
        wait_for(lambda: c.trial(child.id).state == "completed", 120, "the fork", log=w)
    k = 5
    theirs = {r.step: r for r in c.reports(parent).data}
    ours = c.reports(child.id).data
    assert [r.step for r in ours] == list(range(k, 16))  # the curve starts at k
    assert ours[0].value == theirs[k].value  # from the parent's value there
    assert all(r.metrics["learning_rate"] == 1e-4 for r in ours[1:])
    assert c.study(sid).status == "completed"


def test_a_forks_edit_wins_over_the_parents_live_value(be: Backend, api_url: str) -> None:
    """The parent's learning rate was set live; a fork that edits it back to the parent's
    original value trains at that value, as its recorded params say."""
    c = Client(api_url)
    with worker_process(be, api_url, concurrency=1) as w:
        sid = c.create_study(study("fork-edit", epochs=12, checkpoint_every=2)).id
        parent = only_trial(c, sid)
        wait_for(lambda: reported(c, parent, 1), 60, "the first epoch", log=w)
        c.command(parent, "set", {"learning_rate": 1e-4})
        wait_for(lambda: c.study(sid).status == "completed", 120, "the parent", log=w)
        assert c.reports(parent).data[-1].metrics["learning_rate"] == 1e-4
        child = c.fork(parent, {"learning_rate": LR}, step=10)  # its original value
        assert child.params["learning_rate"] == LR
        wait_for(lambda: c.trial(child.id).state == "completed", 120, "the fork", log=w)
    ours = c.reports(child.id).data
    assert len(ours) > 1
    assert all(r.metrics["learning_rate"] == LR for r in ours[1:])
