"""Ask+tell round trips per second through Caviar's REST API vs Optuna's RDBStorage.

Side by side in one run, on SQLite and on PostgreSQL: a sequential client asks one trial,
tells its value, and repeats. Caviar runs as a real api process (uvicorn) with its default
settings; Optuna runs in-process with ``RDBStorage`` on a database of the same kind. Also
measures Caviar's per-trial latency around trial 1,000 and around trial 10,000.

    python bench/bench_asktell.py [--trials 10000] [--optuna-trials 1000]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from common import api_server, backend, median

from caviar.client import Client

WINDOW = 200  # trials per latency window


def caviar_run(url: str, trials: int) -> dict[str, float]:
    with Client(url) as c:
        sid = c.create_study(
            {
                "name": "bench",
                "objective": {"kind": "external"},
                "space": {"x": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"}},
                "max_trials": trials,
            }
        ).id
        lat: list[float] = []
        t0 = time.perf_counter()
        for _ in range(trials):
            s = time.perf_counter()
            [t] = c.ask(sid, 1)
            c.tell(t.id, 1, "completed", t.params["x"] ** 2)
            lat.append(time.perf_counter() - s)
        total = time.perf_counter() - t0
    out = {"rate": trials / total}
    for mark in (1_000, 10_000):
        if trials >= mark:
            out[f"ms@{mark}"] = 1e3 * median(lat[mark - WINDOW : mark])
    return out


def optuna_run(url: str, trials: int) -> dict[str, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(storage=storage, study_name="bench")
    dist = optuna.distributions.FloatDistribution(1e-4, 1, log=True)
    lat: list[float] = []
    t0 = time.perf_counter()
    for _ in range(trials):
        s = time.perf_counter()
        t = study.ask({"x": dist})
        study.tell(t, t.params["x"] ** 2)
        lat.append(time.perf_counter() - s)
    total = time.perf_counter() - t0
    out = {"rate": trials / total}
    if trials >= 1_000:
        out["ms@1000"] = 1e3 * median(lat[1_000 - WINDOW : 1_000])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=10_000, help="Caviar trials per backend")
    ap.add_argument("--optuna-trials", type=int, default=1_000, help="Optuna trials per backend")
    ap.add_argument("--backends", default="sqlite,postgres")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for kind in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp, backend(kind, Path(tmp)) as be:
            with api_server(be, CAVIAR_RECONCILE_INTERVAL="5") as url:
                cav = caviar_run(url, args.trials)
            print(f"[{kind}] caviar  {cav}", flush=True)
        with tempfile.TemporaryDirectory() as tmp, backend(kind, Path(tmp)) as be:
            opt = optuna_run(be.database_url, args.optuna_trials)
            print(f"[{kind}] optuna  {opt}", flush=True)
        rows.append((kind, cav, opt))
    print()
    print(
        f"{'backend':9} {'caviar/s':>9} {'optuna/s':>9} {'ratio':>6} "
        f"{'ms@1k':>7} {'ms@10k':>7} {'10k/1k':>7}"
    )
    for kind, cav, opt in rows:
        ratio = cav["rate"] / opt["rate"]
        ms1, ms10 = cav.get("ms@1000", float("nan")), cav.get("ms@10000", float("nan"))
        print(
            f"{kind:9} {cav['rate']:9.1f} {opt['rate']:9.1f} {ratio:5.1f}x "
            f"{ms1:7.2f} {ms10:7.2f} {ms10 / ms1:6.2f}x"
        )


if __name__ == "__main__":
    main()
