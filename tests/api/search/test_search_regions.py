"""Region derivation: nested, never empty, categoricals narrowed, integers kept whole."""

from __future__ import annotations

import numpy as np
import pytest

from api.search.base import Observation, RegionView, whole_space
from api.search.regions import contains, derive_region, real_bounds
from api.search.transforms import from_unit, to_unit
from caviar.space import CategoricalParam, FloatParam, IntParam

SPACE = {
    "lr": FloatParam(type="float", low=1e-4, high=1.0, scale="log"),
    "beta": FloatParam(type="float", low=0.9, high=0.999, scale="reverse_log"),
    "units": IntParam(type="int", low=16, high=256, scale="log"),
    "layers": IntParam(type="int", low=1, high=4),
    "opt": CategoricalParam(type="categorical", choices=["sgd", "momentum", "adam"]),
}


def _obs(number: int, params: dict, value: float) -> Observation:
    unit = {n: to_unit(p, params[n]) for n, p in SPACE.items()}
    return Observation(number, params, unit, value, 0, 0)


def _random_pool(region: RegionView, n: int, seed: int, value_of=None) -> list[Observation]:
    rng = np.random.default_rng(seed)
    pool = []
    for i in range(n):
        params = {}
        for name, p in SPACE.items():
            if isinstance(p, CategoricalParam):
                params[name] = region.choices[name][rng.integers(len(region.choices[name]))]
            else:
                lo, hi = region.unit_bounds[name]
                params[name] = from_unit(p, lo + rng.random() * (hi - lo))
        obs = _obs(i, params, 0.0)
        assert contains(region, SPACE, obs.unit)
        value = value_of(params) if value_of else float(rng.random())
        pool.append(Observation(i, params, obs.unit, value, 0, 0))
    return pool


def _nested(child: RegionView, parent: RegionView) -> bool:
    for name, (lo, hi) in child.unit_bounds.items():
        p_lo, p_hi = parent.unit_bounds[name]
        if not (p_lo - 1e-12 <= lo < hi <= p_hi + 1e-12):
            return False
    return all(
        set(child.choices[n]) <= set(parent.choices[n]) and child.choices[n] for n in child.choices
    )


@pytest.mark.parametrize("seed", range(20))
def test_chain_of_regions_is_nested_and_never_empty(seed: int) -> None:
    rng = np.random.default_rng(seed)
    region = whole_space(SPACE)
    region.id = 0
    for stage in range(1, 8):
        pool = _random_pool(region, int(rng.integers(1, 30)), seed * 100 + stage)
        child = derive_region(
            region,
            SPACE,
            pool,
            top_fraction=float(rng.uniform(0.05, 1)),
            margin=float(rng.uniform(0, 0.5)),
            min_width=float(rng.uniform(0.001, 0.2)),
        )
        assert child.stage == stage and child.parent_id == region.id
        assert _nested(child, region)
        # The defining trials are inside the child; its real bounds hold at least one value each.
        for o in pool:
            if o.number in child.defining_numbers:
                assert contains(child, SPACE, o.unit)
        for b in real_bounds(child, SPACE).values():
            assert b if isinstance(b, list) else b[0] <= b[1]
        child.id = stage
        region = child


def test_region_surrounds_the_best_trials() -> None:
    def loss(p: dict) -> float:
        return (np.log10(p["lr"]) + 2) ** 2 + (0.0 if p["opt"] == "adam" else 1.0)

    root = whole_space(SPACE)
    pool = _random_pool(root, 64, 1, loss)
    child = derive_region(root, SPACE, pool, top_fraction=0.25, margin=0.1, min_width=0.02)
    assert len(child.defining_numbers) == 16
    top = sorted(pool, key=lambda o: o.value)[:16]
    assert child.defining_numbers == [o.number for o in top]
    assert child.details["threshold"] == top[-1].value
    lo, hi = child.unit_bounds["lr"]
    assert lo == pytest.approx(max(min(o.unit["lr"] for o in top) - 0.1, 0.0))
    assert hi == pytest.approx(min(max(o.unit["lr"] for o in top) + 0.1, 1.0))
    real_lo, real_hi = real_bounds(child, SPACE)["lr"]
    assert real_lo < 1e-2 < real_hi


