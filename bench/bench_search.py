"""Search-efficiency benchmark: Caviar's strategies against Optuna's samplers.

A panel of problems whose dimensions live on log and reverse_log scales; every method gets the same
budget, asked in batches (ask ``batch``, then tell ``batch``: parallel workers). Caviar's
strategies are driven exactly as the service drives them: ``make_strategy`` and ``SearchState``.
Prints the median simple regret (best value found − the problem's optimum) at 25/50/100 trials,
the ratios of coarse_to_fine to Optuna's random and TPE samplers, the trials coarse_to_fine needs
to reach random search's 100-trial regret, and the suggestion cost at 10,000 finished trials.
Writes a regret-vs-trials plot.

    python bench/bench_search.py            # 30 seeds x 100 trials, 2 processes
    python bench/bench_search.py --quick    # 5 seeds
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS thread per process: the runs are parallel

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.search.base import Observation, RegionView, SearchState, whole_space  # noqa: E402
from api.search.registry import make_strategy  # noqa: E402
from api.search.transforms import to_unit  # noqa: E402
from caviar.search_config import CoarseToFineStrategy, RandomStrategy  # noqa: E402
from caviar.space import CategoricalParam, FloatParam, IntParam  # noqa: E402

Params = Mapping[str, Any]


def _f(low: float, high: float, scale: str = "linear") -> FloatParam:
    return FloatParam(type="float", low=low, high=high, scale=scale)  # type: ignore[arg-type]


def _unit(p: FloatParam, x: float) -> float:
    return to_unit(p, x)


@dataclass(frozen=True)
class Problem:
    name: str
    space: dict[str, Any]
    fn: Callable[[Params], float]
    optimum: float


# Branin on (log learning rate, reverse_log momentum): its structure lives on those scales.
_BRANIN = {"lr": _f(1e-4, 1.0, "log"), "beta": _f(0.9, 0.9999, "reverse_log")}


def branin(p: Params) -> float:
    x1 = -5 + 15 * _unit(_BRANIN["lr"], p["lr"])
    x2 = 15 * _unit(_BRANIN["beta"], p["beta"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6 = {
    "lr": _f(1e-5, 1e-1, "log"),
    "weight_decay": _f(1e-6, 1e-2, "log"),
    "beta1": _f(0.5, 0.999, "reverse_log"),
    "beta2": _f(0.9, 0.9999, "reverse_log"),
    "dropout": _f(0.0, 0.8),
    "init_scale": _f(0.01, 10.0, "log"),
}
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p: Params) -> float:
    x = np.array([_unit(q, p[n]) for n, q in _H6.items()])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


# Rosenbrock in 4-D: coordinate x = 4t − 2 where t is the param's position on its own scale.
_ROS = {
    "lr": _f(1e-5, 1.0, "log"),
    "beta": _f(0.8, 0.9999, "reverse_log"),
    "l2": _f(1e-6, 1.0, "log"),
    "warmup": _f(0.0, 1.0),
}


def rosenbrock(p: Params) -> float:
    x = [4 * _unit(q, p[n]) - 2 for n, q in _ROS.items()]
    return sum(100 * (b - a * a) ** 2 + (1 - a) ** 2 for a, b in itertools.pairwise(x))


# Learning rate x momentum: the loss depends on the effective step lr/(1 − β) (a narrow diagonal
# valley in log space), mildly on β along the valley, and diverges past an effective step of 1.
_VALLEY = {
    "lr": _f(1e-6, 1.0, "log"),
    "beta": _f(0.5, 0.9999, "reverse_log"),
    "weight_decay": _f(1e-7, 1e-1, "log"),
}


def lr_momentum(p: Params) -> float:
    step = math.log10(p["lr"] / (1 - p["beta"]))
    across = step + 1.0
    along = math.log10(1 - p["beta"]) + 2.0
    wd = math.log10(p["weight_decay"]) + 4.0
    cliff = 10 * max(step, 0.0) ** 2
    return 4 * across**2 + 0.3 * along**2 + 0.1 * wd**2 + cliff


_MIXED = {
    "lr": _f(1e-5, 1.0, "log"),
    "units": IntParam(type="int", low=8, high=1024, scale="log"),
    "layers": IntParam(type="int", low=1, high=8),
    "optimizer": CategoricalParam(
        type="categorical", choices=["sgd", "momentum", "rmsprop", "adam"]
    ),
    "activation": CategoricalParam(type="categorical", choices=["relu", "tanh", "sigmoid"]),
}
_OPT = {"sgd": (-1.0, 0.3), "momentum": (-1.5, 0.15), "rmsprop": (-3.0, 0.1), "adam": (-3.2, 0.0)}


def mixed(p: Params) -> float:
    lr_best, base = _OPT[p["optimizer"]]
    act = {"relu": 0.0, "tanh": 0.05, "sigmoid": 0.1 + 0.05 * p["layers"]}[p["activation"]]
    return (
        base
        + (math.log10(p["lr"]) - lr_best) ** 2
        + 0.05 * (math.log2(p["units"]) - 7) ** 2
        + 0.08 * (p["layers"] - 3) ** 2
        + act
    )


PROBLEMS = [
    Problem("branin", _BRANIN, branin, 0.397887357729738),
    Problem("hartmann6", _H6, hartmann6, -3.322368011391339),
    Problem("rosenbrock4", _ROS, rosenbrock, 0.0),
    Problem("lr_momentum", _VALLEY, lr_momentum, 0.0),
    Problem("mixed_int_cat", _MIXED, mixed, 0.0),
]
PROBLEM_BY_NAME = {p.name: p for p in PROBLEMS}


# ---------------------------------------------------------------------------------------------
# Drivers: one run = one (problem, method, seed) → the value of every trial, in trial order.


def run_caviar(problem: Problem, options: Any, seed: int, trials: int, batch: int) -> list[float]:
    strategy = make_strategy(options)
    regions: list[RegionView] = [whole_space(problem.space)]
    regions[0].id = 0
    obs: list[Observation] = []
    for start in range(0, trials, batch):
        numbers = list(range(start, min(start + batch, trials)))
        state = SearchState(problem.space, seed, list(obs), 0, list(regions))
        suggestions = strategy.suggest(state, numbers)
        for s in suggestions:
            if s.region.id is None:
                s.region.id = len(regions)
                regions.append(s.region)
        for s in suggestions:
            value = problem.fn(s.params)
            unit = {n: to_unit(q, s.params[n]) for n, q in problem.space.items()}
            obs.append(Observation(s.number, s.params, unit, value, s.region.id, s.region.stage))
    return [o.value for o in sorted(obs, key=lambda o: o.number)]


def _optuna_params(trial: Any, space: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, q in space.items():
        if isinstance(q, CategoricalParam):
            out[name] = trial.suggest_categorical(name, q.choices)
        elif isinstance(q, IntParam):
            out[name] = trial.suggest_int(name, q.low, q.high, log=q.scale == "log")
        elif q.scale == "reverse_log":  # Optuna has no reverse_log: draw 1 − x on a log scale
            out[name] = 1.0 - trial.suggest_float(name + "_1m", 1.0 - q.high, 1.0 - q.low, log=True)
        else:
            out[name] = trial.suggest_float(name, q.low, q.high, log=q.scale == "log")
    return out


def run_optuna(
    problem: Problem, sampler_name: str, seed: int, trials: int, batch: int
) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if sampler_name == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif sampler_name == "qmc":
        sampler = optuna.samplers.QMCSampler(seed=seed, scramble=True)
    elif sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    else:
        raise ValueError(sampler_name)
    study = optuna.create_study(sampler=sampler)
    values: list[float] = []
    while len(values) < trials:
        asked = [study.ask() for _ in range(min(batch, trials - len(values)))]
        batch_values = [problem.fn(_optuna_params(t, problem.space)) for t in asked]
        for t, v in zip(asked, batch_values, strict=True):
            study.tell(t, v)
        values.extend(batch_values)
    return values


@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # "caviar" | "optuna"
    spec: Any  # options (caviar) or sampler name (optuna)


def default_methods(c2f_overrides: dict[str, Any]) -> list[Method]:
    return [
        Method("caviar_random", "caviar", RandomStrategy()),
        Method(
            "caviar_c2f", "caviar", CoarseToFineStrategy(name="coarse_to_fine", **c2f_overrides)
        ),
        # The naive zoom, for reference: the same regions, Sobol points inside them.
        Method(
            "caviar_c2f_sobol",
            "caviar",
            CoarseToFineStrategy(name="coarse_to_fine", **{**c2f_overrides, "sampler": "sobol"}),
        ),
        Method("optuna_random", "optuna", "random"),
        Method("optuna_qmc", "optuna", "qmc"),
        Method("optuna_tpe", "optuna", "tpe"),
    ]


def _job(args: tuple[str, Method, int, int, int]) -> tuple[str, str, int, list[float], float]:
    problem_name, method, seed, trials, batch = args
    problem = PROBLEM_BY_NAME[problem_name]
    t0 = time.perf_counter()
    if method.kind == "caviar":
        values = run_caviar(problem, method.spec, seed, trials, batch)
    else:
        values = run_optuna(problem, method.spec, seed, trials, batch)
    return problem_name, method.name, seed, values, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Suggestion cost at many finished trials.


def suggestion_cost(n_finished: int = 10_000, batch: int = 8, repeats: int = 5) -> dict[str, float]:
    """Milliseconds per suggested trial for coarse_to_fine with ``n_finished`` finished trials
    (hartmann6). ``steady``: the current region has fewer than ``stage_trials`` trials of its own
    (the usual call); ``zoom``: the call also derives a new region. ``cold``: the first call,
    which fits the GP's hyperparameters (later calls reuse them until n grows by n/16)."""
    from api.search.regions import derive_region
    from api.search.transforms import from_unit

    problem = PROBLEM_BY_NAME["hartmann6"]
    options = CoarseToFineStrategy(name="coarse_to_fine")
    rng = np.random.default_rng(0)
    whole = whole_space(problem.space)
    whole.id = 0
    obs = []
    for n in range(n_finished):
        params = {name: from_unit(q, float(rng.random())) for name, q in problem.space.items()}
        unit = {name: to_unit(q, params[name]) for name, q in problem.space.items()}
        obs.append(Observation(n, params, unit, problem.fn(params), 0, 0))
    child = derive_region(
        whole, problem.space, obs, top_fraction=0.01, margin=options.margin, min_width=0.02
    )
    child.id = 1
    obs = [*obs[:-8], *(Observation(o.number, o.params, o.unit, o.value, 1, 1) for o in obs[-8:])]

    def timed(regions: list[RegionView], size: int, first: int) -> float:
        numbers = list(range(first, first + size))
        state = SearchState(problem.space, 1, obs, 0, regions)
        strategy = make_strategy(options)
        t0 = time.perf_counter()
        strategy.suggest(state, numbers)
        return 1000 * (time.perf_counter() - t0) / size

    out = {"cold_batch8": timed([whole, child], batch, n_finished)}
    for case, regions in (("steady", [whole, child]), ("zoom", [whole])):
        for size in (batch, 1):
            times = [timed(regions, size, n_finished + r * size) for r in range(repeats)]
            out[f"{case}_batch{size}"] = float(np.median(times))
    return out


