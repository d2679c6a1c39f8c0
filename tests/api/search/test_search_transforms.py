"""Real ↔ unit maps, for every scale, integers and categoricals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from api.search.encoding import SpaceEncoding
from api.search.transforms import from_unit, to_unit
from caviar.space import CategoricalParam, FloatParam, IntParam

FLOATS = [
    FloatParam(type="float", low=-3.0, high=7.0, scale="linear"),
    FloatParam(type="float", low=1e-5, high=1.0, scale="log"),
    FloatParam(type="float", low=0.9, high=0.999, scale="reverse_log"),
    FloatParam(type="float", low=-1.0, high=0.5, scale="reverse_log"),
]


@pytest.mark.parametrize("p", FLOATS, ids=lambda p: p.scale)
def test_float_round_trip(p: FloatParam) -> None:
    for u in np.linspace(0.0, 1.0, 101):
        x = from_unit(p, float(u))
        assert p.low <= x <= p.high
        assert to_unit(p, x) == pytest.approx(u, abs=1e-9)
    assert from_unit(p, 0.0) == pytest.approx(p.low)
    assert from_unit(p, 1.0) == pytest.approx(p.high)


def test_scales_are_uniform_on_their_own_scale() -> None:
    lr = FloatParam(type="float", low=1e-4, high=1.0, scale="log")
    assert from_unit(lr, 0.25) == pytest.approx(1e-3)
    beta = FloatParam(type="float", low=0.9, high=0.999, scale="reverse_log")
    assert from_unit(beta, 0.5) == pytest.approx(0.99)
    # u grows with β; the top half of u covers β in [0.99, 0.999]: the sensitive end.
    assert from_unit(beta, 0.9) > from_unit(beta, 0.1)


@pytest.mark.parametrize("scale", ["linear", "log"])
def test_int_round_trip(scale: str) -> None:
    p = IntParam(type="int", low=1, high=300, scale=scale)  # type: ignore[arg-type]
    for v in range(p.low, p.high + 1):
        assert from_unit(p, to_unit(p, v)) == v
    assert from_unit(p, 0.0) == p.low
    assert from_unit(p, 1.0) == p.high
    hits = {from_unit(p, float(u)) for u in np.linspace(0, 1, 20001)}
    assert min(hits) == p.low and max(hits) == p.high


def test_int_snap_matches_round_trip() -> None:
    space = {
        "n": IntParam(type="int", low=8, high=1024, scale="log"),
        "k": IntParam(type="int", low=0, high=9),
    }
    enc = SpaceEncoding.of(space)
    u = np.random.default_rng(0).random((200, 2))
    snapped = enc.snap(u.copy())
    for row, srow in zip(u, snapped, strict=True):
        for j, p in enumerate(space.values()):
            v = from_unit(p, float(row[j]))
            assert from_unit(p, float(srow[j])) == v
            assert srow[j] == pytest.approx(to_unit(p, v))


def test_categorical_round_trip() -> None:
    p = CategoricalParam(type="categorical", choices=["sgd", "momentum", 3, True])
    for c in p.choices:
        assert from_unit(p, to_unit(p, c)) == c
    cells = [from_unit(p, float(u)) for u in np.linspace(0, 1, 400)]
    assert all(cells.count(c) == pytest.approx(100, abs=2) for c in p.choices)


def test_encoding_round_trip() -> None:
    space = {
        "lr": FloatParam(type="float", low=1e-4, high=1.0, scale="log"),
        "units": IntParam(type="int", low=16, high=256, scale="log"),
        "opt": CategoricalParam(type="categorical", choices=["a", "b", "c"]),
    }
    enc = SpaceEncoding.of(space)
    params = {"lr": 0.01, "units": 64, "opt": "c"}
    u, c = enc.encode([{n: to_unit(p, params[n]) for n, p in space.items()}])
    back = enc.params(u[0], c[0])
    assert back["units"] == 64 and back["opt"] == "c" and math.isclose(back["lr"], 0.01)
    assert list(back) == list(space)


def test_to_unit_takes_a_rounded_value_past_the_bounds_as_the_bound() -> None:
    """Plot data rounds values to 6 digits: 0.9999999999999999 becomes 1.0, past a reverse_log
    high, where log(1 - x) is undefined."""
    rlog = FloatParam(type="float", low=0.9, high=0.9999999999999999, scale="reverse_log")
    assert to_unit(rlog, 1.0) == 1.0
    log = FloatParam(type="float", low=1e-12, high=1.0, scale="log")
    assert to_unit(log, 0.0) == 0.0
    ints = IntParam(type="int", low=1, high=8, scale="log")
    assert to_unit(ints, 0) == to_unit(ints, 1)
