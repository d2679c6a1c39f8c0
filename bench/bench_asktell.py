"""Ask+tell round trips per second through Caviar's REST API vs Optuna's RDBStorage.

Side by side in one run, on SQLite and on PostgreSQL:

- sequential: one client asks one trial, tells its value, and repeats; Caviar's per-trial
  latency is taken around trial 1,000 and around trial 10,000;
- parallel: ``--clients`` threads do the same at once on one study (a fleet of workers).

Caviar runs as a real api process (uvicorn) with its default settings and is reached over
HTTP; Optuna runs in the bench process with ``RDBStorage`` on a database of the same kind.

    python bench/bench_asktell.py [--trials 10000] [--optuna-trials 1000] [--clients 8]

``--strategies`` measures instead what a strategy costs as a study grows: coarse_to_fine beside
random, ask+tell over REST on a study that already holds 1,000, 10,000 and 100,000 finished
trials (seeded in bulk through the api's own database layer), by median latency and by the api
process's CPU time per round trip (which another load on the machine barely moves); and, at the
largest size, how long
other requests wait behind a coarse_to_fine study: the latency of a second study's ask+tell and of
a read, alone and while coarse_to_fine is asked, and how long those asks and tells hold the
study's lock (the api's ``caviar_study_lock_held_seconds``, from the lock to the commit; on
SQLite every other write waits behind it):

    python bench/bench_asktell.py --strategies [--sizes 1000,10000,100000] [--backends sqlite]

``--fleet`` measures a fleet of clients on one study: ``--clients`` threads (16 here), each with
its own connection, ask one trial and tell it, over and over, on a random study and on a
coarse_to_fine study that each already hold ``--finished`` completed trials; the two take
turns ``--repeats`` times. It prints round trips per second, the asks' median and p95 latency,
coarse_to_fine's ratio to random, and how the asks' suggestion plans fared (the api's
``caviar_ask_plans_total``: written, planned again, computed under the lock):

    python bench/bench_asktell.py --fleet --clients 16 [--finished 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import os
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


BLAS_ENV = {  # the api uses one BLAS thread; CAVIAR_BENCH_BLAS_THREADS tries other counts
    v: os.environ.get("CAVIAR_BENCH_BLAS_THREADS", "")
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    if os.environ.get("CAVIAR_BENCH_BLAS_THREADS")
}

SPACE = {
    "lr": {"type": "float", "low": 1e-5, "high": 1, "scale": "log"},
    "beta": {"type": "float", "low": 0.8, "high": 0.999, "scale": "reverse_log"},
    "units": {"type": "int", "low": 16, "high": 512, "scale": "log"},
    "dropout": {"type": "float", "low": 0.0, "high": 0.6},
}


def loss(params: dict) -> float:
    """A smooth bowl in the params' own scales."""
    import math

    return (
        (math.log10(params["lr"]) + 2.5) ** 2
        + (math.log10(1 - params["beta"]) + 2) ** 2
        + 0.1 * (math.log2(params["units"]) - 7) ** 2
        + (params["dropout"] - 0.2) ** 2
    )


def seeded_study(c: Client, be_url: str, strategy: str, finished: int, extra: int) -> int:
    """An external study that already holds ``finished`` completed trials, inserted in bulk
    through the api's database layer (as fast as the database takes them)."""
    import numpy as np
    from sqlalchemy import insert, select

    from api.db.models import Region, Study, Trial
    from api.db.session import Database
    from api.search.transforms import from_unit
    from api.trials.study import config_of

    body = {
        "name": f"{strategy}-{finished}",
        "objective": {"kind": "external"},
        "space": SPACE,
        "strategy": {"name": strategy},
        "max_trials": finished + extra,
        "seed": 3,
    }
    sid = c.create_study(body).id
    db = Database(be_url)
    rng = np.random.default_rng(finished)
    try:
        with db.session() as s:
            study = s.get(Study, sid)
            assert study is not None
            space = dict(config_of(study).space)
            region = s.scalar(select(Region.id).where(Region.study_id == sid))
            for lo in range(0, finished, 5_000):
                rows = []
                for n in range(lo, min(lo + 5_000, finished)):
                    params = {k: from_unit(p, float(rng.random())) for k, p in space.items()}
                    rows.append(
                        {
                            "study_id": sid,
                            "number": n,
                            "params": params,
                            "state": "completed",
                            "attempt": 1,
                            "value": loss(params),
                            "stage": 0,
                            "region_id": region,
                            "dispatch_count": 0,
                        }
                    )
                s.execute(insert(Trial), rows)
            study.trial_count = finished
            s.commit()
    finally:
        db.dispose()
    return sid


