"""What faults cost a study, on the fleet configuration (PostgreSQL, a Redis of its own, real
workers), with the api's default settings:

- kills: a worker is killed with SIGKILL mid-epoch ``--kills`` times during a study of
  ``--kill-trials`` trials (its study sets ``heartbeat_grace`` to 5 s: the default 120 s would
  make the run last an hour). Counts completed and lost trials, and checks that no attempt was
  ever claimed by two workers and that every requeue fenced its attempt before the next one
  was claimed (no trial trained twice at once).
- api restart: the delay that a 6-second api restart adds to a study, against the same study
  without it.
- Redis restart: the delay that a Redis restarted empty adds to the same study.

    python bench/bench_faults.py [--kills 20] [--kill-trials 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from common import (
    QUICK_EPOCH,
    ApiProcess,
    Backend,
    events,
    fleet_backend,
    fleet_of,
    wait_for,
    worker_process,
)

from caviar.client import Client


def study_body(name: str, trials: int, epochs: int, **over: Any) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {
            "kind": "train",
            "dataset": "digits",
            "fixed": {**QUICK_EPOCH, "epochs": epochs},
        },
        "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "scale": "log"}},
        "max_trials": trials,
        "parallelism": 2,
        "seed": 11,
        **over,
    }


def bench_kills(be: Backend, api: ApiProcess, engine: sa.Engine, kills: int, trials: int) -> None:
    with Client(api.url) as c, fleet_of(be, api.url, 2) as fleet:
        body = study_body("kills", trials, 40, heartbeat_grace=5.0, max_attempts=kills + 5)
        sid = c.create_study(body).id
        t0 = time.monotonic()
        done = 0
        while done < kills and c.study(sid).status == "running":
            try:
                wait_for(lambda: fleet.training() is not None, 120, "a worker mid-epoch", 0.05)
            except AssertionError:
                break
            busy = fleet.training()
            if busy is None:
                continue
            fleet.replace(busy)
            done += 1
        wait_for(lambda: c.study(sid).status == "completed", 900, "the study")
        elapsed = time.monotonic() - t0
        states = Counter(t.state for t in c.trials(sid).data)
        attempts = sum(t.attempt - 1 for t in c.trials(sid).data)
    log = [(t, a, k) for t, a, k, _ in events(engine, sid)]
    claims = Counter((t, a) for t, a, k in log if k == "claimed")
    twice = sum(1 for n in claims.values() if n > 1)
    order_ok = all(
        any(k == "requeued" and t == t2 and a == a2 - 1 for t, a, k in log[:i])
        for i, (t2, a2, k2) in enumerate(log)
        if k2 == "claimed" and a2 > 1
    )
    print(
        f"kills: {done} workers killed mid-epoch; {states.get('completed', 0)}/{trials} trials "
        f"completed, {trials - sum(states.values())} lost, {attempts} requeued attempts; "
        f"attempts claimed twice: {twice}; every new attempt claimed after its requeue: "
        f"{order_ok}; {elapsed:.0f} s"
    )


def timed_study(
    api: ApiProcess, be: Backend, fault: Callable[[], None] | None
) -> tuple[float, int]:
    """Seconds for a 12-trial study with two workers, and the attempts it burned (requeues);
    ``fault`` strikes after 3 trials."""
    with ExitStack() as stack, Client(api.url) as c:
        for _ in range(2):
            stack.enter_context(worker_process(be, api.url, concurrency=1))
        sid = c.create_study(study_body("timed", 12, 25)).id
        t0 = time.monotonic()
        if fault is not None:
            wait_for(lambda: c.study(sid).counts["completed"] >= 3, 300, "three trials")
            fault()
        wait_for(lambda: c.study(sid).status == "completed", 600, "the study", interval=0.1)
        elapsed = time.monotonic() - t0
        burned = sum(t.attempt - 1 for t in c.trials(sid).data)
    return elapsed, burned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--kill-trials", type=int, default=20)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fleet_backend(Path(tmp)) as (be, redis_server),
    ):
        api = ApiProcess(be)
        t0 = time.monotonic()
        api.start()
        startup = time.monotonic() - t0
        engine = sa.create_engine(be.database_url)
        try:
            if args.kills:
                bench_kills(be, api, engine, args.kills, args.kill_trials)

            downtime: list[float] = []

            def restart_api() -> None:
                """Down for about 6 s in all: stopped, then started again (its start-up, the
                migrations check included, counts in the 6 s)."""
                t = time.monotonic()
                api.stop()
                time.sleep(max(0.0, 6.0 - startup - (time.monotonic() - t)))
                api.start()
                downtime.append(time.monotonic() - t)

            def restart_redis() -> None:
                redis_server.kill()
                redis_server.start()

            base, _ = timed_study(api, be, None)
            with_api, burned_api = timed_study(api, be, restart_api)
            base2, _ = timed_study(api, be, None)
            with_redis, burned_redis = timed_study(api, be, restart_redis)
            baseline = (base + base2) / 2
            print(f"baseline study: {base:.1f} s and {base2:.1f} s (mean {baseline:.1f} s)")
            print(
                f"api restarted (down {downtime[0]:.1f} s): {with_api:.1f} s, delay "
                f"{with_api - baseline:.1f} s (goal <= 10 s), attempts burned: {burned_api}"
            )
            print(
                f"Redis restarted empty: {with_redis:.1f} s, delay {with_redis - baseline:.1f} s "
                f"(goal <= 15 s), attempts burned: {burned_redis}"
            )
        finally:
            engine.dispose()
            api.stop()


if __name__ == "__main__":
    main()
