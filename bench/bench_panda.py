"""Panda mode: how fast a person's command reaches a training trial, what a checkpoint costs,
and how much work a kill -9 loses with checkpoints and without.

1. Command latency: a real api and one real worker (SQLite, one pool process) train one trial;
   the bench posts ``set learning_rate`` commands one after another and reads, for each, the
   database-clock time from its creation to its acknowledgement by the trainer (``applied_at -
   created_at``). The acknowledgement comes one mini-batch after the change took effect, so this
   is an upper bound on POST → applied. Cases: digits (short epochs, commands ride the report
   answers) and a large uploaded dataset with long epochs (commands ride the poll).
2. Checkpoint cost for an MNIST-sized network (784 → 256 → 256 → 10, Adam): the state's size,
   serialising it, PUT through the api, GET back, and restoring it into a fresh trainer.
3. Work lost to a kill -9 of the worker in the middle of a digits run, with a checkpoint every
   ``--every`` epochs and without (checkpoint_every 0): the epochs the next attempt re-trains.

Run:  .venv/bin/python bench/bench_panda.py [--commands 40]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import api_server, backend  # noqa: E402
from caviar.client import Client  # noqa: E402
from tests.services import wait_for, worker_process  # noqa: E402
from worker.datasets import Dataset  # noqa: E402
from worker.nn import checkpoint  # noqa: E402
from worker.nn.training import Trainer  # noqa: E402

LR_SPACE = {"learning_rate": {"type": "categorical", "choices": [0.003]}}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=40, help="set commands per case")
    parser.add_argument("--every", type=int, default=5, help="checkpoint interval (epochs)")
    parser.add_argument(
        "--parts", default="checkpoint,latency,kill", help="comma-separated parts to run"
    )
    return parser.parse_args()


def fresh(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def train_study(name: str, dataset: str, epochs: int, **fixed: Any) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {"kind": "train", "dataset": dataset, "epochs": epochs, "fixed": fixed},
        "space": LR_SPACE,
        "max_trials": 1,
        "parallelism": 1,
        "heartbeat_grace": 10,
    }


def large_csv(rows: int, features: int, classes: int, seed: int = 0) -> bytes:
    """Pixel-like integer features (0-255) whose class shifts their mean: learnable, compact."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    centres = rng.integers(40, 200, (classes, features))
    x = np.clip(centres[labels] + rng.normal(0, 40, (rows, features)), 0, 255).astype(np.int64)
    header = ",".join([*(f"p{i}" for i in range(features)), "label"])
    lines = [
        header,
        *(",".join(map(str, [*row, label])) for row, label in zip(x, labels, strict=True)),
    ]
    return ("\n".join(lines) + "\n").encode()


def command_latency(c: Client, tid: int, n: int) -> list[float]:
    """POST ``n`` set commands, each a random 0.2-1.2 s after the previous was acknowledged (so
    they land at any phase of the worker's poll); seconds each took."""
    rng = np.random.default_rng(0)
    wait_for(lambda: c.reports(tid).count >= 1, 600, "the first report")
    out: list[float] = []
    for i in range(n):
        command = c.command(tid, "set", {"learning_rate": 0.003 if i % 2 else 0.002})
        wait_for(
            lambda cid=command.id: (
                next(x for x in c.commands(tid).data if x.id == cid).state != "pending"
            ),
            60,
            "the acknowledgement",
            interval=0.02,
        )
        done = next(x for x in c.commands(tid).data if x.id == command.id)
        assert done.state == "applied" and done.applied_at is not None, done
        out.append((done.applied_at - done.created_at).total_seconds())
        time.sleep(rng.uniform(0.2, 1.2))
    return out


