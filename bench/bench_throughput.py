"""Trials per second of a study through ``caviar up`` against the same trials without a service.

For each study, in one run (and each repeat), side by side:

- ``service``: ``caviar up --workers 2`` (real api and worker processes, a temporary data dir,
  a free port) runs the study; timed from the study's creation to its completion (the
  processes' start-up is timed apart);
- ``one by one``: the same configurations with the same seeds (read back from the service's
  trials) trained in this process one after another with ``worker.nn.training.fit``: the floor
  a service should beat;
- ``optuna``: what a user would write instead: 2 processes (``multiprocessing``), each an
  Optuna study on in-memory storage that is handed every other configuration
  (``enqueue_trial``) and drives the same trainer, reporting every epoch (``trial.report``);
  timed from when both processes are ready (optuna imported) to their last trial.

Studies: the README's (``digits``: random search, 20 epochs, learning rate on a log scale,
hidden units 16-256 on a log scale, the optimizer; 40 trials, parallelism 4) and an
MNIST-sized one (784 generated features, 3,000 rows, uploaded as a 13 MB CSV; 20 epochs, 24
trials). Each contender loads its data inside its timing: the service's workers fetch the CSV
through the api and parse it; the loop and each Optuna process parse it from memory. BLAS runs
on one thread in every process, as in the workers.

``--profile`` adds where the service's time goes: per trial, the wait from its creation to its
claim (dispatch latency), from its claim to its end (training plus the calls it makes), and
the requests the api served per trial (read from its access counters).

Run:  .venv/bin/python bench/bench_throughput.py [--repeats R] [--study digits|mnist|all]
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from caviar.client import Client  # noqa: E402
from worker.datasets import Dataset, load_builtin, load_csv  # noqa: E402
from worker.nn.training import fit  # noqa: E402
from worker.objectives.train import hyperparameters  # noqa: E402

SPACE: dict[str, Any] = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "hidden_units": {"type": "int", "low": 16, "high": 256, "scale": "log"},
    "optimizer": {"type": "categorical", "choices": ["momentum", "rmsprop", "adam"]},
}
MNIST_REF = "mnist-sized"


@dataclass(frozen=True)
class StudySpec:
    name: str
    dataset: str
    epochs: int
    trials: int


@dataclass
class ServiceRun:
    seconds: float
    startup: float
    trials: list[dict[str, Any]]  # number, params, seed, created/started/finished
    metrics: dict[str, float] = field(default_factory=dict)  # the api's, during the study
    workers: int = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mnist_csv(rows: int, seed: int = 0) -> bytes:
    """``rows`` samples of 784 features in 10 classes (class means plus noise), as a CSV."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, 784))
    y = rng.integers(0, 10, size=rows)
    X = centres[y] + 2.0 * rng.standard_normal((rows, 784))
    header = ",".join([*(f"x{i}" for i in range(784)), "label"])
    lines = [header]
    for row, label in zip(X, y, strict=True):
        lines.append(",".join(f"{v:.2f}" for v in row) + f",{label}")
    return ("\n".join(lines) + "\n").encode()


def study_config(spec: StudySpec, seed: int) -> dict[str, Any]:
    return {
        "name": f"throughput-{spec.name}",
        "direction": "minimize",
        "objective": {
            "kind": "train",
            "dataset": spec.dataset,
            "epochs": spec.epochs,
            "metric": "val_loss",
        },
        "space": SPACE,
        "strategy": {"name": "random"},
        "max_trials": spec.trials,
        "seed": seed,
    }


