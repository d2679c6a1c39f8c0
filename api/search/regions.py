"""Regions of coarse-to-fine search: how the next region is derived, and what a region contains.

A region holds unit-space bounds per numeric param and the allowed choices per categorical
param. ``derive_region`` is the whole rule, so every region is explainable from its ``details``:

1. the pool is the finished trials inside the parent region;
2. the top ``ceil(top_fraction · len(pool))`` of them (lowest values) define the region;
3. per numeric param, the region spans the top trials, widened on each side by ``margin`` times
   the parent's width, at least ``min_width`` of the whole range wide (integers: at least one
   integer), clipped to the parent (shifted inward when the widening crosses the parent's edge);
4. per categorical param, the region keeps the choices that the top trials use.

The result is nested in its parent and never empty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from api.search.base import Observation, RegionView
from api.search.encoding import int_cell
from api.search.transforms import Param, from_unit, to_unit
from caviar.space import CategoricalParam, IntParam


def contains(region: RegionView, space: Mapping[str, Param], unit: Mapping[str, float]) -> bool:
    """True when a point (unit values of every param) lies inside the region."""
    for name, p in space.items():
        if isinstance(p, CategoricalParam):
            allowed = region.choices.get(name, p.choices)
            k = len(p.choices)
            if p.choices[min(int(unit[name] * k), k - 1)] not in allowed:
                return False
        else:
            lo, hi = region.unit_bounds.get(name, (0.0, 1.0))
            if not lo - 1e-9 <= unit[name] <= hi + 1e-9:
                return False
    return True


def real_bounds(region: RegionView, space: Mapping[str, Param]) -> dict[str, Any]:
    """The region in real units: (low, high) per numeric param, the choices per categorical."""
    out: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, CategoricalParam):
            out[name] = list(region.choices.get(name, p.choices))
        else:
            lo, hi = region.unit_bounds.get(name, (0.0, 1.0))
            if isinstance(p, IntParam):  # the integers whose cell centre lies inside
                a, b = from_unit(p, lo), from_unit(p, hi)
                a += int(to_unit(p, a) < lo - 1e-9 and a < b)
                b -= int(to_unit(p, b) > hi + 1e-9 and b > a)
                out[name] = (a, b)
            else:
                out[name] = (from_unit(p, lo), from_unit(p, hi))
    return out


def derive_region(
    parent: RegionView,
    space: Mapping[str, Param],
    pool: Sequence[Observation],
    *,
    top_fraction: float,
    margin: float,
    min_width: float,
    pool_size: int | None = None,
) -> RegionView:
    """The child of ``parent`` around the best trials of ``pool`` (trials inside ``parent``).

    ``pool_size``, when given, is the size of the whole pool, of which ``pool`` holds at least
    the best ``ceil(top_fraction · pool_size)`` (a caller with many trials ranks them itself)."""
    if not pool:
        raise ValueError("a region is derived from at least one trial")
    ranked = sorted(pool, key=lambda o: (o.value, o.number))
    size = len(ranked) if pool_size is None else pool_size
    k = max(1, math.ceil(top_fraction * size))
    top = ranked[:k]
    bounds: dict[str, tuple[float, float]] = {}
    choices: dict[str, list[Any]] = {}
    for name, p in space.items():
        if isinstance(p, CategoricalParam):
            used = {o.params[name] for o in top}
            parent_choices = parent.choices.get(name, p.choices)
            choices[name] = [ch for ch in parent_choices if ch in used]
            continue
        p_lo, p_hi = parent.unit_bounds.get(name, (0.0, 1.0))
        xs = [o.unit[name] for o in top]
        lo, hi = min(xs), max(xs)
        pad = margin * (p_hi - p_lo)
        lo, hi = lo - pad, hi + pad
        width = min(max(hi - lo, min_width), p_hi - p_lo)
        centre = 0.5 * (lo + hi)
        lo = min(max(centre - 0.5 * width, p_lo), p_hi - width)
        hi = lo + width
        if isinstance(p, IntParam):  # whole integer cells, still inside the parent
            lo = max(int_cell(p, lo)[0], p_lo)
            hi = min(int_cell(p, hi)[1], p_hi)
        bounds[name] = (lo, hi)
    return RegionView(
        stage=parent.stage + 1,
        unit_bounds=bounds,
        choices=choices,
        parent_id=parent.id,
        defining_numbers=[o.number for o in top],
        details={
            "rule": "top trials of the parent, widened by margin x parent width, clipped to it",
            "pool_size": size,
            "top_fraction": top_fraction,
            "margin": margin,
            "min_width": min_width,
            "top_trials": [o.number for o in top],
            "top_values": [o.value for o in top],
            "threshold": top[-1].value,
        },
    )