def bench_latency(args: argparse.Namespace, tmp: Path) -> None:
    print("\n## Command latency, POST → acknowledged by the trainer (database clock)\n")
    print("| case | epoch | mini-batch | commands | p50 | p95 | max |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with (
        backend("sqlite", fresh(tmp / "latency")) as be,
        api_server(be, CAVIAR_MAX_UPLOAD_BYTES=str(128 * 1024 * 1024)) as url,
        worker_process(be, url, concurrency=1) as w,
        Client(url, timeout=120) as c,
    ):
        cases = [
            ("digits (1,797×64, 128-128, batch 64)", "digits", {"batch_size": 64}),
            (
                "large (20,000×256, 1024-1024, batch 64)",
                "large",
                {"batch_size": 64, "hidden_units": 1024},
            ),
        ]
        c.upload_dataset("large", large_csv(20_000, 256, 10))
        for label, dataset, fixed in cases:
            sid = c.create_study(train_study(label, dataset, 10_000, **fixed)).id
            tid = c.trials(sid).data[0].id
            latencies = command_latency(c, tid, args.commands)
            epoch_s = _epoch_seconds(c, tid)
            c.command(tid, "stop")
            batches = 1438 if dataset == "digits" else 16_000
            batch_ms = 1000 * epoch_s / -(-batches // fixed["batch_size"])
            print(
                f"| {label} | {epoch_s:.2f} s | {batch_ms:.1f} ms | {len(latencies)} | "
                f"{1000 * pct(latencies, 0.5):.0f} ms | {1000 * pct(latencies, 0.95):.0f} ms | "
                f"{1000 * max(latencies):.0f} ms |"
            )
            wait_for(lambda s=sid: c.study(s).status == "completed", 60, "the stop", log=w)


def _epoch_seconds(c: Client, tid: int) -> float:
    """Mean seconds per epoch over a few epochs, from the report count's growth."""
    n0, t0 = c.reports(tid).count, time.monotonic()
    wait_for(lambda: c.reports(tid).count >= n0 + 2, 600, "two more epochs")
    return (time.monotonic() - t0) / (c.reports(tid).count - n0)


def bench_checkpoint(tmp: Path) -> None:
    print("\n## Checkpoint of an MNIST-sized network (784 → 256 → 256 → 10, Adam)\n")
    rng = np.random.default_rng(0)
    n = 20_000
    x = rng.normal(size=(n, 784)).astype(np.float32)
    y = rng.integers(0, 10, n)
    data = Dataset(
        name="mnist-sized",
        X_train=x[:16_000],
        y_train=y[:16_000],
        X_val=x[16_000:],
        y_val=y[16_000:],
        n_classes=10,
        class_names=tuple(map(str, range(10))),
        feature_mean=np.zeros(784, dtype=np.float32),
        feature_std=np.ones(784, dtype=np.float32),
    )
    hp = {"hidden_units": 256, "layers": 2, "batch_size": 256, "optimizer": "adam"}
    trainer = Trainer(data, hp, np.random.default_rng(1))
    trainer.run_epoch()
    state = trainer.state()

    def timed(fn: Any, repeats: int = 7) -> tuple[float, Any]:
        times, result = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), result

    dump_s, raw = timed(lambda: checkpoint.dumps(state))
    load_s, _ = timed(
        lambda: Trainer(data, hp, np.random.default_rng(2)).load_state(checkpoint.loads(raw))
    )
    rows = []
    for kind in ("sqlite", "postgres"):
        try:
            with (
                backend(kind, fresh(tmp / f"ckpt-{kind}")) as be,
                api_server(be) as url,
                Client(url) as c,
            ):
                space = {"w": {"type": "float", "low": 0, "high": 1}}
                sid = c.create_study(
                    {"name": "ckpt", "objective": {"kind": "external"}, "space": space}
                ).id
                [t] = c.ask(sid, 1)
                steps = iter(range(1, 1000))
                put_s, _ = timed(
                    lambda c=c, t=t, steps=steps: c.put_checkpoint(t.id, 1, next(steps), raw)
                )
                get_s, got = timed(lambda c=c, t=t: c.checkpoint(t.id))
                assert got is not None and got[1] == raw
                rows.append((kind, put_s, get_s))
        except BaseException as exc:  # a missing server skips that backend
            print(f"({kind}: skipped, {type(exc).__name__}: {exc})")
    print(f"state: {trainer.network.params.size:,} parameters; checkpoint {len(raw) / 1e6:.2f} MB")
    print(
        f"serialise {1000 * dump_s:.1f} ms; "
        f"deserialise + restore into a new trainer {1000 * load_s:.1f} ms\n"
    )
    print("| backend | write (PUT) | read (GET) | write + serialise | read + restore |")
    print("| --- | --- | --- | --- | --- |")
    for kind, put_s, get_s in rows:
        print(
            f"| {kind} | {1000 * put_s:.0f} ms | {1000 * get_s:.0f} ms | "
            f"{1000 * (put_s + dump_s):.0f} ms | {1000 * (get_s + load_s):.0f} ms |"
        )


def bench_kill(args: argparse.Namespace, tmp: Path) -> None:
    print("\n## Work lost to a kill -9 of the worker mid-run (digits, 60 epochs, batch 8)\n")
    print(
        "| checkpoints | killed after epoch | next attempt starts at epoch | epochs lost "
        "| time lost |"
    )
    print("| --- | --- | --- | --- | --- |")
    with backend("sqlite", fresh(tmp / "kill")) as be, api_server(be) as url, Client(url) as c:
        for every in (args.every, 0):
            kill_once(c, be, url, every)


def kill_once(c: Client, be: Any, url: str, every: int) -> None:
    body = train_study(f"kill-{every}", "digits", 60, batch_size=8, hidden_units=128)
    body["objective"]["checkpoint_every"] = every
    body["heartbeat_grace"] = 3
    sid = c.create_study(body).id
    tid = c.trials(sid).data[0].id
    with worker_process(be, url, concurrency=1) as doomed:
        wait_for(lambda: c.reports(tid).count >= 1, 120, "the first epoch", log=doomed)
        t0, n0 = time.monotonic(), c.reports(tid).count
        wait_for(lambda: c.reports(tid).count >= 33, 300, "epoch 33", log=doomed)
        epoch_s = (time.monotonic() - t0) / (c.reports(tid).count - n0)
        doomed.stop(signal.SIGKILL)
    killed_at = c.reports(tid).count
    wait_for(lambda: c.trial(tid).attempt == 2, 60, "the requeue")
    probe = c.command(tid, "set", {"learning_rate": 0.003})  # applied at attempt 2's start
    with worker_process(be, url, concurrency=1) as w:
        wait_for(lambda: c.study(sid).status == "completed", 600, "the retry", log=w)
    applied = next(x for x in c.commands(tid).data if x.id == probe.id)
    assert applied.applied_step is not None
    start = applied.applied_step
    lost = killed_at - (start - 1)
    label = f"every {every} epochs" if every else "none"
    print(f"| {label} | {killed_at} | {start} | {lost} | {lost * epoch_s:.1f} s |")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="caviar-bench-panda-") as tmp:
        parts = args.parts.split(",")
        if "checkpoint" in parts:
            bench_checkpoint(Path(tmp))
        if "latency" in parts:
            bench_latency(args, Path(tmp))
        if "kill" in parts:
            bench_kill(args, Path(tmp))


if __name__ == "__main__":
    main()