def run_service(
    spec: StudySpec, seed: int, csv: bytes | None, workers: int, code: Path | None = None
) -> ServiceRun:
    """The study through ``caviar up --workers N`` on a fresh data dir and a free port; with
    ``code``, the api and workers are that checkout's (first on PYTHONPATH)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    caviar = str(Path(sys.executable).parent / "caviar")
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        env = {**os.environ, "CAVIAR_DATA_DIR": tmp}
        env.pop("CAVIAR_TOKEN", None)
        if code is not None:
            env["PYTHONPATH"] = str(code)
        start = time.perf_counter()
        up = subprocess.Popen(
            [caviar, "up", "--port", str(port), "--workers", str(workers), "--data-dir", tmp],
            env=env,
            cwd=tmp,  # not this checkout: ``python -m`` puts the working directory first
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert up.stdout is not None
            for line in up.stdout:
                if "Caviar is up" in line:
                    break
            else:
                raise RuntimeError(f"caviar up exited with {up.wait()}")
            startup = time.perf_counter() - start
            with Client(url, timeout=120) as client:
                if csv is not None:
                    client.upload_dataset(spec.dataset, csv)
                before = api_metrics(url)
                t0 = time.time()
                study = client.create_study(study_config(spec, seed))
                while client.study(study.id).status == "running":
                    time.sleep(0.5)  # polled slowly: the api serves the workers meanwhile
                after = api_metrics(url)
                trials = [
                    {
                        "number": t.number,
                        "params": t.params,
                        "state": t.state,
                        "seed": (seed * 1_000_003 + t.number) % 2**63,
                        "created": t.created_at.timestamp(),
                        "started": t.started_at.timestamp() if t.started_at else None,
                        "finished": t.finished_at.timestamp() if t.finished_at else None,
                    }
                    for t in client.trials(study.id).data
                ]
                # Timed to the last trial's end (the api's clock, this machine's).
                seconds = max(t["finished"] for t in trials) - t0
        finally:
            up.terminate()
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
    bad = [t for t in trials if t["state"] != "completed"]
    if bad:
        raise RuntimeError(f"{len(bad)} trials did not complete: {bad[:2]}")
    delta = {k: v - before.get(k, 0.0) for k, v in after.items()}
    return ServiceRun(seconds, startup, trials, delta, workers)


def api_metrics(url: str) -> dict[str, float]:
    """From the api's ``/metrics``: requests served by route and method (count and seconds),
    and the api process's CPU seconds."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("process_cpu_seconds_total "):
            out["api_cpu_s"] = float(line.split()[1])
        m = re.match(r"caviar_http_request_duration_seconds_(count|sum)\{(.*)\} (\S+)", line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            key = f"{m.group(1)} {labels['method']} {labels['route']}"
            out[key] = out.get(key, 0.0) + float(m.group(3))
    return out


def train_one(data: Dataset, objective: dict[str, Any], trial: dict[str, Any]) -> float:
    hp = hyperparameters(objective, trial["params"])
    result = fit(data, hp, np.random.default_rng(trial["seed"]))
    return result.final["val_loss"]


def run_one_by_one(spec: StudySpec, trials: list[dict[str, Any]], csv: bytes | None) -> float:
    objective = study_config(spec, 0)["objective"]
    start = time.perf_counter()
    data = load_data(spec.dataset, csv)  # a user's loop loads its data too
    for trial in trials:
        train_one(data, objective, trial)
    return time.perf_counter() - start


# Optuna, as a user would drive the same trainer from 2 processes -------------------------------


def _optuna_init() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _optuna_ready(_: int) -> bool:
    time.sleep(0.2)  # both processes take one: each has imported optuna
    return True


def _optuna_study(args: tuple[StudySpec, list[dict[str, Any]], bytes | None]) -> int:
    import optuna

    spec, trials, csv = args
    data = load_data(spec.dataset, csv)  # each process loads its data
    objective = study_config(spec, 0)["objective"]
    seeds = {t["number"]: t["seed"] for t in trials}

    def train(trial: optuna.Trial) -> float:
        params = {
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1.0, log=True),
            "hidden_units": trial.suggest_int("hidden_units", 16, 256, log=True),
            "optimizer": trial.suggest_categorical("optimizer", ["momentum", "rmsprop", "adam"]),
        }
        number = trial.user_attrs.get("number", trial.number)
        hp = hyperparameters(objective, params)

        def on_epoch(epoch: int, metrics: dict[str, float]) -> bool:
            trial.report(metrics["val_loss"], epoch)
            return True

        result = fit(data, hp, np.random.default_rng(seeds[number]), on_epoch)
        return result.final["val_loss"]

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler())
    for t in trials:
        study.enqueue_trial(t["params"], user_attrs={"number": t["number"]})
    study.optimize(train, n_trials=len(trials))
    return len(study.trials)


def run_optuna(spec: StudySpec, trials: list[dict[str, Any]], csv: bytes | None) -> float | None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return None
    ctx = mp.get_context("fork")
    with ctx.Pool(2, initializer=_optuna_init) as pool:
        assert all(pool.map(_optuna_ready, range(2), chunksize=1))
        start = time.perf_counter()
        halves = [(spec, trials[0::2], csv), (spec, trials[1::2], csv)]
        done = pool.map(_optuna_study, halves, chunksize=1)
        seconds = time.perf_counter() - start
    assert sum(done) == len(trials)
    return seconds