def round_trips(c: Client, sid: int, n: int) -> list[float]:
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        [t] = c.ask(sid, 1)
        c.tell(t.id, 1, "completed", loss(t.params))
        lat.append(1e3 * (time.perf_counter() - t0))
    return lat


def probe(url: str, stop: threading.Event, out: dict[str, list[float]]) -> None:
    """Other requests while the bench asks: a second (random) study's ask+tell, and a read."""
    with Client(url) as c:
        sid = external_study(c, 1_000_000)
        while not stop.is_set():
            t0 = time.perf_counter()
            [t] = c.ask(sid, 1)
            c.tell(t.id, 1, "completed", t.params["x"])
            t1 = time.perf_counter()
            c.study(sid)
            t2 = time.perf_counter()
            out["write"].append(1e3 * (t1 - t0))
            out["read"].append(1e3 * (t2 - t1))
            time.sleep(0.01)


def lock_held(url: str) -> dict[tuple[str, str], dict[str, float]]:
    """The api's ``caviar_study_lock_held_seconds`` histogram: per (operation, strategy), the
    cumulative count at each bucket's upper bound (``le``), and ``count`` and ``sum``."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[str, str], dict[str, float]] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        if family.name != "caviar_study_lock_held_seconds":
            continue
        for sample in family.samples:
            key = (sample.labels["operation"], sample.labels["strategy"])
            name = sample.name.rsplit("_", 1)[1]
            field = sample.labels["le"] if name == "bucket" else name
            out.setdefault(key, {})[field] = sample.value
    return out


def api_cpu_seconds(url: str) -> float:
    """The api process's CPU time so far (``process_cpu_seconds_total``)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        if family.name == "process_cpu_seconds":
            return float(family.samples[0].value)
    return float("nan")


def held_summary(before: dict, after: dict, operation: str, strategy: str) -> str:
    """What the lock-held histogram gained between two reads, for one operation."""
    a, b = after.get((operation, strategy), {}), before.get((operation, strategy), {})
    delta = {k: v - b.get(k, 0.0) for k, v in a.items()}
    n = delta.get("count", 0.0)
    if not n:
        return f"{operation}: none"
    bounds = sorted((float(k), v) for k, v in delta.items() if k not in ("count", "sum"))
    top = next(le for le, cum in bounds if cum >= n)  # every observation is at most this
    over = n - next((cum for le, cum in bounds if le >= 0.05), n)
    return (
        f"{operation} x{n:.0f}: mean {1e3 * delta['sum'] / n:.1f} ms, all <= {1e3 * top:g} ms,"
        f" {over:.0f} over 50 ms"
    )


STRATEGIES = ("random", "coarse_to_fine")


