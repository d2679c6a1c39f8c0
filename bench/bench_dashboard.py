"""First render of a study page in headless Chromium: Caviar's dashboard at 10,000 and 100,000
trials, and optuna-dashboard on the same 10,000-trial study, side by side in one run.

Each study is a coarse-to-fine study of four hyperparameters (log, reverse_log, log int,
categorical) with five nested stages, ~15% of trials pruned, and a learning curve of up to
8 reports per trial. Caviar's studies are bulk-inserted into a fresh SQLite database through the
api's models (after ``alembic upgrade head``) and served by a real api process; the same 10,000
trials (params, values, states, intermediate values) go into an Optuna SQLite storage served by
the ``optuna-dashboard`` command.

"First render" is measured in the page, from navigation start to the moment every plot is drawn:
Caviar's study page sets ``data-ready`` after its six plots; for optuna-dashboard, the moment its
history plot holds every trial and its intermediate-values plot is drawn. Bytes are the encoded
(on-the-wire) sizes of every response finished by then (CDP Network events). Every run uses a new
browser context (cold cache); the table shows the median of ``--runs`` runs. Beside each Caviar
row, the same page given Plotly's full bundle where it asks for the basic one ("full Plotly
bundle": what a browser with a GPU loads, and what every browser loaded before).

    python bench/bench_dashboard.py [--runs 3] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert
from sqlalchemy.orm import Session

from api.db.migrate import upgrade
from api.db.models import Study, Trial, TrialReport
from api.db.session import Database
from api.search.base import RegionView
from api.studies.regions import store_region
from caviar.schemas import StudyCreate
from tests.services import api_server, backend
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.web.seed import SPACE

STAGES = 5
STEPS = 8
CHOICES = SPACE["optimizer"]["choices"]
NUMERIC = ("learning_rate", "beta", "hidden_units")
OPTIMUM = np.array([0.375, 0.5, 0.6])  # unit coordinates of the best point (lr, beta, units)


@dataclass
class Trials:
    """Columns of a synthetic study (``n`` trials)."""

    unit: np.ndarray  # (n, 3) unit coordinates of lr, beta, hidden_units
    choice: np.ndarray  # (n,) optimizer index
    stage: np.ndarray
    value: np.ndarray
    pruned_at: np.ndarray  # step at which a pruned trial stopped; STEPS if it completed
    boxes: list[np.ndarray]  # per stage, (3, 2) unit bounds

    def params(self, i: int) -> dict[str, Any]:
        u = self.unit[i]
        return {
            "learning_rate": float(10 ** (-4 + 4 * u[0])),
            "beta": float(1 - 0.1 * 0.01 ** u[1]),
            "hidden_units": round(math.exp(math.log(15.5) + u[2] * math.log(256.5 / 15.5))),
            "optimizer": CHOICES[int(self.choice[i])],
        }

    def curve(self, i: int) -> list[float]:
        final = float(self.value[i])
        return [final + 2.0 * math.exp(-0.6 * s) * (1 + final) for s in range(self.pruned_at[i])]


def synthesize(n: int, seed: int = 7) -> Trials:
    """Trials of five nested stages zooming on OPTIMUM: 30% in stage 0, the rest spread evenly."""
    rng = np.random.default_rng(seed)
    sizes = [int(n * 0.3)] + [int(n * 0.7 / (STAGES - 1))] * (STAGES - 1)
    sizes[-1] += n - sum(sizes)
    boxes, units, stages = [], [], []
    for s, size in enumerate(sizes):
        half = 0.5 * 0.55**s
        lo = np.clip(OPTIMUM - half, 0, 1 - 2 * half)
        box = np.stack([lo, lo + 2 * half], axis=1)
        boxes.append(box)
        units.append(box[:, 0] + rng.random((size, 3)) * (box[:, 1] - box[:, 0]))
        stages.append(np.full(size, s))
    unit = np.concatenate(units)
    stage = np.concatenate(stages)
    choice = np.where(stage == 0, rng.integers(0, 3, n), np.where(rng.random(n) < 0.8, 2, 1))
    d = unit - OPTIMUM
    value = 0.1 + 16 * d[:, 0] ** 2 + 4 * d[:, 1] ** 2 + 0.5 * d[:, 2] ** 2 + 0.05 * (choice != 2)
    value = value * np.exp(rng.normal(0, 0.05, n))
    pruned = rng.random(n) < 0.15
    pruned_at = np.where(pruned, rng.integers(2, STEPS, n), STEPS)
    return Trials(unit, choice, stage, value, pruned_at, boxes)


def config(n: int) -> dict[str, Any]:
    return StudyCreate.model_validate(
        {
            "name": f"bench-{n}",
            "objective": {"kind": "external"},
            "space": SPACE,
            "strategy": {"name": "coarse_to_fine", "stage_trials": n // STAGES},
            "pruner": {"name": "median"},
            "max_trials": n,
            "seed": 7,
        }
    ).model_dump(mode="json")


def insert_caviar(url: str, n: int, t: Trials) -> int:
    """Bulk-insert a completed study of ``n`` trials; returns its id."""
    db = Database(url)
    with db.session() as session:
        study = Study(
            name=f"bench-{n}",
            config=config(n),
            direction="minimize",
            status="completed",
            seed=7,
            trial_count=n,
        )
        session.add(study)
        session.flush()
        space = dict(StudyCreate.model_validate(study.config).space)
        region_ids, parent = [], None
        for s, box in enumerate(t.boxes):
            view = RegionView(
                stage=s,
                unit_bounds={
                    k: (float(b[0]), float(b[1])) for k, b in zip(NUMERIC, box, strict=True)
                },
                choices={"optimizer": CHOICES if s == 0 else CHOICES[1:]},
                parent_id=parent,
            )
            parent = store_region(session, study.id, space, view, []).id
            region_ids.append(parent)
        _bulk(session, study.id, n, t, region_ids)
        session.commit()
        study_id = study.id
    db.dispose()
    return study_id


def _bulk(session: Session, study_id: int, n: int, t: Trials, region_ids: list[int]) -> None:
    for start in range(0, n, 5000):
        rows, numbers = [], range(start, min(n, start + 5000))
        for i in numbers:
            pruned = t.pruned_at[i] < STEPS
            curve = t.curve(i)
            rows.append(
                {
                    "study_id": study_id,
                    "number": i,
                    "params": t.params(i),
                    "state": "pruned" if pruned else "completed",
                    "attempt": 1,
                    "value": curve[-1] if pruned else float(t.value[i]),
                    "stage": int(t.stage[i]),
                    "region_id": region_ids[int(t.stage[i])],
                    "dispatch_count": 0,
                    "prune_reason": {
                        "pruner": "median",
                        "step": len(curve) - 1,
                        "value": curve[-1],
                        "threshold": curve[-1] * 0.8,
                    }
                    if pruned
                    else None,
                }
            )
        ids = session.scalars(insert(Trial).returning(Trial.id, sort_by_parameter_order=True), rows)
        reports = [
            {
                "trial_id": tid,
                "attempt": 1,
                "step": s,
                "study_id": study_id,
                "value": v,
                "metrics": {},
            }
            for tid, i in zip(ids, numbers, strict=True)
            for s, v in enumerate(t.curve(i))
        ]
        session.execute(insert(TrialReport), reports)


def insert_optuna(url: str, n: int, t: Trials) -> int:
    """The same trials in an Optuna SQLite storage: the study through Optuna's API, the trials
    bulk-inserted through Optuna's own table models (``add_trials`` takes ~10 ms per trial);
    checked by loading them back with Optuna."""
    from datetime import UTC, datetime, timedelta

    import optuna
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
        distribution_to_json,
    )
    from optuna.storages._rdb import models
    from sqlalchemy import create_engine

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {
        "learning_rate": FloatDistribution(1e-4, 1.0, log=True),
        "beta": FloatDistribution(0.9, 0.999),
        "hidden_units": IntDistribution(16, 256, log=True),
        "optimizer": CategoricalDistribution(CHOICES),
    }
    study = optuna.create_study(storage=url, study_name=f"bench-{n}")
    study_id = study._study_id
    finite = models.TrialValueModel.TrialValueType.FINITE
    finite_step = models.TrialIntermediateValueModel.TrialIntermediateValueType.FINITE
    start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            models.TrialModel.__table__.insert(),
            [
                {
                    "trial_id": i + 1,
                    "number": i,
                    "study_id": study_id,
                    "state": optuna.trial.TrialState.PRUNED
                    if t.pruned_at[i] < STEPS
                    else optuna.trial.TrialState.COMPLETE,
                    "datetime_start": start + timedelta(seconds=i),
                    "datetime_complete": start + timedelta(seconds=i + 1),
                }
                for i in range(n)
            ],
        )
        conn.execute(
            models.TrialParamModel.__table__.insert(),
            [
                {
                    "trial_id": i + 1,
                    "param_name": name,
                    "param_value": dists[name].to_internal_repr(value),
                    "distribution_json": distribution_to_json(dists[name]),
                }
                for i in range(n)
                for name, value in t.params(i).items()
            ],
        )
        conn.execute(
            models.TrialValueModel.__table__.insert(),
            [
                {
                    "trial_id": i + 1,
                    "objective": 0,
                    "value": float(t.value[i]),
                    "value_type": finite,
                }
                for i in range(n)
                if t.pruned_at[i] == STEPS
            ],
        )
        conn.execute(
            models.TrialIntermediateValueModel.__table__.insert(),
            [
                {
                    "trial_id": i + 1,
                    "step": s,
                    "intermediate_value": v,
                    "intermediate_value_type": finite_step,
                }
                for i in range(n)
                for s, v in enumerate(t.curve(i))
            ],
        )
    engine.dispose()
    loaded = optuna.load_study(study_name=f"bench-{n}", storage=url).trials
    assert len(loaded) == n and loaded[7].params == t.params(7), "Optuna reads the trials back"
    return study_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def optuna_dashboard(storage: str, log: Path) -> Iterator[str]:
    port = free_port()
    exe = Path(sys.executable).parent / "optuna-dashboard"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), storage, "--port", str(port), "--host", "127.0.0.1", "--quiet"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/api/studies", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise RuntimeError(f"optuna-dashboard did not start: {log.read_text()}")
            yield url
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=10)


CAVIAR_READY = """() => document.querySelector('#app[data-ready]')
  ? performance.getEntriesByName('caviar:plots-drawn')[0].startTime : false"""


def optuna_ready(completed: int, curves: bool = True) -> str:
    """optuna-dashboard's study page: its history plot holds every completed trial and (unless
    ``curves`` is false) its intermediate-values plot is drawn."""
    need_curves = "points('graph-intermediate-values') > 0" if curves else "true"
    return f"""() => {{
  const points = (id) => (document.getElementById(id)?.data || [])
    .reduce((k, t) => k + (t.x || []).length, 0);
  return points('plot-history') >= {completed} && {need_curves} ? performance.now() : false;
}}"""


# Where a Caviar page load's time went: the page's own marks (Plotly loaded, each plot drawn)
# and the moment the dashboard snapshot's answer arrived, in ms from navigation start.
TIMELINE = """() => Object.fromEntries([
  ...performance.getEntriesByType('mark').filter((m) => m.name.startsWith('caviar:'))
    .map((m) => [m.name.slice(7), m.startTime]),
  ...performance.getEntriesByType('resource').filter((r) => r.name.endsWith('/dashboard'))
    .map((r) => ['snapshot', r.responseEnd]),
])"""

Load = tuple[float, int, int, dict[str, float]]


def measure(
    browser: Any, url: str, ready: str, warm: bool = False, full_plotly: bool = False
) -> Load:
    """(ms to drawn, encoded bytes, requests, timeline) of one page load in a new context (cold
    cache); with ``warm``, of a second load in the same context (HTTP cache and V8 code cache
    warm); with ``full_plotly``, the page gets Plotly's full bundle where it asks for the basic
    one (what it loaded before it chose by GPU). ``timeline``: see ``TIMELINE`` (empty for
    optuna-dashboard)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        if full_plotly:
            full = url.split("#")[0].rstrip("/") + "/vendor/plotly.min.js"
            page.route("**/vendor/plotly-basic.min.js", lambda r: r.continue_(url=full))
        if warm:
            page.goto(url)
            page.wait_for_function(ready, polling="raf", timeout=180_000)
            page.goto("about:blank")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        sizes: dict[str, int] = {}
        cdp.on(
            "Network.loadingFinished",
            lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
        )
        page.goto(url)
        ms = page.wait_for_function(ready, polling="raf", timeout=180_000).json_value()
        page.wait_for_timeout(50)  # let the last loadingFinished events arrive
        return float(ms), sum(sizes.values()), len(sizes), page.evaluate(TIMELINE)
    finally:
        context.close()


