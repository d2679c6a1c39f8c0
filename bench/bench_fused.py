"""One epoch of K trials fused against the same K trained one after another, side by side.

Each case builds K trials of one study, then times, interleaved, one epoch (train + validation,
``run_epoch``) of the K as one :class:`worker.nn.fused.FusedTrainer` and one epoch of each of
the K :class:`worker.nn.training.Trainer` in turn. Cases:

- ``digits study``: the README's study on digits (hidden_units 16-256 on a log scale, the
  optimizer among momentum/rmsprop/adam, learning rate on a log scale), widths padded to the
  widest member (``padded``), grouped by exact shape (``by shape``), or split by
  :func:`worker.nn.fused.plan_fusion` with its groups of one trained alone (``planned``, and
  ``planned+pad``: widths up to 64 padded together, wider ones alone);
- ``digits 16-64, padded``: the same with hidden_units 16-64, padded to the widest;
- ``digits wN``: K trials of width N (32, 64, 128, 256) with their own seeds and optimizers;
- ``MNIST-sized wN``: 784 random features, 10 classes, a few thousand rows (numpy-generated).

BLAS runs on one thread, as the workers do (set before numpy is imported).

Run:  .venv/bin/python bench/bench_fused.py [--repeats R] [--quick]
"""

from __future__ import annotations

import argparse
import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from caviar.trainer_params import parse_hyperparams  # noqa: E402
from worker.datasets import Dataset, load_builtin, split_dataset  # noqa: E402
from worker.nn.fused import FusedTrainer, plan_fusion  # noqa: E402
from worker.nn.training import Trainer  # noqa: E402

KS = (1, 2, 4, 8, 16, 32)
OPTIMIZERS = ("momentum", "rmsprop", "adam")


@dataclass(frozen=True)
class Case:
    name: str
    data: str  # "digits" or "mnist"
    width: int | None  # None: the study's log-scale draw
    ks: tuple[int, ...]
    pad: bool = False
    planned: bool = False


def study_params(k: int, width: int | None, seed: int) -> list[dict[str, Any]]:
    """K trials' hyperparameters, drawn as the README's digits study draws them; a positive
    ``width`` fixes hidden_units, a negative one draws it in 16..-width on a log scale."""
    rng = np.random.default_rng(seed)
    high = 256 if width is None or width > 0 else -width
    trials = []
    for _ in range(k):
        drawn = round(float(np.exp(rng.uniform(np.log(16), np.log(high)))))
        units = width if width is not None and width > 0 else drawn
        trials.append(
            {
                "learning_rate": float(10 ** rng.uniform(-4, -1)),
                "hidden_units": units,
                "optimizer": str(rng.choice(OPTIMIZERS)),
                "epochs": 20,
            }
        )
    return trials


