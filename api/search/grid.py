"""Grid search, offered only to show why Caviar does not do it.

A grid of k points per hyperparameter spends k^d trials to try each hyperparameter at only k
values; random search tries every hyperparameter at as many values as there are trials. When one
hyperparameter matters much more than the others (the learning rate, usually), the grid wastes
most of its budget re-testing the same few values of it. ``distinct_values`` puts numbers on this
for the docs and the dashboard.

The grid is evenly spaced on each parameter's own scale (log, reverse_log, linear), endpoints
included; integers keep their distinct values; categoricals use every choice. Trials walk the
grid in a seeded pseudo-random order (so a partial grid is spread out) and start over when it is
exhausted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from api.search.base import BaseStrategy, SearchState, Suggestion
from api.search.transforms import Param, _int_edges, from_unit
from caviar.space import CategoricalParam, IntParam


def grid_axes(space: Mapping[str, Param], points_per_param: int) -> dict[str, list[Any]]:
    """The values each hyperparameter takes on the grid."""
    axes: dict[str, list[Any]] = {}
    for name, p in space.items():
        if isinstance(p, CategoricalParam):
            axes[name] = list(p.choices)
            continue
        values = [from_unit(p, i / (points_per_param - 1)) for i in range(points_per_param)]
        if isinstance(p, IntParam):
            values = sorted(set(values))
        else:  # 0.0010000000000000002 → 0.001
            values = [min(max(float(f"{v:.12g}"), p.low), p.high) for v in values]
        axes[name] = values
    return axes


def _order(total: int, seed: int, cycle: int) -> tuple[int, int]:
    """An affine bijection i → (a·i + b) mod total, seeded: a walk that covers the whole grid."""
    h = (seed * 1_000_003 + cycle * 7919 + 12345) % (2**61 - 1)
    a = 1 + h % max(total - 1, 1)
    while math.gcd(a, total) != 1:
        a += 1
    return a, (h // 7) % total


class GridStrategy(BaseStrategy):
    """Trial n takes grid point n (in the seeded order); the grid restarts after every cell."""

    needs_history = False

    def __init__(self, points_per_param: int = 5) -> None:
        self.points_per_param = points_per_param

    def point(self, space: Mapping[str, Param], seed: int, number: int) -> dict[str, Any]:
        return _point(grid_axes(space, self.points_per_param), seed, number)

    def suggest(self, state: SearchState, numbers: list[int]) -> list[Suggestion]:
        assert state.regions, "a study always has its stage-0 region"
        region = state.regions[0]
        axes = grid_axes(state.space, self.points_per_param)
        return [Suggestion(n, _point(axes, state.seed, n), region) for n in numbers]


def _point(axes: Mapping[str, list[Any]], seed: int, number: int) -> dict[str, Any]:
    total = math.prod(len(v) for v in axes.values())
    a, b = _order(total, seed, number // total)
    index = (a * (number % total) + b) % total
    params: dict[str, Any] = {}
    for name, values in axes.items():
        index, digit = divmod(index, len(values))
        params[name] = values[digit]
    return params


def distinct_values(
    space: Mapping[str, Param], n_trials: int, points_per_param: int = 5, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Per hyperparameter, how many distinct values ``n_trials`` trials try: with the grid (exact,
    for its seeded order) and with random search (expected)."""
    axes = grid_axes(space, points_per_param)
    seen: dict[str, set[Any]] = {name: set() for name in space}
    for n in range(min(n_trials, 100_000)):
        for name, v in _point(axes, seed, n).items():
            seen[name].add(v)
    out: dict[str, dict[str, float]] = {}
    for name, p in space.items():
        if isinstance(p, CategoricalParam):
            probs = np.full(len(p.choices), 1.0 / len(p.choices))
        elif isinstance(p, IntParam):
            expected = expected_distinct_ints(p, n_trials)
            out[name] = {"grid": len(seen[name]), "random": round(expected, 1)}
            continue
        else:
            probs = None
        expected = (
            float(n_trials) if probs is None else float(np.sum(1.0 - (1.0 - probs) ** n_trials))
        )
        out[name] = {"grid": len(seen[name]), "random": round(expected, 1)}
    return out


EXACT_INTS = 100_000


def expected_distinct_ints(p: IntParam, n_trials: int) -> float:
    """Expected distinct integers among ``n_trials`` uniform draws on ``p``'s scale.

    Integer k is drawn with probability q_k, its cell's share of the unit interval; the answer is
    Σ 1 − (1 − q_k)^n. Ranges up to ``EXACT_INTS`` integers are summed one by one; longer ones in
    blocks of integers whose q_k are within 0.1% of each other (geometrically growing blocks),
    so the work is bounded whatever the range (a range of 10^12 costs what 10^5 does).
    """
    lo, hi = _int_edges(p)
    count = p.high - p.low + 1
    if count <= EXACT_INTS:
        starts = np.arange(count, dtype=np.float64)
    else:
        head = np.arange(EXACT_INTS, dtype=np.float64)
        tail = np.geomspace(EXACT_INTS, count, 20_000)
        starts = np.unique(np.concatenate([head, np.floor(tail)]))
        starts = starts[starts < count]
    ends = np.append(starts[1:], float(count))  # block i holds integers starts[i] .. ends[i] - 1
    sizes = ends - starts
    first = p.low + starts - 0.5  # the left edge of the block's first cell
    last = p.low + ends - 0.5  # the right edge of its last cell
    if p.scale == "log":
        floor = math.exp(lo)
        share = (np.log(np.maximum(last, floor)) - np.log(np.maximum(first, floor))) / (hi - lo)
    else:
        share = (last - first) / (hi - lo)
    q = np.clip(share / sizes, 0.0, 1.0)
    # 1 - (1 - q)^n without cancellation when q is tiny.
    hit = -np.expm1(n_trials * np.log1p(-np.minimum(q, 1 - 1e-16)))
    return float(np.sum(sizes * hit))
