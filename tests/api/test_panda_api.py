"""Panda mode over REST, without workers: commands, their delivery and acknowledgement,
checkpoints, pause/resume/stop edges, forks, and the bad-input cases."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from caviar.client import Client, Conflict
from tests.services import Backend, api_server, wait_for

LIMIT = 64 * 1024
SPACE = {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "scale": "log"}}


@pytest.fixture(scope="module")
def api_url(be: Backend) -> Iterator[str]:
    with api_server(
        be, CAVIAR_RECONCILE_INTERVAL="0.3", CAVIAR_MAX_CHECKPOINT_BYTES=str(LIMIT)
    ) as url:
        yield url


def running_trial(client: Client, max_trials: int = 3) -> tuple[int, int]:
    """(study id, trial id) of a running trial of an external study."""
    body = {"name": "ext", "objective": {"kind": "external"}, "space": SPACE}
    sid = client.create_study({**body, "max_trials": max_trials}).id
    return sid, client.ask(sid, 1)[0].id


def queued_trial(client: Client) -> int:
    """A queued trial of a train study that no worker serves."""
    study = client.create_study(
        {
            "name": "nobody-runs-me",
            "objective": {"kind": "train", "dataset": "digits", "epochs": 3},
            "space": SPACE,
            "max_trials": 1,
            "parallelism": 1,
        }
    )
    [trial] = client.trials(study.id).data
    assert trial.state == "queued"
    return trial.id


def test_set_is_delivered_in_the_report_answer_and_acknowledged(client: Client) -> None:
    _, tid = running_trial(client)
    command = client.command(tid, "set", {"learning_rate": 3e-4}, note="plateau", author="ana")
    assert command.state == "pending" and command.params == {"learning_rate": 3e-4}
    answer = client.report(tid, 1, step=1, value=1.0)
    assert [c.id for c in answer.commands] == [command.id]
    assert client.poll(tid, 1).commands[0].id == command.id  # until acknowledged
    assert client.heartbeat(tid, 1).commands[0].id == command.id
    answer = client.report(tid, 1, step=2, value=0.9, applied=[{"id": command.id, "step": 2}])
    assert answer.commands == []
    [done] = client.commands(tid).data
    assert (done.state, done.applied_step, done.note, done.author) == (
        "applied",
        2,
        "plateau",
        "ana",
    )
    assert done.applied_at is not None
    # A stale attempt's poll learns it must stop and gets no commands.
    client.command(tid, "set", {"l2": 1e-4})
    stale = client.poll(tid, 7)
    assert (stale.state, stale.attempt, stale.commands) == ("running", 1, [])


def test_bad_commands_name_the_field(client: Client, api_url: str) -> None:
    _, tid = running_trial(client)
    cases = [
        ({"action": "set", "params": {"hidden_units": 8}}, "params.hidden_units", "fork instead"),
        ({"action": "set", "params": {"colour": "red"}}, "params.colour", "can't change"),
        ({"action": "set", "params": {"learning_rate": -1}}, "params.learning_rate", "> 0"),
        ({"action": "set", "params": {}}, "params", "at least one"),
        ({"action": "explode"}, "action", ""),
        ({"action": "pause", "params": {"l2": 0.1}}, "params", "takes no params"),
    ]
    for body, field, message in cases:
        r = httpx.post(f"{api_url}/api/trials/{tid}/commands", json=body)
        assert r.status_code == 422, r.text
        [error] = r.json()["detail"]
        assert error["field"] == field and message in error["msg"], error
    assert client.commands(tid).count == 0  # nothing was recorded
    r = httpx.post(f"{api_url}/api/trials/999999/commands", json={"action": "pause"})
    assert r.status_code == 404


def test_finished_trials_take_no_commands(client: Client) -> None:
    _, tid = running_trial(client)
    client.tell(tid, 1, "completed", 2.0)
    for action, params in [("set", {"learning_rate": 0.01}), ("pause", None), ("stop", None)]:
        with pytest.raises(Conflict) as e:
            client.command(tid, action, params)
        assert e.value.detail["field"] == "state"
    assert client.trial(tid).value == 2.0  # nothing lost


def test_pause_of_a_queued_trial_never_runs_it_and_resume_requeues(client: Client) -> None:
    tid = queued_trial(client)
    pause = client.command(tid, "pause")
    assert pause.state == "applied"
    trial = client.trial(tid)
    assert (trial.state, trial.attempt) == ("paused", 1)
    with pytest.raises(Conflict):  # its queued message finds it paused
        client.start(tid, 1)
    with pytest.raises(Conflict):
        client.command(tid, "pause")
    assert client.command(tid, "resume").state == "applied"
    trial = client.trial(tid)
    assert (trial.state, trial.attempt) == ("queued", 2)
    with pytest.raises(Conflict) as e:
        client.command(tid, "resume")  # not paused
    assert e.value.detail["field"] == "state"


def test_resume_of_a_running_trial_is_409_and_a_pause_waits_for_the_trainer(
    client: Client,
) -> None:
    sid, tid = running_trial(client, max_trials=1)
    with pytest.raises(Conflict):
        client.command(tid, "resume")
    pause = client.command(tid, "pause")
    assert pause.state == "pending"
    client.put_checkpoint(tid, 1, 4, b"state after four steps")
    trial = client.paused(tid, 1, 4, [{"id": pause.id, "step": 4}])
    assert trial.state == "paused"
    assert client.commands(tid).data[0].applied_step == 4
    assert client.study(sid).status == "running"  # a paused trial holds its study open
    with pytest.raises(Conflict):  # the attempt that paused may not write any more
        client.put_checkpoint(tid, 1, 5, b"late")


def test_stop_completes_with_the_latest_value(client: Client) -> None:
    sid, tid = running_trial(client, max_trials=1)
    client.report(tid, 1, step=1, value=3.0)
    client.report(tid, 1, step=2, value=2.5)
    pending = client.command(tid, "set", {"learning_rate": 0.01})
    stop = client.command(tid, "stop", note="good enough")
    assert (stop.state, stop.applied_step) == ("applied", 2)
    trial = client.trial(tid)
    assert (trial.state, trial.value) == ("completed", 2.5)
    # a partial run, not a full-budget result: steered, at the step it reached, and never best
    assert (trial.steered, trial.stopped_at_step) == (True, 2)
    assert client.study(sid).status == "completed"
    assert client.study(sid).best is None
    states = {c.id: c.state for c in client.commands(tid).data}
    assert states[pending.id] == "rejected"
    with pytest.raises(Conflict):  # the worker's next report is fenced
        client.report(tid, 1, step=3, value=2.0)


def test_checkpoints_are_fenced_limited_content_addressed_and_pruned(
    client: Client, api_url: str
) -> None:
    _, tid = running_trial(client)
    url = f"{api_url}/api/trials/{tid}/checkpoints"
    assert client.checkpoint(tid) is None
    first = client.put_checkpoint(tid, 1, 1, b"one")
    again = client.put_checkpoint(tid, 1, 2, b"one")
    assert first.sha256 == again.sha256 and first.size == 3
    for step in (3, 4, 5):
        client.put_checkpoint(tid, 1, step, f"state {step}".encode())
    assert [c.step for c in client.checkpoints(tid).data] == [3, 4, 5]  # the latest three
    assert client.checkpoint(tid) == (5, b"state 5")
    assert client.checkpoint(tid, step=4) == (4, b"state 4")
    assert client.checkpoint(tid, step=2) is None  # pruned
    r = httpx.put(url, params={"attempt": 2, "step": 6}, content=b"x")
    assert r.status_code == 409 and r.json()["field"] == "attempt"
    r = httpx.put(url, params={"attempt": 1, "step": 6}, content=b"x" * (LIMIT + 1))
    assert r.status_code == 413 and r.json()["field"] == "body"
    r = httpx.put(url, params={"attempt": 1}, content=b"x")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "step"
    assert client.checkpoint(tid) == (5, b"state 5")  # nothing lost


def test_fork_starts_from_the_parent_checkpoint_outside_max_trials(client: Client) -> None:
    sid, tid = running_trial(client, max_trials=1)
    for step in (1, 2, 3):
        client.report(tid, 1, step=step, value=10.0 - step, metrics={"val_loss": 10.0 - step})
        client.put_checkpoint(tid, 1, step, f"state {step}".encode())
    with pytest.raises(Exception) as e:
        client.fork(tid, {"layers": 3})
    assert "params.layers" in str(e.value)
    child = client.fork(tid, {"learning_rate": 0.02}, step=2, note="a smaller step")
    parent = client.trial(tid)
    assert (child.parent_id, child.forked_at_step, child.state) == (tid, 2, "queued")
    assert child.note == client.trial(child.id).note == "a smaller step"
    # its edits wait for its trainer's first mini-batch: they win over the parent's live values
    [edit] = client.commands(child.id).data
    assert (edit.action, edit.params, edit.state) == ("set", {"learning_rate": 0.02}, "pending")
    assert child.params == {**parent.params, "learning_rate": 0.02}
    assert client.checkpoint(child.id) == (2, b"state 2")
    assert [(r.step, r.value) for r in client.reports(child.id).data] == [(2, 8.0)]
    client.tell(tid, 1, "completed", 7.0)
    study = client.study(sid)
    assert study.status == "running"  # not finished while its fork runs
    # The fork took no place among max_trials (1): the parent counted, the fork did not.
    assert study.counts["completed"] == 1 and study.counts["queued"] == 1


def pause_and_resume(client: Client, tid: int, attempt: int) -> None:
    """A person pauses the running attempt, the client pauses, and the person resumes."""
    pause = client.command(tid, "pause")
    client.put_checkpoint(tid, attempt, attempt, b"state")
    client.paused(tid, attempt, attempt, [{"id": pause.id, "step": attempt}])
    client.command(tid, "resume")


def test_pauses_spend_attempt_numbers_not_the_tries_a_silent_trial_gets(
    client: Client,
) -> None:
    """max_attempts bounds the attempts lost to silence; two pause/resume cycles (attempts 1
    and 2) leave a silent attempt 3 requeued, not failed."""
    body = {"name": "paused-twice", "objective": {"kind": "external"}, "space": SPACE}
    sid = client.create_study({**body, "max_trials": 1, "heartbeat_grace": 1, "max_attempts": 3})
    tid = client.ask(sid.id)[0].id
    for attempt in (1, 2):
        pause_and_resume(client, tid, attempt)
        [again] = client.ask(sid.id)  # the requeued trial is handed out again
        assert (again.id, again.attempt) == (tid, attempt + 1)
    wait_for(lambda: client.trial(tid).attempt == 4, 15, "the silent attempt's requeue")
    assert client.trial(tid).state == "queued"


def test_cancel_finishes_paused_trials_and_rejects_their_commands(client: Client) -> None:
    sid, tid = running_trial(client, max_trials=1)
    pause = client.command(tid, "pause")
    client.put_checkpoint(tid, 1, 1, b"state")
    client.paused(tid, 1, 1, [{"id": pause.id, "step": 1}])
    waiting = client.command(tid, "set", {"learning_rate": 0.01})
    assert waiting.state == "pending"
    client.cancel(sid)
    assert client.trial(tid).state == "cancelled"
    [rejected] = [c for c in client.commands(tid).data if c.id == waiting.id]
    assert rejected.state == "rejected" and rejected.reason == "the study was cancelled"
    with pytest.raises(Conflict):  # nothing left to resume
        client.command(tid, "resume")


def test_the_live_curve_never_shows_an_earlier_attempt_past_the_continued_one(
    client: Client, api_url: str
) -> None:
    """Attempt 1 reported steps 1–8 and paused; attempt 2 continues from step 5 (as from a
    checkpoint at 4). The increment past any step is the served curve's, never attempt 1's
    stale tail."""
    _, tid = running_trial(client, max_trials=1)
    for step in range(1, 9):
        client.report(tid, 1, step=step, value=float(step))
    pause_and_resume(client, tid, 1)
    [again] = client.ask(client.trial(tid).study_id)
    assert again.attempt == 2
    for step in (5, 6):
        client.report(tid, 2, step=step, value=10.0 + step)

    def increment(after: int) -> list[tuple[int, int]]:
        r = httpx.get(f"{api_url}/api/trials/{tid}/curve", params={"after": after})
        return [(p["attempt"], p["step"]) for p in r.json()["data"]]

    assert increment(6) == []
    assert increment(2) == [(1, 3), (1, 4), (2, 5), (2, 6)]
    full = [(r.attempt, r.step) for r in client.reports(tid).data]
    assert increment(-1) == full == [(1, 1), (1, 2), (1, 3), (1, 4), (2, 5), (2, 6)]


def test_a_trial_holds_a_bounded_number_of_pending_commands(client: Client) -> None:
    """Past 100 commands waiting for the trainer a new one is a 409, so a poll's answer stays
    small; once the trainer has applied them, commands are taken again."""
    _, tid = running_trial(client)
    made = [client.command(tid, "set", {"learning_rate": 0.01}) for _ in range(100)]
    with pytest.raises(Conflict) as e:
        client.command(tid, "set", {"learning_rate": 0.02})
    assert e.value.detail["field"] == "action" and "100 commands waiting" in str(e.value)
    assert len(client.poll(tid, 1).commands) == 100
    client.report(tid, 1, step=1, value=1.0, applied=[{"id": c.id, "step": 1} for c in made])
    assert client.command(tid, "set", {"learning_rate": 0.02}).state == "pending"