def test_categorical_narrows_to_the_choices_of_the_top_trials() -> None:
    root = whole_space(SPACE)
    pool = _random_pool(root, 40, 2, lambda p: 0.0 if p["opt"] == "adam" else 1.0 + p["layers"])
    child = derive_region(root, SPACE, pool, top_fraction=0.2, margin=0.1, min_width=0.02)
    assert child.choices["opt"] == ["adam"]
    # The narrowing is relative to the parent: a grandchild can only keep "adam".
    grand = derive_region(
        child,
        SPACE,
        [o for o in pool if contains(child, SPACE, o.unit)],
        top_fraction=1.0,
        margin=0.0,
        min_width=0.02,
    )
    assert grand.choices["opt"] == ["adam"]


def test_integers_keep_whole_cells_and_min_width() -> None:
    root = whole_space(SPACE)
    params = {"lr": 1e-2, "beta": 0.99, "units": 64, "layers": 2, "opt": "sgd"}
    child = derive_region(
        root, SPACE, [_obs(0, params, 1.0)], top_fraction=0.5, margin=0.0, min_width=0.05
    )
    assert real_bounds(child, SPACE)["layers"] == (2, 2)
    lo, hi = child.unit_bounds["lr"]
    assert hi - lo == pytest.approx(0.05)
    u_lo, u_hi = real_bounds(child, SPACE)["units"]
    assert u_lo <= 64 <= u_hi
    # A point drawn anywhere inside maps back to an integer inside.
    for u in np.linspace(*child.unit_bounds["layers"], 11):
        assert from_unit(SPACE["layers"], float(u)) == 2


def test_margin_at_the_parent_edge_shifts_inward() -> None:
    root = whole_space(SPACE)
    params = {"lr": 1.0, "beta": 0.9, "units": 16, "layers": 1, "opt": "sgd"}
    child = derive_region(
        root, SPACE, [_obs(0, params, 1.0)], top_fraction=1.0, margin=0.0, min_width=0.3
    )
    assert child.unit_bounds["lr"] == pytest.approx((0.7, 1.0))
    assert child.unit_bounds["beta"] == pytest.approx((0.0, 0.3))


def test_empty_pool_is_refused() -> None:
    with pytest.raises(ValueError):
        derive_region(whole_space(SPACE), SPACE, [], top_fraction=0.5, margin=0.1, min_width=0.1)


def test_a_pool_given_as_its_best_trials_derives_the_same_region() -> None:
    whole = whole_space(SPACE)
    pool = _random_pool(whole, 200, 9)
    opts = {"top_fraction": 0.25, "margin": 0.1, "min_width": 0.02}
    full = derive_region(whole, SPACE, pool, **opts)
    best = sorted(pool, key=lambda o: (o.value, o.number))[:50]
    part = derive_region(whole, SPACE, best[::-1], pool_size=200, **opts)
    assert part.unit_bounds == full.unit_bounds and part.choices == full.choices
    assert part.details == full.details and part.defining_numbers == full.defining_numbers


def test_a_large_top_is_stored_as_its_best_and_extreme_trials_with_the_same_bounds() -> None:
    from api.search.coarse_to_fine import DEFINING, _defining
    from api.search.encoding import SpaceEncoding

    whole = whole_space(SPACE)
    pool = _random_pool(whole, 2000, 11)
    opts = {"top_fraction": 0.25, "margin": 0.1, "min_width": 0.02}
    full = derive_region(whole, SPACE, pool, **opts)
    ranked = sorted(range(2000), key=lambda i: (pool[i].value, i))[:500]
    u, c = SpaceEncoding.of(SPACE).encode([o.unit for o in pool])
    kept = _defining(np.array(ranked), u, c)
    assert DEFINING < len(kept) < 200 and list(kept[:DEFINING]) == ranked[:DEFINING]
    part = derive_region(whole, SPACE, [pool[i] for i in kept], pool_size=2000, **opts)
    assert part.unit_bounds == full.unit_bounds and part.choices == full.choices
    assert part.details["threshold"] == full.details["threshold"]
    assert part.details["pool_size"] == 2000
