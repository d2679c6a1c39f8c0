"""Epoch time of Caviar's NumPy trainer against PyTorch CPU, side by side in one run.

The same network on both sides: Dense(no bias)-BatchNorm-ReLU x 2, then Dense with a bias and a
softmax cross-entropy, trained with Adam in float32 over a shuffled epoch of mini-batches. An
epoch is one pass of updates over the data (no evaluation). Both sides use the same number of
threads: OMP / OpenBLAS / MKL threads and ``torch.set_num_threads`` are set before either library
is imported.

Cases: digits-sized (the 1,797 x 64 digits, hidden 128-128, batch 64) and MNIST-sized (20,000 x
784 random features, hidden 256-128, batch 256). For the MNIST-sized case the trainer's matmul
GFLOP/s is compared with ``np.matmul`` on 1024 x 1024 float32 matrices, measured in the same run.

Run:  .venv/bin/python bench/bench_trainer.py [--threads N] [--repeats R]
Requires torch (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

GOALS = {"digits-sized": 0.4, "MNIST-sized": 0.9}
CEILING_GOAL = 0.45


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=7, help="timed epochs per side and case")
    parser.add_argument(
        "--settle", type=float, default=0.3, help="seconds of idle time before each timed epoch"
    )
    return parser.parse_args()


ARGS = parse_args()
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from worker.datasets import Dataset, load_builtin  # noqa: E402
from worker.nn.model import Network  # noqa: E402
from worker.nn.training import Trainer  # noqa: E402

torch.set_num_threads(ARGS.threads)


@dataclass(frozen=True)
class Case:
    name: str
    n: int
    d: int
    hidden: tuple[int, int]
    batch: int
    classes: int = 10

    def flops_per_epoch(self) -> float:
        """Matmul FLOPs of one epoch: forward, weight gradients, and input gradients of every
        layer but the first (the data needs none)."""
        widths = [self.d, *self.hidden, self.classes]
        layer = [widths[i] * widths[i + 1] for i in range(len(widths) - 1)]
        per_sample = 2 * (2 * sum(layer) + sum(layer[1:]))
        return float(per_sample * self.n)


CASES = [
    Case("digits-sized", 1797, 64, (128, 128), 64),
    Case("MNIST-sized", 20_000, 784, (256, 128), 256),
]


def case_data(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """float32 features (n, d) and int64 labels (n,): the real digits, or random features."""
    if case.name == "digits-sized":
        digits = load_builtin("digits")
        return np.concatenate([digits.X_train, digits.X_val]), np.concatenate(
            [digits.y_train, digits.y_val]
        )
    rng = np.random.default_rng(0)
    X = rng.standard_normal((case.n, case.d), dtype=np.float32)
    return X, rng.integers(0, case.classes, size=case.n)


def caviar_epoch(case: Case, X: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    # The whole set is the train split here: every sample is trained on, as on the torch side.
    data = Dataset(
        name=case.name,
        X_train=X,
        y_train=y,
        X_val=X[:1],
        y_val=y[:1],
        n_classes=case.classes,
        class_names=tuple(map(str, range(case.classes))),
        feature_mean=np.zeros(case.d, dtype=np.float32),
        feature_std=np.ones(case.d, dtype=np.float32),
    )
    rng = np.random.default_rng(0)
    network = Network(
        case.d, case.classes, hidden_units=case.hidden, layers=2, activation="relu", rng=rng
    )
    hp = {"batch_size": case.batch, "optimizer": "adam", "learning_rate": 1e-3}
    trainer = Trainer(data, hp, rng, network=network)

    def epoch() -> None:
        trainer.train_epoch(1e-3)

    return epoch


def torch_epoch(case: Case, X: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    torch.manual_seed(0)
    h1, h2 = case.hidden
    model = torch.nn.Sequential(
        torch.nn.Linear(case.d, h1, bias=False),
        torch.nn.BatchNorm1d(h1),
        torch.nn.ReLU(),
        torch.nn.Linear(h1, h2, bias=False),
        torch.nn.BatchNorm1d(h2),
        torch.nn.ReLU(),
        torch.nn.Linear(h2, case.classes),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(np.array(X)), torch.from_numpy(np.array(y))
    generator = torch.Generator().manual_seed(0)

    def epoch() -> None:
        model.train()
        order = torch.randperm(case.n, generator=generator)
        for start in range(0, case.n, case.batch):
            index = order[start : start + case.batch]
            if len(index) < 2:
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[index]), yt[index])
            loss.backward()
            optimizer.step()

    return epoch


def settle() -> None:
    """Let the other library's worker threads stop spinning before a timed run.

    OpenBLAS and OpenMP threads busy-wait for a while after their last parallel region; in the
    same process (or on the same cores) they would slow down whatever runs next.
    """
    time.sleep(ARGS.settle)


def timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def matmul_gflops(repeats: int = 30) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    b = rng.standard_normal((1024, 1024), dtype=np.float32)
    out = np.empty_like(a)
    settle()
    for _ in range(3):
        np.matmul(a, b, out=out)
    seconds = statistics.median(timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * 1024**3 / seconds / 1e9


def main() -> None:
    print(
        f"threads: {ARGS.threads}, repeats: {ARGS.repeats}, numpy {np.__version__}, "
        f"torch {torch.__version__}, load average before: {os.getloadavg()[0]:.2f}"
    )
    ceiling = matmul_gflops()
    rows = []
    for case in CASES:
        X, y = case_data(case)
        sides = {"caviar": caviar_epoch(case, X, y), "torch": torch_epoch(case, X, y)}
        for run in sides.values():  # warm-up epoch: buffers, caches, lazy initialisation
            run()
        times: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(ARGS.repeats):  # interleaved, so drifts in machine load hit both sides
            for side, run in sides.items():
                settle()
                times[side].append(timed(run))
        medians = {side: statistics.median(values) for side, values in times.items()}
        minima = {side: min(values) for side, values in times.items()}
        rows.append((case, medians, minima))
    ceiling_after = matmul_gflops()
    print(f"load average after: {os.getloadavg()[0]:.2f} (other work on the machine skews timings)")

    print(f"np.matmul 1024² float32: {ceiling:.0f} GFLOP/s (before), {ceiling_after:.0f} (after)")
    print()
    print(f"{'epoch (ms)':<14}{'caviar':>9}{'torch':>9}{'ratio':>8}{'goal':>7}   (best of runs)")
    for case, medians, minima in rows:
        ratio = medians["caviar"] / medians["torch"]
        print(
            f"{case.name:<14}{medians['caviar'] * 1e3:>9.1f}{medians['torch'] * 1e3:>9.1f}"
            f"{ratio:>8.2f}{'≤ ' + str(GOALS[case.name]):>7}"
            f"   ({minima['caviar'] * 1e3:.1f} vs {minima['torch'] * 1e3:.1f}: "
            f"{minima['caviar'] / minima['torch']:.2f})"
        )
    case, medians, _ = rows[-1]
    gflops = case.flops_per_epoch() / medians["caviar"] / 1e9
    print()
    print(
        f"{case.name} caviar: {gflops:.0f} GFLOP/s = {gflops / ceiling:.0%} of the np.matmul "
        f"ceiling measured before the cases, {gflops / ceiling_after:.0%} of the one after "
        f"(goal ≥ {CEILING_GOAL:.0%})"
    )


if __name__ == "__main__":
    main()