def strategy_cost(kind: str, sizes: list[int], window: int) -> None:
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        backend(kind, Path(tmp)) as be,
        api_server(be, CAVIAR_RECONCILE_INTERVAL="5", **BLAS_ENV) as url,
        Client(url, timeout=120) as c,
    ):
        if True:
            for size in sizes:
                w = window if size < 100_000 else max(window // 4, 20)
                per: dict[str, float] = {}
                cpu: dict[str, float] = {}
                sids: dict[str, int] = {}
                lats: dict[str, list[float]] = {}
                for strategy in STRATEGIES:
                    t0 = time.perf_counter()
                    sids[strategy] = seeded_study(c, be.database_url, strategy, size, 3 * w + 40)
                    seeded = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    round_trips(c, sids[strategy], 20)  # warm: the first ask reads the history
                    first = time.perf_counter() - t0
                    lats[strategy] = []
                    print(
                        f"[{kind}] {strategy:14} {size:>7} finished: seeded in {seeded:.1f} s,"
                        f" first 20 round trips {first:.2f} s",
                        flush=True,
                    )
                # The strategies take turns, 10 round trips at a time, so that a load that
                # comes and goes on the machine weighs on both alike.
                load = os.getloadavg()[0]
                for _ in range(0, w, 10):
                    for strategy in STRATEGIES:
                        lats[strategy] += round_trips(c, sids[strategy], 10)
                after = os.getloadavg()[0]
                # The api's CPU time per round trip, which another load on the machine barely
                # moves: each strategy alone for half a window, the counter read around it.
                for strategy in STRATEGIES:
                    cpu0 = api_cpu_seconds(url)
                    round_trips(c, sids[strategy], w // 2)
                    cpu[strategy] = 1e3 * (api_cpu_seconds(url) - cpu0) / (w // 2)
                for strategy, lat in lats.items():
                    per[strategy] = median(lat)
                    print(
                        f"[{kind}] {strategy:14} {size:>7} finished: {median(lat):7.2f} ms/trial"
                        f" (p90 {sorted(lat)[int(0.9 * len(lat))]:.2f}; load {load:.2f} before,"
                        f" {after:.2f} after); api CPU {cpu[strategy]:.2f} ms/trial",
                        flush=True,
                    )
                if size == max(sizes):
                    probed: dict[str, list[float]] = {"write": [], "read": []}
                    stop = threading.Event()
                    alone = threading.Thread(target=probe, args=(url, stop, probed))
                    alone.start()
                    time.sleep(3)
                    stop.set()
                    alone.join()
                    base = {k: sorted(v) for k, v in probed.items()}
                    probed = {"write": [], "read": []}
                    stop = threading.Event()
                    th = threading.Thread(target=probe, args=(url, stop, probed))
                    held_before = lock_held(url)
                    th.start()
                    busy = round_trips(c, sids["coarse_to_fine"], w)
                    stop.set()
                    th.join()
                    held = lock_held(url)
                    print(
                        f"[{kind}] c2f study lock held (server side): "
                        + "; ".join(
                            held_summary(held_before, held, op, "coarse_to_fine")
                            for op in ("ask", "tell")
                        ),
                        flush=True,
                    )
                    for k, v in probed.items():
                        v.sort()
                        b = base[k]
                        print(
                            f"[{kind}] probe {k:5} alone: median {median(b):.1f} ms,"
                            f" max {b[-1]:.1f} | beside c2f asks ({median(busy):.1f} ms"
                            f" each): median {median(v):.1f}, p99 {v[int(0.99 * len(v))]:.1f},"
                            f" max {v[-1]:.1f} ms ({len(v)} probes)",
                            flush=True,
                        )
                rows.append((size, per, cpu))
    print()
    print(
        f"[{kind}] ms per ask+tell (median)   random   c2f   c2f/random"
        " | api CPU ms: random   c2f   c2f/random"
    )
    for size, per, cpu in rows:
        r, k = per["random"], per["coarse_to_fine"]
        cr, ck = cpu["random"], cpu["coarse_to_fine"]
        print(
            f"[{kind}] {size:>7} finished           {r:6.2f} {k:6.2f}   {k / r:5.2f}x"
            f" |             {cr:6.2f} {ck:6.2f}   {ck / cr:5.2f}x"
        )
    if len(rows) >= 2:
        a, b = rows[0][1]["coarse_to_fine"], rows[1][1]["coarse_to_fine"]
        print(f"[{kind}] c2f growth {rows[0][0]} -> {rows[1][0]}: {b / a:.2f}x")


def fleet_round(url: str, sid: int, clients: int, per: int) -> tuple[float, list[float]]:
    """``clients`` threads, ``per`` ask+tell round trips each, on study ``sid``: round trips
    per second, and every ask's latency (ms)."""
    asks: list[list[float]] = [[] for _ in range(clients)]
    ready = threading.Barrier(clients + 1)

    def loop(k: int) -> None:
        with Client(url, timeout=120) as c:
            c.study(sid)  # connected before the clock starts
            ready.wait()
            for _ in range(per):
                t0 = time.perf_counter()
                [t] = c.ask(sid, 1)
                asks[k].append(1e3 * (time.perf_counter() - t0))
                c.tell(t.id, 1, "completed", loss(t.params))

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(loop, k) for k in range(clients)]
        ready.wait()
        t0 = time.perf_counter()
        for f in futures:
            f.result()
        elapsed = time.perf_counter() - t0
    return clients * per / elapsed, [x for a in asks for x in a]


def ask_plans(url: str) -> dict[str, float]:
    """The api's ``caviar_ask_plans_total``, by outcome."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        if family.name == "caviar_ask_plans":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    out[sample.labels["outcome"]] = sample.value
    return out


def fleet_cost(kind: str, finished: int, clients: int, per: int, repeats: int) -> None:
    """Random and coarse_to_fine, each with a fleet of ``clients`` on one study of
    ``finished`` completed trials, taking turns ``repeats`` times."""
    rows: list[tuple[float, float, float, float, float, float]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        backend(kind, Path(tmp)) as be,
        api_server(be, CAVIAR_RECONCILE_INTERVAL="5", **BLAS_ENV) as url,
        Client(url, timeout=120) as c,
    ):
        extra = repeats * clients * per + 40
        sids = {s: seeded_study(c, be.database_url, s, finished, extra) for s in STRATEGIES}
        for sid in sids.values():
            round_trips(c, sid, 20)  # warm: the first ask reads the history
        for r in range(repeats):
            got: dict[str, tuple[float, float, float]] = {}
            for strategy, sid in sids.items():
                plans, cpu0 = ask_plans(url), api_cpu_seconds(url)
                rate, lat = fleet_round(url, sid, clients, per)
                after, cpu = ask_plans(url), api_cpu_seconds(url) - cpu0
                lat.sort()
                p50, p95 = median(lat), lat[int(0.95 * len(lat))]
                got[strategy] = (rate, p50, p95)
                fared = ", ".join(
                    f"{k} {after.get(k, 0) - plans.get(k, 0):.0f}"
                    for k in ("held", "stale", "locked")
                )
                print(
                    f"[{kind}] run {r + 1} {strategy:14} {clients} clients, {finished}+ finished:"
                    f" {rate:6.1f} round trips/s, ask median {p50:6.1f} ms, p95 {p95:6.1f} ms"
                    f" (api CPU {1e3 * cpu / (clients * per):.1f} ms/round trip;"
                    f" load {os.getloadavg()[0]:.2f}; plans: {fared})",
                    flush=True,
                )
            rows.append((*got["random"], *got["coarse_to_fine"]))
    print()
    print(f"[{kind}] {clients} clients   random rt/s  p95 ms | c2f rt/s  p95 ms | c2f/random rt/s")
    for rr, _, rp, cr, _, cp in rows:
        print(f"[{kind}]              {rr:8.1f} {rp:7.1f} | {cr:8.1f} {cp:7.1f} | {cr / rr:6.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=10_000, help="Caviar trials per backend")
    ap.add_argument("--optuna-trials", type=int, default=1_000, help="Optuna trials per backend")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--clients", type=int, default=8, help="threads in the parallel run")
    ap.add_argument("--parallel-trials", type=int, default=2_000)
    ap.add_argument("--strategies", action="store_true", help="coarse_to_fine vs random cost")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--window", type=int, default=200, help="round trips measured per size")
    ap.add_argument("--fleet", action="store_true", help="a fleet of clients on one study")
    ap.add_argument("--finished", type=int, default=1_000, help="--fleet: finished trials")
    ap.add_argument("--per-client", type=int, default=40, help="--fleet: round trips each")
    ap.add_argument("--repeats", type=int, default=3, help="--fleet: turns of each strategy")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.fleet:
        for kind in args.backends.split(","):
            fleet_cost(kind, args.finished, args.clients, args.per_client, args.repeats)
        return
    if args.strategies:
        sizes = [int(x) for x in args.sizes.split(",")]
        for kind in args.backends.split(","):
            strategy_cost(kind, sizes, args.window)
        return
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