# ---------------------------------------------------------------------------------------------


def best_so_far(values: list[float], optimum: float) -> np.ndarray:
    return np.maximum(np.minimum.accumulate(np.array(values)) - optimum, 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="5 seeds instead of 30")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--problems", default=",".join(p.name for p in PROBLEMS))
    ap.add_argument("--methods", default=None, help="comma-separated subset of the method names")
    ap.add_argument("--c2f", default="{}", help="JSON overrides of the coarse_to_fine options")
    ap.add_argument("--variant", action="append", default=[], help="extra c2f variant NAME=JSON")
    ap.add_argument("--no-cost", action="store_true")
    ap.add_argument("--plot", default=str(Path(__file__).parent / "results" / "search_regret.png"))
    ap.add_argument("--json", default=None, help="write the per-run values here")
    args = ap.parse_args(argv)

    seeds = args.seeds or (5 if args.quick else 30)
    methods = default_methods(json.loads(args.c2f))
    for v in args.variant:
        name, _, spec = v.partition("=")
        methods.append(
            Method(name, "caviar", CoarseToFineStrategy(name="coarse_to_fine", **json.loads(spec)))
        )
    if args.methods:
        keep = set(args.methods.split(","))
        methods = [m for m in methods if m.name in keep]
    problems = [PROBLEM_BY_NAME[n] for n in args.problems.split(",")]
    jobs = [
        (p.name, m, s, args.trials, args.batch)
        for p in problems
        for m in methods
        for s in range(seeds)
    ]
    t0 = time.perf_counter()
    if args.processes > 1:
        with multiprocessing.get_context("fork").Pool(args.processes) as pool:
            results = pool.map(_job, jobs, chunksize=1)
    else:
        results = [_job(j) for j in jobs]
    wall = time.perf_counter() - t0

    curves: dict[tuple[str, str], np.ndarray] = {}
    seconds: dict[str, float] = {}
    for p in problems:
        for m in methods:
            runs = [r for r in results if r[0] == p.name and r[1] == m.name]
            curves[p.name, m.name] = np.array([best_so_far(r[3], p.optimum) for r in runs])
            seconds[m.name] = seconds.get(m.name, 0.0) + sum(r[4] for r in runs)

    names = [m.name for m in methods]
    checkpoints = [c for c in (25, 50, 100) if c <= args.trials] or [args.trials]
    print(f"\n{seeds} seeds x {args.trials} trials, batches of {args.batch}; median simple regret")
    for p in problems:
        print(f"\n{p.name} ({len(p.space)} params)")
        print(f"  {'method':<16}" + "".join(f"{'@' + str(c):>12}" for c in checkpoints))
        for name in names:
            med = np.median(curves[p.name, name], axis=0)
            print(f"  {name:<16}" + "".join(f"{med[c - 1]:>12.4g}" for c in checkpoints))

    c2f_names = [
        n
        for n in names
        if n.startswith("caviar_c2f")
        or n not in {"caviar_random", "optuna_random", "optuna_qmc", "optuna_tpe"}
    ]
    last = args.trials - 1
    print(
        f"\nratios of median regret at {args.trials} trials;"
        f" trials to reach random's {args.trials}-trial regret"
    )
    for c2f in c2f_names:
        wins_rand = wins_tpe = 0
        print(f"\n  {c2f}")
        print(f"  {'problem':<16}{'vs opt.random':>14}{'vs opt.tpe':>12}{'to match rnd':>14}")
        for p in problems:
            med = np.median(curves[p.name, c2f], axis=0)
            r_rand = (
                np.median(curves[p.name, "optuna_random"], axis=0)[last]
                if "optuna_random" in names
                else math.nan
            )
            r_tpe = (
                np.median(curves[p.name, "optuna_tpe"], axis=0)[last]
                if "optuna_tpe" in names
                else math.nan
            )
            ref = "caviar_random" if "caviar_random" in names else "optuna_random"
            target = np.median(curves[p.name, ref], axis=0)[last] if ref in names else math.nan
            reach = np.nonzero(med <= target)[0]
            to_match = f"{reach[0] + 1}" if len(reach) else f">{args.trials}"
            q_rand = med[last] / r_rand if r_rand > 0 else (0.0 if med[last] == 0 else math.inf)
            q_tpe = med[last] / r_tpe if r_tpe > 0 else (0.0 if med[last] == 0 else math.inf)
            wins_rand += q_rand <= 0.5
            wins_tpe += q_tpe <= 1.0
            print(f"  {p.name:<16}{q_rand:>14.3g}{q_tpe:>12.3g}{to_match:>14}")
        print(
            f"  goals: <=0.5x optuna random on {wins_rand}/{len(problems)} (need 4), "
            f"<=1.0x optuna tpe on {wins_tpe}/{len(problems)} (need 3)"
        )

    print("\nCPU seconds per run (mean):")
    for name in names:
        print(f"  {name:<16}{seconds[name] / (seeds * len(problems)):>8.2f}")
    print(f"wall time {wall:.0f} s with {args.processes} processes")

    if not args.no_cost:
        cost = suggestion_cost()
        print("\nsuggestion cost at 10,000 finished trials (coarse_to_fine, hartmann6), ms/trial:")
        print("  " + ", ".join(f"{k} {v:.1f}" for k, v in cost.items()))

    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps([[r[0], r[1], r[2], r[3]] for r in results]))
    if args.plot:
        _plot(problems, names, curves, args.trials, Path(args.plot), seeds, args.batch)
        print(f"plot written to {args.plot}")
    return 0