def load_data(dataset: str, csv: bytes | None) -> Dataset:
    if csv is None:
        return load_builtin(dataset)
    return load_csv(csv, name=dataset, max_bytes=len(csv) + 1)


def profile(run: ServiceRun) -> str:
    """Medians per trial (creation to claim, claim to end), the workers' busy share, the api's
    CPU seconds per trial, and its requests per trial by route with their mean milliseconds."""
    trials = run.trials
    n = len(trials)
    waits = [t["started"] - t["created"] for t in trials if t["started"]]
    runs = [t["finished"] - t["started"] for t in trials if t["started"] and t["finished"]]
    idle = (run.workers * run.seconds - sum(runs)) / n
    parts = [
        f"creation to claim {statistics.median(waits) * 1000:.0f} ms",
        f"claim to end {statistics.median(runs) * 1000:.0f} ms",
        f"a worker slot idle between trials {idle * 1000:.0f} ms",
        f"api CPU {run.metrics.get('api_cpu_s', 0.0) / n * 1000:.0f} ms/trial",
    ]
    for key, count in sorted(run.metrics.items()):
        if key.startswith("count ") and count:
            total = run.metrics.get("sum " + key.removeprefix("count "), 0.0)
            parts.append(
                f"{key.removeprefix('count ')} {count / n:.1f}/trial {total / count * 1000:.1f} ms"
            )
    return "\n      ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--study", choices=("digits", "mnist", "all"), default="all")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rows", type=int, default=3000, help="rows of the MNIST-sized set")
    parser.add_argument("--no-optuna", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="DIR",
        help="also run the service from another checkout of Caviar, side by side "
        "(e.g. `git archive <commit> | tar -x -C DIR`)",
    )
    args = parser.parse_args()

    specs = []
    if args.study in ("digits", "all"):
        specs.append((StudySpec("digits", "digits", 20, 40), None))
    if args.study in ("mnist", "all"):
        specs.append((StudySpec("mnist", MNIST_REF, 20, 24), mnist_csv(args.rows)))
    for spec, csv in specs:
        data = load_data(spec.dataset, csv)
        train_one(data, study_config(spec, 0)["objective"], {"params": {}, "seed": 0})  # warm
        print(f"\n{spec.name}: {spec.trials} trials, {spec.epochs} epochs, {data.X_train.shape}")
        rows: dict[str, list[float]] = {
            "service": [],
            "baseline": [],
            "one by one": [],
            "optuna": [],
        }
        for repeat in range(args.repeats):
            if args.baseline is not None:
                base = run_service(spec, 7 + repeat, csv, args.workers, args.baseline)
                rows["baseline"].append(base.seconds)
                print(f"  repeat {repeat + 1}: baseline service {base.seconds:.2f} s", flush=True)
                if args.profile:
                    print("      " + profile(base), flush=True)
            service = run_service(spec, 7 + repeat, csv, args.workers)
            alone = run_one_by_one(spec, service.trials, csv)
            optuna_s = None if args.no_optuna else run_optuna(spec, service.trials, csv)
            rows["service"].append(service.seconds)
            rows["one by one"].append(alone)
            if optuna_s is not None:
                rows["optuna"].append(optuna_s)
            line = (
                f"  repeat {repeat + 1}: service {service.seconds:.2f} s "
                f"(start-up {service.startup:.1f} s), one by one {alone:.2f} s, "
                f"optuna {optuna_s if optuna_s is None else round(optuna_s, 2)} s; "
                f"service / one by one {alone / service.seconds:.2f}x"
            )
            if args.profile:
                line += "\n      " + profile(service)
            print(line, flush=True)
        floor = statistics.median(rows["one by one"])
        print(f"  median of {args.repeats}:")
        for name, seconds in rows.items():
            if not seconds:
                continue
            s = statistics.median(seconds)
            print(
                f"    {name:<12} {s:6.2f} s  {spec.trials / s:6.2f} trials/s  "
                f"{floor / s:5.2f}x the one-by-one floor"
            )


if __name__ == "__main__":
    main()
