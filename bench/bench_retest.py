"""Re-test verdicts: how often a round cries wolf on an objective that did not change, and how
often it catches one that moved.

A round re-runs the champion and the rest of the top_k ``repeats`` times with fresh seeds next
to ``explore`` challengers, and its verdict (``api.retests.verdict.judge``) says ``stale`` or
``fresh``. Goals (DESIGN.md, "Re-testing"): on an unchanged objective at most 5% of rounds say
stale; after a move larger than twice the noise at least 90% of the first rounds after it do.

Parts (``--parts``, all by default):

- ``sim``: the verdict function driven directly on simulated rounds (not through the api), with
  the round logic of ``api/retests/rounds.py`` copied here: the champion is the previous judged
  round's winner (the best search trial before any), the top_k are filled from the search's
  ranking, explore challengers are drawn alternately near the champion and across the space, and
  each round is compared with the previous judged round through ``verdict.reference``. The
  objective is f(x) = |x − c|² on [0, 1]², observed with gaussian noise σ (two levels); a search
  is 40 random trials with one draw each. *Unchanged*: studies of ``--sim-rounds`` rounds each,
  nothing changes. *Move of kσ*: the optimum c moves (in a random direction) so that the
  champion's true value rises by kσ (the other configurations rise more or less); measured on
  the first round after the move, (a) when the study had 1 or 4 rounds before the move (a
  schedule; a round compares with up to 4 judged rounds back) and (b) when it is the study's
  first round (then only a challenger can tell, by design). *Lift of kσ*: every configuration
  gets kσ worse (the data got harder, the optimum stays where it was), after 1 or 4 rounds.
- ``trainer``: the same round logic on the real NumPy trainer, in this process: the README's
  digits study space (learning_rate, beta, hidden_units, optimizer), ``--epochs`` epochs,
  ``val_loss``, a 40-trial random search, then rounds on unchanged data: the seeds are the only
  change, so every stale verdict is a false alarm. A diverged run is a failed trial (no value).
- ``api``: the README's digits study itself (coarse_to_fine, ASHA, 60 trials) through a real api
  and one worker (SQLite), then ``--api-rounds`` rounds started with POST /studies/{id}/retests;
  every stale verdict is a false alarm.

Run:  .venv/bin/python bench/bench_retest.py [--parts sim,trainer,api] [--seed 0]
The trainer and api parts use one core (one BLAS thread, one worker process).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from api.retests.verdict import ALPHA, Judged, judge, reference, summarize  # noqa: E402
from api.search.transforms import from_unit  # noqa: E402
from caviar.retest_schemas import Origin, RoundResult, Verdict  # noqa: E402
from caviar.space import CategoricalParam, FloatParam, IntParam  # noqa: E402
from tests.api.test_retest_trust import DIGITS_C2F  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "bench_retest.json"
SEARCH_TRIALS = 40
TOP_K, EXPLORE = 3, 2  # the schedule's defaults
REPEATS = 3  # the default too; --repeats changes it
NEAR = 0.15  # half-width (unit space) of the box around the champion for "latest region" draws

Unit = tuple[float, ...]
Evaluate = Callable[[Unit, np.random.Generator], float | None]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a rate k/n."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Study:
    """One study's search and its rounds, as ``api/retests/rounds.py`` runs them."""

    dims: int
    evaluate: Evaluate
    rng: np.random.Generator
    search: list[tuple[Unit, float]] = field(default_factory=list)
    champion: Unit | None = None
    history: list[Judged] = field(default_factory=list)  # newest first
    rounds: int = 0
    reason: str = ""  # the latest round's

    def run_search(self, trials: int) -> None:
        for _ in range(trials):
            u = tuple(float(v) for v in self.rng.uniform(0, 1, self.dims))
            value = self.evaluate(u, self.rng)
            if value is not None:
                self.search.append((u, value))
        self.search.sort(key=lambda t: t[1])

    def _explore(self, i: int) -> Unit:
        if i % 2 == 0 and self.champion is not None:  # near the champion ("latest region")
            lo = np.clip(np.array(self.champion) - NEAR, 0, 1)
            hi = np.clip(np.array(self.champion) + NEAR, 0, 1)
            return tuple(float(v) for v in self.rng.uniform(lo, hi))
        return tuple(float(v) for v in self.rng.uniform(0, 1, self.dims))

    def run_round(self) -> Verdict | None:
        configs: list[Unit] = []
        if self.champion is not None and self.history:
            configs.append(self.champion)
        for u, _ in self.search:
            if len(configs) >= TOP_K:
                break
            if u not in configs:
                configs.append(u)
        if self.champion is None or not self.history:
            self.champion = configs[0]
        groups: list[tuple[Unit, Origin]] = [
            (u, "champion" if i == 0 else "top_k") for i, u in enumerate(configs)
        ]
        groups += [(self._explore(i), "explore") for i in range(EXPLORE)]
        results = []
        for u, origin in groups:
            values = [self.evaluate(u, self.rng) for _ in range(REPEATS)]
            mean, se, n = summarize([v for v in values if v is not None])
            results.append(
                RoundResult(
                    trial_ids=[], params={"u": list(u)}, origin=origin, mean=mean, se=se, n=n
                )
            )
        self.rounds += 1
        j = judge(results, reference(self.history), "minimize")
        self.reason = j.reason
        if j.verdict is not None and j.winner is not None:
            self.history.insert(0, Judged(self.rounds, results, j.verdict, j.winner))
            self.champion = tuple(results[j.winner].params["u"])
        return j.verdict


