"""The loop helper (``caviar.runner``) against a real api: what it tells, what it raises, how
commands reach the script, and that it waits for a paused trial instead of stranding it."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caviar.client import Client
from caviar.runner import MAGIC, Pruned, Trial, unwrap, wrap
from tests.services import ROOT, Backend, Process, backend, wait_for

SPACE = {"learning_rate": {"type": "float", "low": 0.05, "high": 0.2, "scale": "log"}}


@pytest.fixture(scope="module")
def be(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with backend("sqlite", tmp_path_factory.mktemp("runner")) as b:
        yield b


def external(client: Client, **over: Any) -> int:
    body: dict[str, Any] = {
        "name": "runner",
        "objective": {"kind": "external"},
        "space": SPACE,
        "pruner": {"name": "none"},
        "max_trials": 2,
    }
    return client.create_study({**body, **over}).id


def trainer(api_url: str, study: int, tmp: Path, **env: str) -> Process:
    """``tests/caviar/runner_trainer.py`` as a process of its own."""
    return Process(
        [sys.executable, "-m", "tests.caviar.runner_trainer", api_url, str(study)],
        {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **env},
        tmp / f"trainer-{study}-{time.monotonic_ns()}.log",
    )


def test_envelope_carries_live_values_and_passes_foreign_bytes() -> None:
    raw = wrap(b"\x00weights", {"learning_rate": 0.01})
    assert raw.startswith(MAGIC)
    assert unwrap(raw) == (b"\x00weights", {"learning_rate": 0.01})
    assert unwrap(b"an npz of its own") == (b"an npz of its own", {})


def test_ask_with_only_paused_trials_says_come_back(client: Client) -> None:
    sid = external(client, max_trials=1)
    [t] = client.ask(sid, 1)
    pause = client.command(t.id, "pause")
    client.put_checkpoint(t.id, 1, 0, b"state")
    client.paused(t.id, 1, 0, [{"id": pause.id, "step": 0}])
    answer = client.ask_answer(sid, 1)
    assert answer.data == [] and answer.retry_after is not None and answer.retry_after > 0
    client.command(t.id, "resume")
    [again] = client.ask(sid, 1)
    assert (again.id, again.attempt) == (t.id, 2)
    client.tell(t.id, 2, "completed", 1.0)
    finished = client.ask_answer(sid, 1)
    assert finished.data == [] and finished.retry_after is None


def test_optimize_tells_the_returned_value_and_ends_with_the_study(client: Client) -> None:
    sid = external(client, max_trials=3)

    def objective(trial: Trial) -> float:
        for step in range(1, 4):
            trial.report(step, 10.0 / step)
        return trial.params["learning_rate"]

    assert client.optimize(sid, objective) == 3
    trials = client.trials(sid).data
    assert [t.state for t in trials] == ["completed"] * 3
    assert [t.value for t in trials] == [t.params["learning_rate"] for t in trials]
    assert client.study(sid).status == "completed"


def test_a_body_without_tell_completes_with_its_latest_report_or_fails(client: Client) -> None:
    sid = external(client, max_trials=2)
    for trial in client.run(sid):
        if trial.number == 0:
            trial.report(1, 3.0)
            trial.report(2, 2.5)
        # no tell: the loop finishes the trial when it asks for the next one
    first, second = client.trials(sid).data
    assert (first.state, first.value) == ("completed", 2.5)
    assert second.state == "failed" and "without a value" in (second.error or "")


def test_an_exception_fails_the_trial_and_is_raised_unless_caught(client: Client) -> None:
    sid = external(client, max_trials=2)

    def objective(trial: Trial) -> float:
        trial.report(1, 1.0)
        raise ValueError(f"diverged on #{trial.number}")

    with pytest.raises(ValueError, match="diverged on #0"):
        client.optimize(sid, objective)
    [first] = client.trials(sid).data[:1]
    assert first.state == "failed" and "ValueError: diverged on #0" in (first.error or "")
    assert client.optimize(sid, objective, catch=(ValueError,)) == 1
    assert [t.state for t in client.trials(sid).data] == ["failed", "failed"]


def test_a_pruned_trial_is_told_pruned_and_the_loop_goes_on(client: Client) -> None:
    sid = external(
        client, max_trials=2, pruner={"name": "median", "warmup_steps": 0, "min_trials": 1}
    )
    raised: list[BaseException] = []
    for trial in client.run(sid):
        with trial:
            try:
                trial.report(1, 1.0 if trial.number == 0 else 100.0)
            except Pruned as exc:
                raised.append(exc)
                raise
            trial.complete()
    first, second = client.trials(sid).data
    assert (first.state, second.state) == ("completed", "pruned")
    assert second.value == 100.0 and len(raised) == 1


def test_set_pause_restore_and_stop_reach_the_script(client: Client, api_url: str) -> None:
    """A script in a thread: a set changes ``live`` and is acknowledged with the step of the
    first report after it; a pause stores the state and the live value; the resumed attempt
    gets both back; a stop ends the body with ``Stopped`` and the loop with the study."""
    sid = external(client, max_trials=1)
    seen: list[tuple[int, int, float, bytes | None]] = []  # (attempt, step, live rate, restored)
    ended: list[str | None] = []

    def script() -> None:
        with Client(api_url) as own:
            for trial in own.run(sid):
                with trial:
                    state = trial.restore()
                    step = trial.start_step
                    while True:
                        if trial.should_pause():
                            trial.pause(b"state at %d" % step)
                        rate = trial.live("learning_rate")
                        seen.append((trial.attempt, step, rate, state))
                        step += 1
                        trial.report(step, 1.0 / step, {"learning_rate": rate})
                        time.sleep(0.05)
                ended.append(trial.outcome)

    thread = threading.Thread(target=script)
    thread.start()
    try:
        wait_for(lambda: client.trials(sid).count == 1, 20, "the trial handed out")
        trial_id = client.trials(sid).data[0].id
        wait_for(lambda: client.reports(trial_id).count >= 3, 20, "three reports")
        command = client.command(trial_id, "set", {"learning_rate": 0.123})
        wait_for(
            lambda: client.commands(trial_id).data[0].state == "applied", 10, "the set applied"
        )
        applied_step = client.commands(trial_id).data[0].applied_step
        assert applied_step is not None
        reports = {r.step: r.metrics["learning_rate"] for r in client.reports(trial_id).data}
        assert reports[applied_step] == 0.123  # the first report that shows it
        assert reports[applied_step - 1] != 0.123
        client.command(trial_id, "pause")
        wait_for(lambda: client.trial(trial_id).state == "paused", 10, "paused")
        found = client.checkpoint(trial_id)
        assert found is not None
        paused_step, raw = found
        assert unwrap(raw) == (b"state at %d" % paused_step, {"learning_rate": 0.123})
        time.sleep(2.5)  # the loop waits through at least one retry_after
        assert thread.is_alive()
        client.command(trial_id, "resume")
        wait_for(lambda: any(a == 2 for a, *_ in seen), 10, "the resumed attempt")
        assert next(s for s in seen if s[0] == 2) == (
            2,
            paused_step,
            0.123,
            b"state at %d" % paused_step,
        )
        stop = client.command(trial_id, "stop")
        assert stop.state == "applied"
        thread.join(timeout=15)
        assert not thread.is_alive()
    finally:
        if thread.is_alive():
            client.cancel(sid)
            thread.join(timeout=15)
    assert ended == ["paused", "stopped"]
    assert client.study(sid).status == "completed"
    assert command.id in [c.id for c in client.commands(trial_id).data]


def test_a_fork_restores_its_parent_checkpoint_and_its_edit_wins(client: Client) -> None:
    sid = external(client, max_trials=1)
    [parent] = client.ask(sid, 1)
    client.report(parent.id, 1, step=1, value=2.0)
    client.put_checkpoint(parent.id, 1, 1, wrap(b"parent weights", {"learning_rate": 0.15}))
    client.tell(parent.id, 1, "completed", 2.0)
    fork = client.fork(parent.id, {"learning_rate": 0.07}, note="slower")
    trials = list(client.run(sid))  # the fork, then the study is finished
    assert [t.id for t in trials] == [fork.id]
    [trial] = trials
    assert (trial.restore(), trial.start_step) == (b"parent weights", 1)
    assert trial.live("learning_rate") == 0.07
    assert client.trial(fork.id).state == "failed"  # its body reported nothing


def test_heartbeats_keep_a_quiet_trial_from_being_requeued(client: Client) -> None:
    sid = external(client, max_trials=1, heartbeat_grace=1.0, max_attempts=1)

    def objective(trial: Trial) -> float:
        time.sleep(3.0)  # a long epoch without reports: only the heartbeat thread speaks
        trial.report(1, 0.5)
        return 0.5

    assert client.optimize(sid, objective, heartbeat_every=0.2) == 1
    [trial] = client.trials(sid).data
    assert (trial.state, trial.attempt, trial.value) == ("completed", 1, 0.5)


def test_a_paused_trial_is_not_stranded(client: Client, api_url: str, tmp_path: Path) -> None:
    """The issue's repro: max_trials 3, parallelism 1, one client; trial #0 pauses after its
    first report. The client keeps waiting after #1 and #2 end, picks #0 up when it is
    resumed, continues it from its checkpoint, and the study completes."""
    sid = external(client, max_trials=3, parallelism=1)
    p = trainer(api_url, sid, tmp_path, STEPS="4", DELAY="0.4")
    try:
        wait_for(lambda: client.trials(sid).count >= 1, 20, "trial #0", log=p)
        first = client.trials(sid).data[0]
        wait_for(lambda: client.reports(first.id).count >= 1, 20, "its first report", log=p)
        client.command(first.id, "pause")
        wait_for(lambda: client.trial(first.id).state == "paused", 10, "#0 paused", log=p)

        def others_done() -> bool:
            trials = client.trials(sid).data
            return len(trials) == 3 and all(t.state == "completed" for t in trials[1:])

        wait_for(others_done, 30, "#1 and #2 completed", log=p)
        time.sleep(3.0)  # longer than retry_after: a loop that ends on an empty ask is gone
        assert p.proc.poll() is None, p.output()
        assert client.study(sid).status == "running"
        client.command(first.id, "resume")
        assert p.proc.wait(timeout=30) == 0, p.output()
    finally:
        p.stop()
    trial = client.trial(first.id)
    assert (trial.state, trial.attempt) == ("completed", 2)
    assert client.study(sid).status == "completed"
    found = client.checkpoint(first.id)
    assert found is not None
    paused_at = found[0]
    assert f"trial #0 attempt 2 from step {paused_at}" in p.output()
    reports = client.reports(first.id).data
    assert [r.step for r in reports] == [1, 2, 3, 4]
    assert [r.attempt for r in reports if r.step > paused_at] == [2] * (4 - paused_at)
    w = json.loads(unwrap(found[1])[0])["w"]
    assert w != 0.0  # the checkpoint holds the trained w, not a fresh start


def test_a_set_the_script_never_reads_is_refused(client: Client) -> None:
    sid = external(
        client,
        max_trials=1,
        space={**SPACE, "l2": {"type": "float", "low": 1e-6, "high": 1e-2, "scale": "log"}},
    )
    [handed] = client.ask(sid, 1)
    both = client.command(handed.id, "set", {"learning_rate": 0.1, "l2": 0.001})
    rate = client.command(handed.id, "set", {"learning_rate": 0.07})
    trial = Trial(client, handed)
    trial._start()  # the api hands the trial to ``run``; here it is taken up by hand
    with trial:
        assert trial.live("learning_rate") == 0.07
        trial.report(1, 0.5)
    states = {c.id: (c.state, c.applied_step, c.reason) for c in client.commands(handed.id).data}
    assert states[rate.id] == ("applied", 1, None)
    assert states[both.id][:2] == ("rejected", 1)
    assert "does not change l2 while training" in (states[both.id][2] or "")
    assert client.trial(handed.id).state == "completed"
