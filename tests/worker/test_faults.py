"""Faults: a worker killed mid-trial; its trial is requeued with the next attempt and finished
by another worker, and the dead attempt is fenced off."""

from __future__ import annotations

import signal

from caviar.client import Client
from tests.services import Backend, wait_for, worker_process


def test_killed_worker_trial_is_requeued_and_finished(be: Backend, api_url: str) -> None:
    body = {
        "name": "crash",
        "direction": "minimize",
        "objective": {
            "kind": "train",
            "dataset": "digits",
            "epochs": 400,
            "metric": "val_loss",
            "fixed": {"hidden_units": 64, "batch_size": 16},
        },
        "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "scale": "log"}},
        "max_trials": 1,
        "parallelism": 1,
        "heartbeat_grace": 4,
        "seed": 1,
    }
    with Client(api_url) as c:
        sid = c.create_study(body).id
        with worker_process(be, api_url, concurrency=1) as doomed:
            wait_for(
                lambda: len(c.reports(c.trials(sid).data[0].id).data) >= 2, 120, "the first epochs"
            )
            doomed.stop(signal.SIGKILL)  # the whole process group, mid-training
        [t] = c.trials(sid).data
        assert t.state == "running" and t.attempt == 1
        wait_for(lambda: c.trials(sid).data[0].attempt == 2, 30, "the requeue")
        with worker_process(be, api_url, concurrency=1) as w:
            wait_for(lambda: c.study(sid).status == "completed", 180, "the retried trial", log=w)
        [t] = c.trials(sid).data
        assert t.state == "completed" and t.attempt == 2
        assert [r.step for r in c.reports(t.id).data] == list(range(1, 401))
