"""Faults on the fleet configuration (PostgreSQL, a Redis of its own, real workers):

- a long epoch is kept alive by heartbeats; a frozen worker is requeued and, thawed, fenced off
  inside its epoch;
- a requeued external trial is never sent to a worker;
- workers killed with SIGKILL mid-epoch, again and again: every trial completes, none is lost,
  and no attempt is ever claimed twice;
- Redis restarted empty mid-study: the lost messages are resent in seconds;
- the api restarted mid-study: the workers retry their calls, no attempt is burned.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from caviar.client import Client
from tests.fleet import QUICK_EPOCH, events, fleet_of
from tests.services import (
    ApiProcess,
    Backend,
    Process,
    RedisServer,
    api_server,
    wait_for,
    worker_process,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SLOW_EPOCH = {"hidden_units": 512, "layers": 4, "batch_size": 2}  # 3-5 s per epoch


def train_study(name: str, fixed: dict[str, Any], **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "objective": {"kind": "train", "dataset": "digits", "fixed": fixed},
        "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "scale": "log"}},
        "seed": 7,
    }
    body.update(over)
    return body


def test_heartbeats_keep_a_long_epoch_alive_and_fence_a_frozen_worker(
    fleet_be: Backend, api: ApiProcess
) -> None:
    """Epochs of seconds with a grace of 1 s: alive while it trains; frozen past the grace, it
    is requeued; thawed, its heartbeat is refused and it stops inside the epoch, never
    reporting, and attempt 2 completes the trial."""
    with Client(api.url) as c, worker_process(fleet_be, api.url, concurrency=1) as w:
        body = train_study("frozen", {**SLOW_EPOCH, "epochs": 2}, heartbeat_grace=1.0)
        sid = c.create_study({**body, "max_trials": 1, "parallelism": 1}).id
        wait_for(lambda: c.trials(sid).data[0].state == "running", 60, "the claim", log=w)
        time.sleep(2)  # two graces inside the first epoch
        assert c.trials(sid).data[0].attempt == 1, w.output()[-3000:]
        os.killpg(w.proc.pid, signal.SIGSTOP)
        try:
            wait_for(
                lambda: c.trials(sid).data[0].attempt == 2,
                30,
                f"the requeue of {c.trials(sid).data[0]}",
            )
        finally:
            os.killpg(w.proc.pid, signal.SIGCONT)
        wait_for(lambda: c.study(sid).status == "completed", 120, "attempt 2", log=w)
        # stopped by its own poll between mini-batches ("stopping"), or else by the heartbeat
        # thread ("stopped"): either way inside the epoch, before reporting
        assert re.search(r"attempt 1 fenced off; stop(ping|ped)", w.output())
        [t] = c.trials(sid).data
        assert (t.state, t.attempt) == ("completed", 2)
        assert [(r.attempt, r.step) for r in c.reports(t.id).data] == [(2, 1), (2, 2)]


def test_a_requeued_external_trial_is_never_sent_to_a_worker(fleet_be: Backend) -> None:
    """Resends every 0.5 s and a worker ready to take anything: the external trial waits."""
    with (
        api_server(fleet_be, CAVIAR_RECONCILE_INTERVAL="0.3", CAVIAR_REDISPATCH_AFTER="0.5") as url,
        worker_process(fleet_be, url, concurrency=1) as w,
        Client(url) as c,
    ):
        sid = c.create_study(
            {
                "name": "ext",
                "objective": {"kind": "external"},
                "space": {"x": {"type": "float", "low": 0, "high": 1}},
                "max_trials": 1,
                "heartbeat_grace": 0.5,
            }
        ).id
        [t] = c.ask(sid, 1)
        wait_for(lambda: c.trials(sid).data[0].attempt == 2, 15, "the requeue")
        time.sleep(3)  # several resend passes
        assert c.trials(sid).data[0].state == "queued", w.output()[-2000:]
        [again] = c.ask(sid, 1)
        assert (again.id, again.attempt) == (t.id, 2)


def test_workers_killed_mid_epoch_lose_nothing(
    fleet_be: Backend, api: ApiProcess, db: sa.Engine
) -> None:
    kills = 4
    with Client(api.url) as c, fleet_of(fleet_be, api.url, 2) as fleet:
        body = train_study("kills", {**QUICK_EPOCH, "epochs": 100}, heartbeat_grace=2.0)
        sid = c.create_study({**body, "max_trials": 6, "parallelism": 2, "max_attempts": 10}).id
        busy: Process | None = None
        for _ in range(kills):
            wait_for(lambda: fleet.training() is not None, 90, "a worker mid-epoch", 0.1)
            busy = fleet.training()
            assert busy is not None
            fleet.replace(busy)
        wait_for(lambda: c.study(sid).status == "completed", 120, "the study", log=busy)
        trials = c.trials(sid).data
        assert [t.state for t in trials] == ["completed"] * 6
        for t in trials:  # one curve: each epoch once, continued from checkpoints by later
            curve = c.reports(t.id).data  # attempts, and ended by the completing one
            assert [r.step for r in curve] == list(range(1, 101))
            attempts = [r.attempt for r in curve]
            assert attempts == sorted(attempts) and attempts[-1] == t.attempt
    log = events(db, sid)
    claims = Counter((trial, attempt) for trial, attempt, kind, _ in log if kind == "claimed")
    assert max(claims.values()) == 1  # never two workers on one attempt
    requeues = [e for e in log if e[2] == "requeued"]
    assert len(requeues) >= 1 and all("no heartbeat" in e[3] for e in requeues)
    assert sum(t.attempt - 1 for t in trials) == len(requeues)


def test_a_worker_killed_mid_fused_run_loses_and_duplicates_nothing(
    fleet_be: Backend, api: ApiProcess, db: sa.Engine
) -> None:
    """Four trials trained fused; their worker killed mid-run: each member is requeued alone
    and continued from its own checkpoint by the next worker, each epoch reported once."""
    epochs = 300
    with Client(api.url) as c:
        fixed = {**QUICK_EPOCH, "layers": 1, "epochs": epochs}
        body = train_study("fused-kill", fixed, heartbeat_grace=2.0)
        sid = c.create_study({**body, "max_trials": 4, "parallelism": 4, "max_attempts": 5}).id
        with worker_process(fleet_be, api.url, concurrency=1, CAVIAR_FUSE_MAX="16") as doomed:
            wait_for(
                lambda: all(len(c.reports(t.id).data) >= 2 for t in c.trials(sid).data),
                90,
                "every member's first epochs",
                log=doomed,
            )
            assert "training 4 trials fused" in doomed.output()
            doomed.stop(signal.SIGKILL)  # the whole process group, mid-run
        assert [t.state for t in c.trials(sid).data] == ["running"] * 4
        with worker_process(fleet_be, api.url, concurrency=1, CAVIAR_FUSE_MAX="16") as w:
            wait_for(lambda: c.study(sid).status == "completed", 180, "the study", log=w)
        trials = c.trials(sid).data
        assert [(t.state, t.attempt) for t in trials] == [("completed", 2)] * 4
        for t in trials:
            curve = c.reports(t.id).data
            assert [r.step for r in curve] == list(range(1, epochs + 1))
            attempts = [r.attempt for r in curve]
            assert attempts == sorted(attempts) and attempts[-1] == 2
    log = events(db, sid)
    fused = [e for e in log if e[2] == "claimed" and "fused with" in e[3]]
    assert len(fused) == 3 and {e[1] for e in fused} == {1}
    claims = Counter((trial, attempt) for trial, attempt, kind, _ in log if kind == "claimed")
    assert max(claims.values()) == 1 and len(claims) == 8  # each attempt claimed once
    requeues = [e for e in log if e[2] == "requeued"]
    assert len(requeues) == 4 and all("no heartbeat" in e[3] for e in requeues)


def test_redis_restarted_empty_mid_study(
    fleet_be: Backend, api: ApiProcess, redis_server: RedisServer, db: sa.Engine
) -> None:
    """Messages waiting in Redis are gone after the restart; the api notices the shortfall in
    the queue and resends them within seconds (its slow path would wait 120 s). The worker
    trains one trial at a time, so that trials wait their turn in Redis (a fused run would
    claim them from the queue)."""
    with (
        Client(api.url) as c,
        worker_process(fleet_be, api.url, concurrency=1, CAVIAR_FUSE_MAX="1") as w,
    ):
        body = train_study("redis", {**QUICK_EPOCH, "epochs": 6})
        sid = c.create_study({**body, "max_trials": 8, "parallelism": 4}).id
        wait_for(lambda: c.study(sid).counts["completed"] >= 2, 60, "two trials", log=w)
        assert c.study(sid).counts["queued"] >= 2  # waiting their turn, never resent:
        assert not [e for e in events(db, sid) if e[2] == "resent"]
        redis_server.kill()
        time.sleep(1)
        redis_server.start()
        wait_for(lambda: c.study(sid).status == "completed", 60, "the study", log=w)
        trials = c.trials(sid).data
    assert [t.state for t in trials] == ["completed"] * 8
    resent = [e for e in events(db, sid) if e[2] == "resent"]
    # lost in the restart; a trial created while Redis was down was never sent at all
    assert any("broker queue" in e[3] for e in resent)
    assert all("broker queue" in e[3] or "never sent" in e[3] for e in resent)


def test_api_restarted_mid_study(fleet_be: Backend, api: ApiProcess, db: sa.Engine) -> None:
    """A 6-second api restart: workers retry their calls and keep their claims; every trial
    completes on its first attempt."""
    with Client(api.url) as c, fleet_of(fleet_be, api.url, 2) as fleet:
        body = train_study("api", {**QUICK_EPOCH, "epochs": 25})
        sid = c.create_study({**body, "max_trials": 6, "parallelism": 2}).id
        wait_for(
            lambda: c.study(sid).counts["running"] == 2 and c.study(sid).counts["completed"] >= 1,
            90,
            "trials in flight",
            log=fleet.workers[0],
        )
        api.stop()
        time.sleep(6)
        api.start()
        wait_for(lambda: c.study(sid).status == "completed", 60, "the study", log=fleet.workers[0])
        trials = c.trials(sid).data
        assert [(t.state, t.attempt) for t in trials] == [("completed", 1)] * 6
    assert not [e for e in events(db, sid) if e[2] in ("requeued", "failed")]
