"""Ask+tell round trips per second through Caviar's REST API vs Optuna's RDBStorage.

Side by side in one run, on SQLite and on PostgreSQL:

- sequential: one client asks one trial, tells its value, and repeats; Caviar's per-trial
  latency is taken around trial 1,000 and around trial 10,000;
- parallel: ``--clients`` threads do the same at once on one study (a fleet of workers).

Caviar runs as a real api process (uvicorn) with its default settings and is reached over
HTTP; Optuna runs in the bench process with ``RDBStorage`` on a database of the same kind.

    python bench/bench_asktell.py [--trials 10000] [--optuna-trials 1000] [--clients 8]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import median

from common import api_server, backend

from caviar.client import Client

WINDOW = 200  # trials per latency window


def external_study(c: Client, trials: int) -> int:
    """A study whose trials the bench itself asks for and tells."""
    space = {"x": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"}}
    body = {
        "name": "bench",
        "objective": {"kind": "external"},
        "space": space,
        "max_trials": trials,
    }
    return c.create_study(body).id


def caviar_run(url: str, trials: int) -> dict[str, float]:
    with Client(url) as c:
        sid = external_study(c, trials)
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


def parallel(clients: int, trials: int, one: Callable[[], None]) -> float:
    """Round trips per second with ``clients`` threads sharing ``trials`` round trips."""
    per = trials // clients

    def loop() -> None:
        for _ in range(per):
            one()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(loop) for _ in range(clients)]:
            f.result()
    return per * clients / (time.perf_counter() - t0)


def caviar_parallel(url: str, trials: int, clients: int) -> float:
    with Client(url) as c:
        sid = external_study(c, trials)
    local = threading.local()

    def one() -> None:
        if not hasattr(local, "c"):
            local.c = Client(url)
        [t] = local.c.ask(sid, 1)
        local.c.tell(t.id, 1, "completed", t.params["x"] ** 2)

    return parallel(clients, trials, one)


def optuna_parallel(url: str, trials: int, clients: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=optuna.storages.RDBStorage(url), study_name="par")
    dist = optuna.distributions.FloatDistribution(1e-4, 1, log=True)

    def one() -> None:
        t = study.ask({"x": dist})
        study.tell(t, t.params["x"] ** 2)

    return parallel(clients, trials, one)


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
    ap.add_argument("--clients", type=int, default=8, help="threads in the parallel run")
    ap.add_argument("--parallel-trials", type=int, default=2_000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for kind in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp, backend(kind, Path(tmp)) as be:
            with api_server(be, CAVIAR_RECONCILE_INTERVAL="5") as url:
                cav = caviar_run(url, args.trials)
                cav["par"] = caviar_parallel(url, args.parallel_trials, args.clients)
            print(f"[{kind}] caviar  {cav}", flush=True)
        with tempfile.TemporaryDirectory() as tmp, backend(kind, Path(tmp)) as be:
            opt = optuna_run(be.database_url, args.optuna_trials)
            try:
                opt["par"] = optuna_parallel(
                    be.database_url, args.parallel_trials // 2, args.clients
                )
            except Exception as exc:  # e.g. "database is locked" under SQLite contention
                print(f"[{kind}] optuna parallel failed: {exc!r}", flush=True)
                opt["par"] = float("nan")
            print(f"[{kind}] optuna  {opt}", flush=True)
        rows.append((kind, cav, opt))
    print()
    print(f"round trips per second; parallel = {args.clients} clients at once")
    print(f"{'':9} {'sequential':^24} | {'parallel':^24} | caviar latency per trial")
    print(
        f"{'backend':9} {'caviar':>8} {'optuna':>8} {'ratio':>6} | {'caviar':>8} "
        f"{'optuna':>8} {'ratio':>6} | {'ms@1k':>6} {'ms@10k':>6} {'10k/1k':>6}"
    )
    for kind, cav, opt in rows:
        ms1, ms10 = cav.get("ms@1000", float("nan")), cav.get("ms@10000", float("nan"))
        print(
            f"{kind:9} {cav['rate']:8.1f} {opt['rate']:8.1f} {cav['rate'] / opt['rate']:5.1f}x"
            f" | {cav['par']:8.1f} {opt['par']:8.1f} {cav['par'] / opt['par']:5.1f}x"
            f" | {ms1:6.2f} {ms10:6.2f} {ms10 / ms1:5.2f}x"
        )


if __name__ == "__main__":
    main()
