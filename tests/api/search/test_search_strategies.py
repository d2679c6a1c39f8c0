"""Strategies through the service's contract: SearchState in, Suggestions (and regions) out."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy.stats import norm

from api.search.base import Observation, PendingTrial, RegionView, SearchState, whole_space
from api.search.coarse_to_fine import CoarseToFineStrategy
from api.search.gaussian_process import GaussianProcess, log_expected_improvement
from api.search.grid import (
    GridStrategy,
    distinct_values,
    expected_distinct_ints,
    grid_axes,
)
from api.search.random_search import RandomStrategy
from api.search.regions import contains
from api.search.transforms import _int_edges, from_unit, to_unit
from caviar.space import CategoricalParam, FloatParam, IntParam

SPACE = {
    "lr": FloatParam(type="float", low=1e-4, high=1.0, scale="log"),
    "beta": FloatParam(type="float", low=0.9, high=0.999, scale="reverse_log"),
    "units": IntParam(type="int", low=16, high=256, scale="log"),
    "opt": CategoricalParam(type="categorical", choices=["sgd", "momentum", "adam"]),
}


def loss(p: dict) -> float:
    return (
        (math.log10(p["lr"]) + 2.5) ** 2
        + (math.log10(1 - p["beta"]) + 2) ** 2
        + 0.1 * (math.log2(p["units"]) - 6) ** 2
        + (0.0 if p["opt"] == "adam" else 0.5)
    )


def drive(strategy, trials: int, batch: int, seed: int = 3):
    """Runs a study the way the service does; returns (observations, regions, calls)."""
    regions: list[RegionView] = [whole_space(SPACE)]
    regions[0].id = 0
    obs: list[Observation] = []
    calls = []
    for start in range(0, trials, batch):
        numbers = list(range(start, min(start + batch, trials)))
        state = SearchState(SPACE, seed, list(obs), 0, list(regions))
        out = strategy.suggest(state, numbers)
        assert [s.number for s in out] == numbers
        new = {id(s.region) for s in out if s.region.id is None}
        assert len(new) <= 1, "at most one new region per call"
        calls.append(out)
        for s in out:
            if s.region.id is None:
                s.region.id = len(regions)
                regions.append(s.region)
        for s in out:
            unit = {n: to_unit(p, s.params[n]) for n, p in SPACE.items()}
            assert contains(s.region, SPACE, unit), "every suggestion lies inside its region"
            obs.append(
                Observation(s.number, s.params, unit, loss(s.params), s.region.id, s.region.stage)
            )
    return obs, regions, calls


def test_the_random_strategy_depends_only_on_seed_and_number() -> None:
    a, _, _ = drive(RandomStrategy(), 12, 4)
    b, _, _ = drive(RandomStrategy(), 12, 3)
    assert [o.params for o in a] == [o.params for o in b]


@pytest.mark.parametrize("sampler", ["random", "sobol", "gp"])
def test_coarse_to_fine_stages_nested_and_reproducible(sampler: str) -> None:
    def make() -> CoarseToFineStrategy:
        return CoarseToFineStrategy(
            stage_trials=6, top_fraction=0.3, margin=0.1, explore_fraction=0.2, sampler=sampler
        )

    obs, regions, calls = drive(make(), 40, 5)
    again, _, _ = drive(make(), 40, 5)
    assert [o.params for o in obs] == [o.params for o in again]
    assert len(regions) >= 4
    assert [r.stage for r in regions] == list(range(len(regions)))
    by_id = {r.id: r for r in regions}
    for r in regions[1:]:
        parent = by_id[r.parent_id]
        assert r.stage > parent.stage
        for name, (lo, hi) in r.unit_bounds.items():
            assert (
                parent.unit_bounds[name][0] - 1e-12
                <= lo
                < hi
                <= parent.unit_bounds[name][1] + 1e-12
            )
        assert set(r.choices["opt"]) <= set(parent.choices["opt"])
        assert r.defining_numbers and r.details["top_trials"] == r.defining_numbers
        assert r.details["opened_at_trial"] >= 6
    explorers = [o for o in obs if o.region_id == 0 and o.number >= 6]
    assert explorers, "a share of the trials keeps exploring the whole space"
    # Trials suggested in one call with a new region share that region's object.
    for out in calls:
        fresh = [s.region for s in out if s.region.stage > 0]
        assert len({id(r) for r in fresh}) <= 1


def test_coarse_to_fine_beats_random_on_a_smooth_loss() -> None:
    c2f, _, _ = drive(CoarseToFineStrategy(), 48, 8)
    rnd, _, _ = drive(RandomStrategy(), 48, 8)
    assert min(o.value for o in c2f) < min(o.value for o in rnd)


def _state(
    obs: list[Observation], regions: list[RegionView], in_flight: int = 0, pending=()
) -> SearchState:
    return SearchState(SPACE, 1, obs, in_flight, regions, list(pending))


def test_no_stage_barrier_with_trials_in_flight() -> None:
    obs, regions, _ = drive(RandomStrategy(), 10, 5)
    strategy = CoarseToFineStrategy(stage_trials=10, explore_fraction=0.0, sampler="sobol")
    out = strategy.suggest(_state(obs, regions, in_flight=7), [17])
    assert out[0].region.id is None and out[0].region.stage == 1  # zooms at once, 7 still running
    # Trials of the old stage that finish later count for it; the new region keeps being used.
    regions.append(out[0].region)
    out[0].region.id = 1
    late = Observation(11, obs[0].params, obs[0].unit, 5.0, 0, 0)
    out2 = strategy.suggest(_state([*obs, late], regions, in_flight=7), [18])
    assert out2[0].region is regions[1]


def test_same_state_same_suggestions_whatever_the_observation_order() -> None:
    obs, regions, _ = drive(RandomStrategy(), 20, 5)
    strategy = CoarseToFineStrategy(stage_trials=100)
    a = strategy.suggest(_state(obs, regions), [20, 21])
    b = strategy.suggest(_state(list(reversed(obs)), regions), [20, 21])
    assert [s.params for s in a] == [s.params for s in b]


def test_pending_trials_push_new_suggestions_away() -> None:
    """A trial still running where the next suggestion would go (the same number, so the same
    candidates) makes the model pick another point: its fantasy leaves no improvement there."""
    obs, regions, _ = drive(RandomStrategy(), 20, 5)
    strategy = CoarseToFineStrategy(stage_trials=100)

    def dist(a: dict, b: dict) -> float:
        return sum(
            abs(to_unit(SPACE[n], a[n]) - to_unit(SPACE[n], b[n])) for n in ("lr", "beta", "units")
        )

    for number in range(20, 24):
        alone = strategy.suggest(_state(obs, regions), [number])[0]
        unit = {n: to_unit(p, alone.params[n]) for n, p in SPACE.items()}
        pending = [PendingTrial(number - 1, unit, 0, 0)]
        steered = strategy.suggest(_state(obs, regions, 1, pending), [number])[0]
        assert dist(steered.params, alone.params) > 1e-3, number


def test_gaussian_process_interpolates_and_ei_is_exact() -> None:
    rng = np.random.default_rng(0)
    u = rng.random((30, 2))
    c = rng.integers(0, 2, size=(30, 1))
    y = np.sin(6 * u[:, 0]) + u[:, 1] ** 2 + 0.5 * c[:, 0]
    y = (y - y.mean()) / y.std()
    gp = GaussianProcess.fit(u, c, y)
    mean, std = gp.posterior(u, c)
    assert np.max(np.abs(mean - y)) < 0.05
    _, far_std = gp.posterior(np.array([[0.5, 0.5]]), np.array([[0]]))
    assert far_std[0] > std.mean()
    m, s, best = np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 0.3]), 0.2
    z = (best - m) / s
    exact = (best - m) * norm.cdf(z) + s * norm.pdf(z)
    assert np.allclose(np.exp(log_expected_improvement(m, s, best)), exact)
    assert np.isfinite(log_expected_improvement(np.array([50.0]), np.array([1e-3]), 0.0)).all()


def test_grid_walks_every_cell_once_per_cycle() -> None:
    axes = grid_axes(SPACE, 3)
    assert axes["lr"] == [1e-4, 1e-2, 1.0] and axes["opt"] == ["sgd", "momentum", "adam"]
    total = math.prod(len(v) for v in axes.values())
    obs, _, _ = drive(GridStrategy(points_per_param=3), 2 * total, 9)
    keys = [tuple(o.params.values()) for o in obs]
    assert len(set(keys[:total])) == total and set(keys[total:]) == set(keys[:total])


def test_grid_tries_few_values_random_tries_many() -> None:
    counts = distinct_values(SPACE, 81, points_per_param=3)
    assert counts["lr"] == {"grid": 3, "random": 81}
    assert counts["opt"]["grid"] == 3 and counts["opt"]["random"] == pytest.approx(3.0)
    assert counts["units"]["grid"] == 3 and counts["units"]["random"] > 60


@pytest.mark.parametrize("scale", ["linear", "log"])
@pytest.mark.parametrize("high", [1000, 300_000])
def test_expected_distinct_integers_match_the_sum_over_every_integer(scale: str, high: int) -> None:
    """Long ranges are summed in blocks; the answer matches the sum over every integer."""
    p = IntParam(type="int", low=3, high=high, scale=scale)  # type: ignore[arg-type]
    lo, hi = _int_edges(p)
    edges = np.arange(p.low, p.high + 2) - 0.5
    xs = np.log(np.maximum(edges, math.exp(lo))) if scale == "log" else edges
    q = np.diff((xs - lo) / (hi - lo))
    for n in (10, 1000, 100_000):
        exact = float(np.sum(1.0 - (1.0 - q) ** n))
        assert expected_distinct_ints(p, n) == pytest.approx(exact, rel=1e-3)


def test_expected_distinct_integers_of_a_huge_range_cost_little() -> None:
    p = IntParam(type="int", low=0, high=10**12)
    started = time.perf_counter()
    assert distinct_values({"n": p}, 1000)["n"]["random"] == pytest.approx(1000, abs=1)
    assert time.perf_counter() - started < 5


def test_a_best_trial_outside_the_region_backs_the_zoom_up() -> None:
    obs, regions, _ = drive(RandomStrategy(), 16, 8)
    strategy = CoarseToFineStrategy(stage_trials=16, explore_fraction=0.0, sampler="sobol")
    child = strategy.suggest(_state(obs, regions), [16])[0].region
    child.id = 1
    regions.append(child)
    assert strategy.suggest(_state(obs, regions), [17])[0].region is child
    # An exploring trial far outside the child region beats everything found so far.
    outside = {n: (0.0 if child.unit_bounds.get(n, (0, 1))[0] > 0.1 else 1.0) for n in SPACE}
    outside["opt"] = 0.5
    params = {n: from_unit(p, outside[n]) for n, p in SPACE.items()}
    unit = {n: to_unit(p, params[n]) for n, p in SPACE.items()}
    assert not contains(child, SPACE, unit)
    star = Observation(17, params, unit, -1.0, 0, 0)
    out = strategy.suggest(_state([*obs, star], regions), [18])[0]
    region = out.region
    assert region.id is None and region.parent_id == 0 and region.stage == 2
    assert region.details["backed_up"] == {
        "from_region": 1,
        "to_region": 0,
        "best_trial": 17,
        "best_value": -1.0,
    }
    assert contains(region, SPACE, unit) and 17 in region.defining_numbers


@pytest.mark.parametrize(
    "space",
    [
        {"opt": CategoricalParam(type="categorical", choices=["a", "b", "c"])},
        {
            "k": IntParam(type="int", low=1, high=3),
            "flag": CategoricalParam(type="categorical", choices=[True, False]),
        },
        {"x": FloatParam(type="float", low=0.0, high=1.0)},
    ],
    ids=["categorical", "tiny-discrete", "one-float"],
)
def test_degenerate_spaces_and_flat_values(space: dict) -> None:
    strategy = CoarseToFineStrategy(stage_trials=4)
    regions = [whole_space(space)]
    regions[0].id = 0
    obs: list[Observation] = []
    for start in range(0, 24, 4):
        numbers = list(range(start, start + 4))
        for s in strategy.suggest(SearchState(space, 0, list(obs), 0, list(regions)), numbers):
            if s.region.id is None:
                s.region.id = len(regions)
                regions.append(s.region)
            unit = {n: to_unit(p, s.params[n]) for n, p in space.items()}
            assert contains(s.region, space, unit)
            value = 1.0 if s.number % 5 else math.nan  # flat values, some failed
            obs.append(Observation(s.number, s.params, unit, value, s.region.id, s.region.stage))


def test_a_stalled_region_restarts_in_another_basin() -> None:
    """Two basins; the zoom went to the worse one. With restart_after=1 the next zoom leaves
    the stalled region for the best trials outside it; with 0 it zooms on in place."""
    space = {"x": FloatParam(type="float", low=0.0, high=1.0)}
    whole = whole_space(space)
    whole.id = 0
    stalled = RegionView(1, {"x": (0.0, 0.3)}, parent_id=0, id=1, details={"opened_at_trial": 20})
    obs = [Observation(i, {"x": 0.1}, {"x": 0.1}, 0.5, 0, 0) for i in range(10)]  # basin A
    obs += [Observation(10 + i, {"x": 0.8}, {"x": 0.8}, 0.6, 0, 0) for i in range(10)]  # B
    # The region's own trials (opened at 20) are no better than 0.5: a stall.
    obs += [Observation(20 + i, {"x": 0.12}, {"x": 0.12}, 0.55, 1, 1) for i in range(16)]
    state = SearchState(space, 1, obs, 0, [whole, stalled])
    [kept] = CoarseToFineStrategy(restart_after=0, explore_fraction=0.0).suggest(state, [36])
    [moved] = CoarseToFineStrategy(restart_after=1, explore_fraction=0.0).suggest(state, [36])
    assert kept.region.parent_id == 1 and kept.region.unit_bounds["x"][1] <= 0.3
    assert "stalls" not in kept.region.details  # the rule is off: nothing recorded
    assert moved.region.parent_id == 0 and moved.region.details["restarted_from"] == 1
    lo, hi = moved.region.unit_bounds["x"]
    assert lo > 0.3 and lo <= 0.8 <= hi  # around basin B, outside the stalled region
    assert moved.region.details["stalls"] == 0
    # An improving region is no stall: it zooms on in place even with restart_after=1.
    better = [
        *obs[:20],
        *(Observation(20 + i, {"x": 0.12}, {"x": 0.12}, 0.4, 1, 1) for i in range(16)),
    ]
    [on] = CoarseToFineStrategy(restart_after=1, explore_fraction=0.0).suggest(
        SearchState(space, 1, better, 0, [whole, stalled]), [36]
    )
    assert on.region.parent_id == 1 and "restarted_from" not in on.region.details
