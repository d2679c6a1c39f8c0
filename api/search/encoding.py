"""A matrix view of a search space for samplers that work on many points at once.

A point is a pair of rows: ``u`` holds the unit value of every numeric (float or int) param, in
the space's order; ``c`` holds the choice index of every categorical param. Integers sit at the
centre of their unit cell (``snap``), so a point in this view is always a point the trial can get.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from api.search.base import RegionView
from api.search.transforms import Param, _int_edges, from_unit
from caviar.space import CategoricalParam, IntParam


@dataclass(frozen=True)
class RegionBox:
    """A region in the matrix view: numeric bounds and the allowed choice indices."""

    lo: np.ndarray
    hi: np.ndarray
    allowed: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class SpaceEncoding:
    space: Mapping[str, Param]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    n_choices: tuple[int, ...]

    @classmethod
    def of(cls, space: Mapping[str, Param]) -> SpaceEncoding:
        numeric = tuple(n for n, p in space.items() if not isinstance(p, CategoricalParam))
        cats = tuple(n for n, p in space.items() if isinstance(p, CategoricalParam))
        n_choices = tuple(len(space[n].choices) for n in cats)  # type: ignore[union-attr]
        return cls(space, numeric, cats, n_choices)

    def encode(self, units: Sequence[Mapping[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Unit dicts (as in ``Observation.unit``) → (u, c) matrices."""
        u = _columns(units, self.numeric)
        raw = _columns(units, self.categorical)
        k = np.array(self.n_choices, dtype=float)
        c = np.minimum(np.floor(raw * k), k - 1).astype(int) if len(k) else raw.astype(int)
        return self.snap(u), c

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Moves integer columns to the centre of their cell; clips every column to [0, 1]."""
        u = np.clip(u, 0.0, 1.0)
        for j, name in enumerate(self.numeric):
            p = self.space[name]
            if isinstance(p, IntParam):
                u[:, j] = _snap_int(p, u[:, j])
        return u

    def params(self, u: np.ndarray, c: np.ndarray) -> dict[str, Any]:
        """One (u, c) row pair → real params, in the space's order."""
        values: dict[str, Any] = {
            n: from_unit(self.space[n], float(x)) for n, x in zip(self.numeric, u, strict=True)
        }
        for name, i in zip(self.categorical, c, strict=True):
            values[name] = self.space[name].choices[int(i)]  # type: ignore[union-attr]
        return {n: values[n] for n in self.space}

    def box(self, region: RegionView) -> RegionBox:
        lo = np.array([region.unit_bounds.get(n, (0.0, 1.0))[0] for n in self.numeric], dtype=float)
        hi = np.array([region.unit_bounds.get(n, (0.0, 1.0))[1] for n in self.numeric], dtype=float)
        allowed = []
        for name in self.categorical:
            choices = self.space[name].choices  # type: ignore[union-attr]
            chosen = region.choices.get(name, choices)
            allowed.append(np.array([i for i, ch in enumerate(choices) if ch in chosen], dtype=int))
        return RegionBox(lo, hi, tuple(allowed))

    def inside(self, box: RegionBox, u: np.ndarray, c: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Boolean mask of the rows inside the region."""
        ok = np.all((u >= box.lo - tol) & (u <= box.hi + tol), axis=1)
        for j, allowed in enumerate(box.allowed):
            ok &= np.isin(c[:, j], allowed)
        return ok

    def into(self, box: RegionBox, u: np.ndarray) -> np.ndarray:
        """Clips numeric rows into the box, then snaps integers (a point on a cell edge goes to
        the cell inside the box)."""
        eps = np.minimum(1e-9, (box.hi - box.lo) / 4)
        return self.snap(np.clip(u, box.lo + eps, box.hi - eps))

    def uniform(
        self, box: RegionBox, unit: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Maps points of the unit cube (n, len(numeric)) into the box; draws choices uniformly."""
        u = self.into(box, box.lo + unit * (box.hi - box.lo))
        c = np.zeros((len(unit), len(self.categorical)), dtype=int)
        for j, allowed in enumerate(box.allowed):
            c[:, j] = allowed[rng.integers(len(allowed), size=len(unit))]
        return u, c


def _columns(rows: Sequence[Mapping[str, float]], names: tuple[str, ...]) -> np.ndarray:
    if not names:
        return np.zeros((len(rows), 0))
    get = operator.itemgetter(*names)
    if len(names) == 1:
        return np.array([get(r) for r in rows], dtype=float).reshape(len(rows), 1)
    return np.array([get(r) for r in rows], dtype=float).reshape(len(rows), len(names))


def _snap_int(p: IntParam, u: np.ndarray) -> np.ndarray:
    lo, hi = _int_edges(p)
    x = lo + u * (hi - lo)
    if p.scale == "log":
        x = np.exp(x)
    v = np.clip(np.round(x), p.low, p.high)
    xv = np.log(v) if p.scale == "log" else v
    return np.clip((xv - lo) / (hi - lo), 0.0, 1.0)


def int_cell(p: IntParam, u: float) -> tuple[float, float]:
    """The unit interval of the integer cell that contains ``u``."""
    lo, hi = _int_edges(p)
    v = from_unit(p, u)
    a, b = v - 0.5, v + 0.5
    if p.scale == "log":
        a, b = math.log(a) if a > 0 else lo, math.log(b)
    return max((a - lo) / (hi - lo), 0.0), min((b - lo) / (hi - lo), 1.0)