def _plot(
    problems: list[Problem],
    names: list[str],
    curves: Any,
    trials: int,
    path: Path,
    seeds: int,
    batch: int,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    rows = (len(problems) + cols) // cols  # one spare panel holds the legend
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    flat = list(axes.flat)
    x = np.arange(1, trials + 1)
    for ax, p in zip(flat, problems, strict=False):
        for name in names:
            c = curves[p.name, name]
            med = np.median(c, axis=0)
            lo, hi = np.percentile(c, 25, axis=0), np.percentile(c, 75, axis=0)
            (line,) = ax.plot(x, np.maximum(med, 1e-9), label=name, lw=1.6)
            ax.fill_between(
                x, np.maximum(lo, 1e-9), np.maximum(hi, 1e-9), color=line.get_color(), alpha=0.12
            )
        ax.set_yscale("log")
        ax.set_title(f"{p.name} ({len(p.space)} params)")
        ax.set_xlabel("trials")
        ax.set_ylabel("simple regret")
        ax.grid(alpha=0.3)
    for ax in flat[len(problems) :]:
        ax.axis("off")
    handles, labels = flat[0].get_legend_handles_labels()
    flat[-1].legend(handles, labels, loc="center", title="median, IQR band")
    fig.suptitle(f"Search efficiency: {seeds} seeds, batches of {batch}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
