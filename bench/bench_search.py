"""Search-efficiency benchmark: Caviar's strategies against Optuna's samplers.

A panel of problems whose dimensions live on log and reverse_log scales; every method gets the same
budget, asked in batches (ask ``batch``, then tell ``batch``: parallel workers). Caviar's
strategies are driven exactly as the service drives them: ``make_strategy`` and ``SearchState``.
Prints the median simple regret (best value found − the problem's optimum) at 25/50/100 trials,
the ratios of coarse_to_fine to Optuna's GP, TPE and random samplers against the issue's goals,
each method's score (the sum over the problems of the mean log10 regret at the last checkpoint,
± its standard error; lower is better), the seconds per run, and the suggestion cost at 10,000
finished trials. Writes a regret-vs-trials plot.

    python bench/bench_search.py            # 30 seeds x 100 trials, 2 processes
    python bench/bench_search.py --quick    # 5 seeds

Eleven problems: five smooth ones, three multimodal (Ackley-5, Levy-4, Styblinski–Tang-5), two
noisy ones (judged on the noiseless value of the recommended configuration) and a real one, the
trainer on digits (4 epochs, validation loss; ``--real-seeds`` to run fewer). Optuna's
GPSampler runs ``--gp-seeds`` seeds (it is slow: about 15 s per run).
``CAVIAR_BENCH_PARTIAL=FILE`` keeps every finished run in FILE; ``--resume FILE`` summarises
them (runs made in pieces, by ``--problems`` and ``--methods``, summarise as one).
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
    """``fn`` is noiseless; a run observes ``fn + noise · N(0, 1)``. ``optimum`` is NaN when
    unknown (a real training run): regret is then taken against the best value any run saw."""

    name: str
    space: dict[str, Any]
    fn: Callable[[Params], float]
    optimum: float
    noise: float = 0.0


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


# Multimodal problems: coordinate x = lo + (hi − lo) · t, t the param's position on its scale.
def _coords(space: dict[str, FloatParam], p: Params, lo: float, hi: float) -> np.ndarray:
    return np.array([lo + (hi - lo) * _unit(q, p[n]) for n, q in space.items()])


_ACKLEY = {
    "lr": _f(1e-5, 1.0, "log"),
    "beta": _f(0.5, 0.9999, "reverse_log"),
    "l2": _f(1e-7, 1e-1, "log"),
    "dropout": _f(0.0, 0.8),
    "warmup": _f(0.0, 1.0),
}
_ACKLEY_SHIFT = np.array([1.3, -2.1, 0.7, -0.4, 2.6])  # the optimum, off the box's centre


def ackley(p: Params) -> float:
    x = _coords(_ACKLEY, p, -10.0, 10.0) - _ACKLEY_SHIFT
    d = len(x)
    return float(
        -20 * np.exp(-0.2 * np.sqrt((x * x).sum() / d))
        - np.exp(np.cos(2 * np.pi * x).sum() / d)
        + 20
        + math.e
    )


_LEVY = {
    "lr": _f(1e-4, 1.0, "log"),
    "beta2": _f(0.9, 0.9999, "reverse_log"),
    "momentum": _f(0.0, 0.99),
    "label_smoothing": _f(0.0, 0.3),
}


def levy(p: Params) -> float:
    x = _coords(_LEVY, p, -10.0, 10.0)
    w = 1 + (x - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    mid = ((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2)).sum()
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


_STYTANG = {
    "lr": _f(1e-5, 1e-1, "log"),
    "weight_decay": _f(1e-6, 1e-1, "log"),
    "beta1": _f(0.5, 0.999, "reverse_log"),
    "dropout": _f(0.0, 0.7),
    "init_scale": _f(0.01, 10.0, "log"),
}


def styblinski_tang(p: Params) -> float:
    x = _coords(_STYTANG, p, -5.0, 5.0)
    return float(0.5 * (x**4 - 16 * x**2 + 5 * x).sum())


# A real objective: the trainer on digits, four epochs, validation loss (fixed initial weights,
# so one configuration always gives one value).
_DIGITS = {
    "learning_rate": _f(1e-4, 1.0, "log"),
    "beta": _f(0.8, 0.999, "reverse_log"),
    "hidden_units": IntParam(type="int", low=16, high=256, scale="log"),
    "optimizer": CategoricalParam(type="categorical", choices=["momentum", "rmsprop", "adam"]),
}
_DIGITS_DATA: list[Any] = []


def digits_val_loss(p: Params) -> float:
    from worker.datasets.loader import load_builtin
    from worker.nn.training import TrainingDiverged, fit

    if not _DIGITS_DATA:
        _DIGITS_DATA.append(load_builtin("digits"))
    try:
        result = fit(_DIGITS_DATA[0], {**p, "epochs": 4}, np.random.default_rng(0))
    except TrainingDiverged:
        return 10.0
    value = result.final["val_loss"]
    return float(value) if math.isfinite(value) else 10.0


PROBLEMS = [
    Problem("branin", _BRANIN, branin, 0.397887357729738),
    Problem("hartmann6", _H6, hartmann6, -3.322368011391339),
    Problem("rosenbrock4", _ROS, rosenbrock, 0.0),
    Problem("lr_momentum", _VALLEY, lr_momentum, 0.0),
    Problem("mixed_int_cat", _MIXED, mixed, 0.0),
    Problem("ackley5", _ACKLEY, ackley, 0.0),
    Problem("levy4", _LEVY, levy, 0.0),
    Problem("styblinski_tang5", _STYTANG, styblinski_tang, -39.16616570377142 * 5),
    # Noisy: noise comparable to a training run's seed-to-seed variation of its loss.
    Problem("hartmann6_noisy", _H6, hartmann6, -3.322368011391339, noise=0.1),
    Problem("lr_momentum_noisy", _VALLEY, lr_momentum, 0.0, noise=0.3),
    Problem("digits_train", _DIGITS, digits_val_loss, math.nan),
]
REAL = {"digits_train"}
PROBLEM_BY_NAME = {p.name: p for p in PROBLEMS}


# ---------------------------------------------------------------------------------------------
# Drivers: one run = one (problem, method, seed) → the value of every trial, in trial order.


CHECKPOINTS = (25, 50, 100)
Run = tuple[
    list[float], dict[int, float]
]  # clean values in trial order; recommended at checkpoints


def _observe(problem: Problem, rng: np.random.Generator, clean: float) -> float:
    return clean + problem.noise * float(rng.normal()) if problem.noise else clean


def _best_observed(observed: list[float], clean: list[float], upto: int) -> float:
    return clean[int(np.argmin(observed[:upto]))]


def run_caviar(problem: Problem, options: Any, seed: int, trials: int, batch: int) -> Run:
    strategy = make_strategy(options)
    regions: list[RegionView] = [whole_space(problem.space)]
    regions[0].id = 0
    obs: list[Observation] = []
    clean: dict[int, float] = {}
    rng = np.random.default_rng([seed, 7])
    rec: dict[int, float] = {}
    recommend = getattr(strategy, "recommend", None)
    for start in range(0, trials, batch):
        numbers = list(range(start, min(start + batch, trials)))
        state = SearchState(problem.space, seed, list(obs), 0, list(regions))
        suggestions = strategy.suggest(state, numbers)
        for s in suggestions:
            if s.region.id is None:
                s.region.id = len(regions)
                regions.append(s.region)
        for s in suggestions:
            clean[s.number] = problem.fn(s.params)
            value = _observe(problem, rng, clean[s.number])
            unit = {n: to_unit(q, s.params[n]) for n, q in problem.space.items()}
            obs.append(Observation(s.number, s.params, unit, value, s.region.id, s.region.stage))
        for c in CHECKPOINTS:
            if start < c <= len(obs):
                seen = sorted(obs, key=lambda o: o.number)[:c]
                if problem.noise and recommend is not None:
                    r = recommend(SearchState(problem.space, seed, seen, 0, list(regions)))
                    rec[c] = clean[r.number]
                else:
                    rec[c] = clean[min(seen, key=lambda o: (o.value, o.number)).number]
    return [clean[n] for n in sorted(clean)], rec


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
        sampler = optuna.samplers.RandomStrategy(seed=seed)
    elif sampler_name == "qmc":
        sampler = optuna.samplers.QMCSampler(seed=seed, scramble=True)
    elif sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    elif sampler_name == "gp":
        sampler = optuna.samplers.GPSampler(seed=seed)
    else:
        raise ValueError(sampler_name)
    study = optuna.create_study(sampler=sampler)
    rng = np.random.default_rng([seed, 7])
    clean: list[float] = []
    observed: list[float] = []
    while len(clean) < trials:
        asked = [study.ask() for _ in range(min(batch, trials - len(clean)))]
        batch_clean = [problem.fn(_optuna_params(t, problem.space)) for t in asked]
        for t, v in zip(asked, batch_clean, strict=True):
            observed.append(_observe(problem, rng, v))
            clean.append(v)
            study.tell(t, observed[-1])
    # Optuna recommends its best observed trial (study.best_trial).
    rec = {c: _best_observed(observed, clean, c) for c in CHECKPOINTS if c <= trials}
    return clean, rec


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
        Method("optuna_random", "optuna", "random"),
        Method("optuna_qmc", "optuna", "qmc"),
        Method("optuna_tpe", "optuna", "tpe"),
        Method("optuna_gp", "optuna", "gp"),
    ]


Result = tuple[str, str, int, list[float], dict[int, float], float]


def _job(args: tuple[str, Method, int, int, int]) -> Result:
    problem_name, method, seed, trials, batch = args
    problem = PROBLEM_BY_NAME[problem_name]
    t0 = time.perf_counter()
    if method.kind == "caviar":
        values, rec = run_caviar(problem, method.spec, seed, trials, batch)
    else:
        values, rec = run_optuna(problem, method.spec, seed, trials, batch)
    out = (problem_name, method.name, seed, values, rec, time.perf_counter() - t0)
    if PARTIAL:  # every finished run is kept, so a long run can be summarised part-way
        with open(PARTIAL, "a") as f:
            f.write(json.dumps(out) + "\n")
    return out


PARTIAL = os.environ.get("CAVIAR_BENCH_PARTIAL", "")


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


BASELINES = {"caviar_random", "optuna_random", "optuna_qmc", "optuna_tpe", "optuna_gp"}


def best_so_far(values: list[float], optimum: float) -> np.ndarray:
    return np.maximum(np.minimum.accumulate(np.array(values)) - optimum, 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="5 seeds instead of 30")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, first-seed+1, …")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--problems", default=",".join(p.name for p in PROBLEMS))
    ap.add_argument("--methods", default=None, help="comma-separated subset of the method names")
    ap.add_argument("--c2f", default="{}", help="JSON overrides of the coarse_to_fine options")
    ap.add_argument("--variant", action="append", default=[], help="extra c2f variant NAME=JSON")
    ap.add_argument("--no-cost", action="store_true")
    ap.add_argument("--gp-seeds", type=int, default=10, help="seeds for Optuna's GPSampler")
    ap.add_argument(
        "--real-seeds", type=int, default=None, help="seeds for the training objective (all)"
    )
    ap.add_argument("--resume", default=None, help="summarise the runs kept in this file")
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

    def n_seeds(p: Problem, m: Method) -> int:
        n = min(seeds, args.real_seeds or seeds) if p.name in REAL else seeds
        return min(n, args.gp_seeds) if m.spec == "gp" else n

    jobs = [
        (p.name, m, s, args.trials, args.batch)
        for p in problems
        for m in methods
        for s in range(args.first_seed, args.first_seed + n_seeds(p, m))
    ]
    jobs.sort(key=lambda j: (j[1].spec == "gp", j[2]))  # low seeds first, the slow GP last
    t0 = time.perf_counter()
    if args.resume:
        results = [tuple(json.loads(line)) for line in Path(args.resume).read_text().splitlines()]
        results = [
            (r[0], r[1], r[2], r[3], {int(k): v for k, v in r[4].items()}, r[5]) for r in results
        ]
    elif args.processes > 1:
        with multiprocessing.get_context("fork").Pool(args.processes) as pool:
            results = pool.map(_job, jobs, chunksize=1)
    else:
        results = [_job(j) for j in jobs]
    wall = time.perf_counter() - t0
    present = {(r[0], r[1]) for r in results}
    methods = [m for m in methods if any((p.name, m.name) in present for p in problems)]
    names = [m.name for m in methods]

    optimum = {
        p.name: p.optimum
        if not math.isnan(p.optimum)
        else min(min(r[3]) for r in results if r[0] == p.name)
        for p in problems
    }
    curves: dict[tuple[str, str], np.ndarray] = {}
    regret: dict[tuple[str, str], dict[int, float]] = {}
    runs_of: dict[tuple[str, str], int] = {}
    seconds: dict[str, list[float]] = {}
    for p in problems:
        for m in methods:
            runs = [r for r in results if r[0] == p.name and r[1] == m.name]
            runs_of[p.name, m.name] = len(runs)
            if not runs:
                continue
            curves[p.name, m.name] = np.array([best_so_far(r[3], optimum[p.name]) for r in runs])
            regret[p.name, m.name] = {
                c: float(np.median([max(r[4][c] - optimum[p.name], 0.0) for r in runs]))
                for c in CHECKPOINTS
                if c <= args.trials
            }
            seconds.setdefault(m.name, []).extend(r[5] for r in runs)

    checkpoints = [c for c in CHECKPOINTS if c <= args.trials]
    last = checkpoints[-1]
    print(
        f"\n{seeds} seeds x {args.trials} trials, batches of {args.batch} (optuna_gp "
        f"{min(seeds, args.gp_seeds)} seeds; {', '.join(sorted(REAL))} "
        f"{min(seeds, args.real_seeds or seeds)} seeds)."
        "\nMedian regret of the recommended configuration, judged on the noiseless value:"
        " the best observed trial; coarse_to_fine on noisy problems: its recommended trial."
    )
    for p in problems:
        print(f"\n{p.name} ({len(p.space)} params, noise {p.noise:g})")
        print(f"  {'method':<16}{'runs':>6}" + "".join(f"{'@' + str(c):>12}" for c in checkpoints))
        for name in names:
            if (p.name, name) in regret:
                row = regret[p.name, name]
                print(
                    f"  {name:<16}{runs_of[p.name, name]:>6}"
                    + "".join(f"{row[c]:>12.3g}" for c in checkpoints)
                )

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else (0.0 if a == 0 else math.inf)

    c2f_names = [n for n in names if n.startswith("caviar_c2f") or n not in BASELINES]
    print(f"\nratios of median regret at {last} trials (coarse_to_fine / other)")
    for c2f in c2f_names:
        wins = {"optuna_gp": 0, "optuna_tpe": 0, "optuna_random": 0}
        print(f"\n  {c2f}")
        print(f"  {'problem':<20}" + "".join(f"{k:>15}" for k in wins))
        for p in problems:
            cells = []
            for k in wins:
                if (p.name, k) in regret and (p.name, c2f) in regret:
                    q = ratio(regret[p.name, c2f][last], regret[p.name, k][last])
                    wins[k] += q <= (0.5 if k == "optuna_random" else 1.0)
                    cells.append(f"{q:>15.3g}")
                else:
                    cells.append(f"{'-':>15}")
            print(f"  {p.name:<20}" + "".join(cells))
        n = len(problems)
        print(
            f"  goals: <=1x gp on {wins['optuna_gp']}/{n} (need {math.ceil(2 * n / 3)}), "
            f"<=1x tpe on {wins['optuna_tpe']}/{n} (need {n - 1}), "
            f"<=0.5x random on {wins['optuna_random']}/{n} (need {n - 1})"
        )

    print(f"\nscore: sum over the problems of the mean log10 regret at {last} trials (± SE)")
    for name in names:
        logs = [
            np.log10(np.maximum([r[4][last] - optimum[p.name] for r in runs], 1e-12))
            for p in problems
            if (runs := [r for r in results if r[0] == p.name and r[1] == name])
        ]
        total = sum(float(v.mean()) for v in logs)
        se = math.sqrt(sum(float(v.var(ddof=1)) / len(v) for v in logs if len(v) > 1))
        print(f"  {name:<16}{total:>8.2f} ± {se:.2f} ({len(logs)} problems)")

    print("\nseconds per run (mean, one process each):")
    for name in names:
        print(f"  {name:<16}{np.mean(seconds[name]):>8.2f}")
    print(f"wall time {wall:.0f} s with {args.processes} processes")

    if not args.no_cost:
        cost = suggestion_cost()
        print("\nsuggestion cost at 10,000 finished trials (coarse_to_fine, hartmann6), ms/trial:")
        print("  " + ", ".join(f"{k} {v:.1f}" for k, v in cost.items()))

    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps([list(r) for r in results]))
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
            if (p.name, name) not in curves:
                continue
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