def median_run(
    browser: Any, url: str, ready: str, runs: int, warm: bool = False, full_plotly: bool = False
) -> Load:
    """The median of ``runs`` loads, each figure and each timeline entry on its own."""
    results = [measure(browser, url, ready, warm, full_plotly) for _ in range(runs)]
    marks = set.intersection(*(set(r[3]) for r in results))
    return (
        statistics.median(r[0] for r in results),
        int(statistics.median(r[1] for r in results)),
        int(statistics.median(r[2] for r in results)),
        {k: statistics.median(r[3][k] for r in results) for k in sorted(marks)},
    )


def timeline_text(timeline: dict[str, float]) -> str:
    steps = sorted(timeline.items(), key=lambda kv: kv[1])
    return ", ".join(f"{name} {ms:.0f}" for name, ms in steps)


def study_read_ms(api: str, study_id: int, reads: int = 7) -> float:
    """Median ms of ``GET /api/studies/{id}`` once the api holds the study's history (the
    first read loads it)."""
    httpx.get(f"{api}/api/studies/{study_id}", timeout=600).raise_for_status()
    times = []
    for _ in range(reads):
        t0 = time.perf_counter()
        httpx.get(f"{api}/api/studies/{study_id}", timeout=60).raise_for_status()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="cold page loads per row (median)")
    ap.add_argument("--sizes", default="10000,100000", help="Caviar study sizes")
    ap.add_argument("--optuna-trials", type=int, default=10_000)
    ap.add_argument(
        "--serve", action="store_true", help="populate, start both servers, print their URLs, wait"
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="caviar-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with backend("sqlite", tmp) as be:
            upgrade(be.database_url)
            ids = {}
            for n in sizes:
                t0 = time.perf_counter()
                ids[n] = insert_caviar(be.database_url, n, synthesize(n))
                print(
                    f"caviar: {n:,} trials inserted in {time.perf_counter() - t0:.1f} s", flush=True
                )
            optuna_url = f"sqlite:///{tmp / 'optuna.db'}"
            t0 = time.perf_counter()
            optuna_trials = synthesize(args.optuna_trials)
            insert_optuna(optuna_url, args.optuna_trials, optuna_trials)
            took = time.perf_counter() - t0
            print(f"optuna: {args.optuna_trials:,} trials inserted in {took:.1f} s", flush=True)
            completed = int((optuna_trials.pruned_at == STEPS).sum())
            with (
                api_server(be) as api,
                optuna_dashboard(optuna_url, tmp / "optuna-dashboard.log") as od,
            ):
                if args.serve:
                    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop both servers
                    for n in sizes:
                        print(f"caviar {n:,}: {api}/#/studies/{ids[n]}")
                    print(f"optuna-dashboard {args.optuna_trials:,}: {od}/dashboard/studies/1")
                    with contextlib.suppress(KeyboardInterrupt, SystemExit):
                        while True:
                            time.sleep(3600)
                    return
                # optuna-dashboard computes hyperparameter importances once per study (minutes
                # at 10,000 trials, competing for the CPU): let it finish and cache them first
                httpx.get(f"{od}/api/studies/1/param_importances", timeout=1800)
                rows = run_browser(api, od, ids, sizes, (args.optuna_trials, completed), args.runs)
    report(rows)


def run_browser(
    api: str, od: str, ids: dict[int, int], sizes: list[int], optuna: tuple[int, int], runs: int
) -> list[tuple[str, int, float, int, int]]:
    """Cold page loads of each Caviar study, then of optuna-dashboard's (trials, completed)."""
    from playwright.sync_api import sync_playwright

    rows: list[tuple[str, int, float, int, int]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        # a warm-up load: server-side one-time costs (imports, the gzip of Plotly)
        measure(browser, f"{api}/#/studies/{ids[sizes[0]]}", CAVIAR_READY)
        for n in sizes:
            url = f"{api}/#/studies/{ids[n]}"
            print(f"caviar {n:,}: GET /studies/{{id}} {study_read_ms(api, ids[n]):.0f} ms")
            ms, size, count, marks = median_run(browser, url, CAVIAR_READY, runs)
            rows.append(("caviar", n, ms, size, count))
            print(f"caviar {n:,}: {ms:.0f} ms, {size / 1e6:.2f} MB", flush=True)
            print(f"  ms from navigation: {timeline_text(marks)}", flush=True)
            ms, size, count, marks = median_run(browser, url, CAVIAR_READY, runs, full_plotly=True)
            rows.append(("caviar, full Plotly bundle", n, ms, size, count))
            print(f"caviar {n:,} (full Plotly bundle): {ms:.0f} ms", flush=True)
            print(f"  ms from navigation: {timeline_text(marks)}", flush=True)
        ms, size, count, _ = median_run(browser, url, CAVIAR_READY, runs, warm=True)
        rows.append(("caviar, warm cache", sizes[-1], ms, size, count))
        print(f"caviar {sizes[-1]:,} (warm cache): {ms:.0f} ms", flush=True)
        url = f"{od}/dashboard/studies/1"
        n_optuna, completed = optuna
        for who, ready in (
            ("optuna-dashboard", optuna_ready(completed)),
            ("optuna-dashboard, history only", optuna_ready(completed, curves=False)),
        ):
            ms, size, count, _ = median_run(browser, url, ready, runs)
            rows.append((who, n_optuna, ms, size, count))
            print(f"{who} {n_optuna:,}: {ms:.0f} ms, {size / 1e6:.2f} MB", flush=True)
        browser.close()
    return rows


def report(rows: list[tuple[str, int, float, int, int]]) -> None:
    optuna = {who: (n, ms, size) for who, n, ms, size, _ in rows if who.startswith("optuna")}
    print()
    print(f"{'dashboard':32} {'trials':>8} {'first render':>13} {'bytes':>9} {'requests':>8}")
    for who, n, ms, size, count in rows:
        print(f"{who:32} {n:>8,} {ms:>10.0f} ms {size / 1e6:>6.2f} MB {count:>8}")
    for who, n, ms, size, _ in rows:
        if who != "caviar" or not any(n == o[0] for o in optuna.values()):
            continue
        print()
        for name, (_, o_ms, o_size) in optuna.items():
            print(
                f"caviar {n:,} vs {name}: {o_ms / ms:.1f}x faster, {o_size / size:.1f}x fewer bytes"
            )
    goals = [r for r in rows if r[0] == "caviar" and r[1] == 100_000]
    if goals:
        _, _, ms, size, _ = goals[0]
        print(
            f"\ngoals at 100,000 trials: ≤ 1500 ms ({'met' if ms <= 1500 else 'missed'}), "
            f"≤ 2 MB ({'met' if size <= 2e6 else 'missed'})"
        )


if __name__ == "__main__":
    main()
