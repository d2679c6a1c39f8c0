"""The answer to ``/start`` carries the attempt's pending commands, so a trainer applies a
``set`` sent while its trial was queued before its first mini-batch without polling for it."""

from __future__ import annotations

from caviar.client import Client


def train_study(client: Client) -> int:
    body = {
        "name": "start-commands",
        "objective": {"kind": "train", "dataset": "blobs", "epochs": 3},
        "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "scale": "log"}},
        "max_trials": 1,
    }
    return client.create_study(body).id


def test_a_claim_answers_the_commands_that_waited_for_it(client: Client) -> None:
    sid = train_study(client)
    [queued] = client.trials(sid).data
    command = client.command(queued.id, "set", {"learning_rate": 0.05})
    claimed = client.start(queued.id, 1)
    assert claimed.claim and claimed.state == "running"
    assert claimed.commands is not None
    assert [(c.id, c.action, c.params) for c in claimed.commands] == [
        (command.id, "set", {"learning_rate": 0.05})
    ]
    assert client.start(queued.id, 1).commands == claimed.commands  # a repeated claim: the same
    client.poll(queued.id, 1, [{"id": command.id, "step": 1}])
    assert client.start(queued.id, 1).commands == []  # acknowledged: nothing pending