# --- sim: f(x) = |x − c|² + N(0, σ²) on [0, 1]² ---------------------------------------------


class Quadratic:
    def __init__(self, rng: np.random.Generator, sigma: float) -> None:
        self.c = rng.uniform(0.25, 0.75, 2)
        self.sigma = sigma
        self.lift = 0.0

    def lift_by(self, k: float) -> None:
        """Make every configuration worse by kσ (the data got harder; the optimum stays)."""
        self.lift += k * self.sigma

    def move(self, rng: np.random.Generator, k: float, at: Unit) -> None:
        """Move the optimum c, in a random direction, so that the true value at ``at`` (the
        champion) rises by exactly kσ; the other configurations rise more or less."""
        angle = rng.uniform(0, 2 * math.pi)
        u = np.array([math.cos(angle), math.sin(angle)])
        b = float((np.array(at) - self.c) @ u)
        self.c = self.c + (b + math.sqrt(b * b + k * self.sigma)) * u

    def __call__(self, u: Unit, rng: np.random.Generator) -> float:
        return float(np.sum((np.array(u) - self.c) ** 2) + self.lift + rng.normal(0, self.sigma))


def sim(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sigma in args.sigmas:
        rng = np.random.default_rng([args.seed, int(sigma * 1e6)])
        stale = first_stale = rounds = firsts = 0
        for _ in range(args.sim_studies):
            f = Quadratic(rng, sigma)
            s = Study(2, f, rng)
            s.run_search(SEARCH_TRIALS)
            for r in range(args.sim_rounds):
                v = s.run_round()
                rounds += 1
                stale += v == "stale"
                if r == 0:
                    firsts += 1
                    first_stale += v == "stale"
        row: dict[str, Any] = {
            "unchanged": {
                "rounds": rounds,
                "stale": stale,
                "first_rounds": firsts,
                "first_stale": first_stale,
            },
            "moves": {},
        }
        for k in args.moves:
            moved: dict[str, Any] = {"rounds": args.sim_moves}
            for before in args.rounds_before:
                caught = lifted = 0
                for _ in range(args.sim_moves):
                    f = Quadratic(rng, sigma)
                    s = Study(2, f, rng)
                    s.run_search(SEARCH_TRIALS)
                    for _ in range(before):  # the rounds before the move
                        s.run_round()
                    assert s.champion is not None
                    f.move(rng, k, s.champion)
                    caught += s.run_round() == "stale"
                    g = Quadratic(rng, sigma)
                    t = Study(2, g, rng)
                    t.run_search(SEARCH_TRIALS)
                    for _ in range(before):
                        t.run_round()
                    g.lift_by(k)
                    lifted += t.run_round() == "stale"
                moved[f"after_{before}_rounds"] = caught
                moved[f"lift_after_{before}_rounds"] = lifted
            caught = 0
            for _ in range(args.sim_moves):
                g = Quadratic(rng, sigma)
                t = Study(2, g, rng)
                t.run_search(SEARCH_TRIALS)
                g.move(rng, k, t.search[0][0])
                caught += t.run_round() == "stale"
            moved["first_round"] = caught
            row["moves"][str(k)] = moved
        out[str(sigma)] = row
        u = row["unchanged"]
        lo, hi = wilson(u["stale"], u["rounds"])
        print(
            f"sim σ={sigma:g}: unchanged, {u['stale']}/{u['rounds']} rounds stale "
            f"({100 * u['stale'] / u['rounds']:.1f}%, 95% CI {100 * lo:.1f}–{100 * hi:.1f}%); "
            f"first rounds {u['first_stale']}/{u['first_rounds']}",
            flush=True,
        )
        for k, m in row["moves"].items():
            n = m["rounds"]

            def pct(key: str, m: dict[str, Any] = m, n: int = n) -> str:
                return f"{m[key]}/{n} ({100 * m[key] / n:.1f}%)"

            after = "; ".join(
                f"{pct(f'after_{b}_rounds')} after {b} round{'s' if b > 1 else ''}"
                for b in args.rounds_before
            )
            lifted = "; ".join(
                f"{pct(f'lift_after_{b}_rounds')} after {b} round{'s' if b > 1 else ''}"
                for b in args.rounds_before
            )
            print(
                f"sim σ={sigma:g}: optimum moved, champion {float(k):g}σ worse: stale in the "
                f"first round after: {after}; {pct('first_round')} as the study's first round",
                flush=True,
            )
            print(
                f"sim σ={sigma:g}: everything {float(k):g}σ worse: stale in the first round "
                f"after: {lifted}",
                flush=True,
            )
    return out


# --- trainer: digits, seeds the only change -------------------------------------------------

DIGITS_SPACE: dict[str, FloatParam | IntParam | CategoricalParam] = {
    "learning_rate": FloatParam(type="float", low=1e-4, high=1.0, scale="log"),
    "beta": FloatParam(type="float", low=0.9, high=0.999, scale="reverse_log"),
    "hidden_units": IntParam(type="int", low=16, high=256, scale="log"),
    "optimizer": CategoricalParam(type="categorical", choices=["momentum", "rmsprop", "adam"]),
}


def trainer(args: argparse.Namespace) -> dict[str, Any]:
    from caviar.trainer_params import trial_hyperparameters
    from worker.datasets import load_builtin
    from worker.nn.training import TrainingDiverged, fit

    data = load_builtin("digits")
    names = list(DIGITS_SPACE)
    fits = [0]

    def evaluate(u: Unit, rng: np.random.Generator) -> float | None:
        params = {n: from_unit(DIGITS_SPACE[n], x) for n, x in zip(names, u, strict=True)}
        fits[0] += 1
        try:
            result = fit(
                data,
                trial_hyperparameters(args.epochs, {}, params),
                np.random.default_rng(int(rng.integers(2**63))),
            )
        except TrainingDiverged:
            return None
        value = result.final["val_loss"]
        return float(value) if math.isfinite(value) else None

    rng = np.random.default_rng([args.seed, 2])
    stale = rounds = 0
    reasons: list[str] = []
    started = time.monotonic()
    for study in range(args.trainer_studies):
        s = Study(len(names), evaluate, rng)
        s.run_search(SEARCH_TRIALS)
        for _ in range(args.trainer_rounds):
            v = s.run_round()
            rounds += 1
            stale += v == "stale"
            if v == "stale":
                reasons.append(s.reason)
        print(
            f"trainer: study {study + 1}/{args.trainer_studies}, {stale}/{rounds} rounds stale "
            f"so far ({fits[0]} fits, {time.monotonic() - started:.0f} s)",
            flush=True,
        )
    lo, hi = wilson(stale, rounds)
    print(
        f"trainer digits ({args.epochs} epochs, val_loss): unchanged, {stale}/{rounds} rounds "
        f"stale ({100 * stale / rounds:.1f}%, 95% CI {100 * lo:.1f}–{100 * hi:.1f}%)",
        flush=True,
    )
    return {
        "epochs": args.epochs,
        "rounds": rounds,
        "stale": stale,
        "fits": fits[0],
        "seconds": round(time.monotonic() - started),
        "reasons": reasons,
    }


# --- api: the README's digits study through a real api and one worker -----------------------

README_STUDY: dict[str, Any] = DIGITS_C2F  # the README's first study, as written there


def through_api(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    from bench.common import api_server, backend, wait_for, worker_process
    from caviar.client import Client

    verdicts: list[str | None] = []
    reasons: list[str | None] = []
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="caviar-bench-retest-") as tmp,
        backend("sqlite", Path(tmp)) as be,
        api_server(be, CAVIAR_RETEST_INTERVAL="0.3") as url,
        worker_process(be, url, concurrency=1) as w,
        Client(url) as c,
    ):
        for seed in args.api_seeds:
            sid = c.create_study({**README_STUDY, "seed": seed}).id
            wait_for(lambda sid=sid: c.study(sid).status == "completed", 900, "the study", log=w)
            best = c.study(sid).best
            for number in range(1, args.api_rounds + 1):
                c.start_retest(sid)

                def done(sid: int = sid, number: int = number) -> bool:
                    return any(
                        r.number == number and r.state == "finished" for r in c.retests(sid).data
                    )

                wait_for(done, 900, f"round {number}", log=w)
                r = next(x for x in c.retests(sid).data if x.number == number)
                verdicts.append(r.verdict)
                reasons.append(r.reason)
                assert c.study(sid).best == best, "a round changed best"
                print(
                    f"api: study seed {seed}, round {number}: {r.verdict}: {r.reason}", flush=True
                )
    stale = sum(v == "stale" for v in verdicts)
    print(f"api digits-c2f: {stale}/{len(verdicts)} rounds stale on unchanged data", flush=True)
    return {
        "rounds": len(verdicts),
        "stale": stale,
        "verdicts": verdicts,
        "reasons": reasons,
        "seconds": round(time.monotonic() - started),
    }


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="sim,trainer,api")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.01, 0.05])
    p.add_argument("--sim-studies", type=int, default=100)
    p.add_argument("--sim-rounds", type=int, default=4, help="rounds per unchanged study")
    p.add_argument("--sim-moves", type=int, default=300, help="studies per move size")
    p.add_argument("--moves", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    p.add_argument(
        "--rounds-before", type=int, nargs="+", default=[1, 4], help="judged rounds before a move"
    )
    p.add_argument("--repeats", type=int, default=3, help="runs of each configuration a round")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--trainer-studies", type=int, default=20)
    p.add_argument("--trainer-rounds", type=int, default=10)
    p.add_argument("--api-seeds", type=int, nargs="+", default=[7, 8])
    p.add_argument("--api-rounds", type=int, default=5)
    return p.parse_args()


def main() -> None:
    global REPEATS
    args = parse_args()
    REPEATS = args.repeats
    parts = set(args.parts.split(","))
    print(
        f"verdict: one-sided Welch t-tests, family-wise α = {ALPHA}; rounds of top_k {TOP_K} × "
        f"{REPEATS} repeats + {EXPLORE} challengers × {REPEATS}",
        flush=True,
    )
    results: dict[str, Any] = {"command": " ".join(sys.argv), "alpha": ALPHA, "repeats": REPEATS}
    if "sim" in parts:
        results["sim"] = sim(args)
    if "trainer" in parts:
        results["trainer"] = trainer(args)
    if "api" in parts:
        results["api"] = through_api(args)
    RESULTS.parent.mkdir(exist_ok=True)
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    kept.update({k: v for k, v in results.items() if k in ("sim", "trainer", "api")})
    kept.setdefault("commands", []).append(results["command"])
    kept.update(alpha=ALPHA, repeats=REPEATS)
    RESULTS.write_text(json.dumps(kept, indent=1) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