def mnist_sized(rows: int, seed: int = 0) -> Dataset:
    """``rows`` samples of 784 features in 10 classes: class means plus noise (float32)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=rows)
    X = centres[y] + 2.0 * rng.standard_normal((rows, 784)).astype(np.float32)
    return split_dataset("mnist-sized", X, y, [str(c) for c in range(10)], seed=seed)


def time_case(
    data: Dataset, trials: list[dict[str, Any]], pad: bool, planned: bool, repeats: int
) -> tuple[list[float], list[float], int]:
    """Seconds per epoch of the K fused and of the K one after another; and the groups. With
    ``planned`` the K are split by :func:`plan_fusion`, and its groups of one train alone."""
    runs: list[FusedTrainer | Trainer] = []
    plan = (
        plan_fusion([parse_hyperparams(hp) for hp in trials], pad=pad)
        if planned
        else [list(range(len(trials)))]
    )
    for indices in plan:
        if planned and len(indices) == 1:
            seed = indices[0]
            runs.append(Trainer(data, trials[seed], np.random.default_rng(seed)))
            continue
        fused = FusedTrainer(data, pad=pad)
        for seed in indices:
            fused.add(seed, trials[seed], np.random.default_rng(seed))
        runs.append(fused)
    alone = [Trainer(data, hp, np.random.default_rng(seed)) for seed, hp in enumerate(trials)]
    for run in [*runs, *alone]:  # warm: buffers, caches
        run.run_epoch()
    fused_times, alone_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for run in runs:
            run.run_epoch()
        fused_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for trainer in alone:
            trainer.run_epoch()
        alone_times.append(time.perf_counter() - start)
    groups = sum(len(r.groups) if isinstance(r, FusedTrainer) else 1 for r in runs)
    return fused_times, alone_times, groups


def optimizer_step_times(data: Dataset, width: int, repeats: int) -> tuple[float, float]:
    """Seconds of one optimizer step of 8 fused members: of mixed kinds grouped by kind (what
    the fused trainer does), and of 8 adam members (the least a mask over all kinds computes:
    every row pays adam's passes, plus the other kinds' and a select)."""

    def group_of(kinds: list[str]) -> Any:
        fused = FusedTrainer(data)
        for seed, kind in enumerate(kinds):
            fused.add(seed, {"hidden_units": width, "optimizer": kind}, np.random.default_rng(seed))
        return fused.groups[0]

    times = []
    for kinds in (["adam", "rmsprop", "momentum", "gd"] * 2, ["adam"] * 8):
        group = group_of(kinds)
        grads = np.zeros_like(group.params)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(100):
                group._optimizer_step(grads)
            best = min(best, (time.perf_counter() - start) / 100)
        times.append(best)
    return times[0], times[1]


def spread(times: list[float]) -> str:
    low, high = 1e3 * min(times), 1e3 * max(times)
    return f"{1e3 * statistics.median(times):8.1f} ms [{low:.1f}-{high:.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=3000, help="rows of the MNIST-sized set")
    parser.add_argument("--quick", action="store_true", help="K up to 8 only")
    parser.add_argument("--only", default="", help="run only the cases whose name has this")
    args = parser.parse_args()
    ks = tuple(k for k in KS if k <= 8) if args.quick else KS
    digits = load_builtin("digits")
    mnist = mnist_sized(args.rows)
    cases = [
        Case("digits study, padded", "digits", None, ks, pad=True),
        Case("digits study, by shape", "digits", None, tuple(k for k in ks if k <= 8)),
        Case("digits study, planned", "digits", None, ks, planned=True),
        Case("digits study, planned+pad", "digits", None, ks, pad=True, planned=True),
        Case("digits 16-64, padded", "digits", -64, ks, pad=True),
        *(Case(f"digits w{w}", "digits", w, ks) for w in (32, 64, 128, 256)),
        *(Case(f"MNIST-sized w{w}", "mnist", w, tuple(k for k in ks if k <= 8)) for w in (32, 128)),
    ]
    print(
        f"one epoch (train + validation), BLAS threads 1, {args.repeats} repeats; "
        f"digits {digits.X_train.shape}, MNIST-sized {mnist.X_train.shape}"
    )
    print(f"{'case':24} {'K':>3} {'groups':>6} {'fused':>26} {'one by one':>26} {'speed-up':>8}")
    for case in (c for c in cases if args.only in c.name):
        data = digits if case.data == "digits" else mnist
        for k in case.ks:
            trials = study_params(k, case.width, seed=7)
            fused, alone, groups = time_case(data, trials, case.pad, case.planned, args.repeats)
            ratio = statistics.median(alone) / statistics.median(fused)
            print(
                f"{case.name:24} {k:3d} {groups:6d} {spread(fused):>26} {spread(alone):>26} "
                f"{ratio:7.2f}x",
                flush=True,
            )

    if not args.only:
        print("optimizer step of 8 members (best of repeats):")
        for width in (32, 128):
            grouped, floor = optimizer_step_times(digits, width, args.repeats)
            print(
                f"  width {width}: grouped by kind {1e6 * grouped:.0f} us, "
                f"all as adam (a mask's floor) {1e6 * floor:.0f} us"
            )


if __name__ == "__main__":
    main()
