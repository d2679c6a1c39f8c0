"""Observations as columns, for strategies that work on all finished trials at once.

``ObservationTable`` is a read-only snapshot in trial-number order; row i describes
``rows[i]``. ``GrowingTable`` keeps one up to date as trials finish, so a service that keeps it
between requests never re-reads or re-encodes the trials it already holds: adding k trials costs
O(k) (O(n) copying, in NumPy, when one finishes out of number order), and a snapshot costs O(1).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from api.search.base import Observation
from api.search.encoding import SpaceEncoding

_COLUMNS = ("number", "value", "region", "stage", "pruned", "step")


@dataclass(frozen=True)
class ObservationTable:
    """Columns of the observations; ``region`` and ``step`` are −1 where None."""

    rows: Sequence[Observation]
    number: np.ndarray
    value: np.ndarray
    region: np.ndarray
    stage: np.ndarray
    pruned: np.ndarray
    step: np.ndarray
    u: np.ndarray
    c: np.ndarray

    @classmethod
    def of(cls, enc: SpaceEncoding, observations: Sequence[Observation]) -> ObservationTable:
        rows = sorted(observations, key=lambda o: o.number)
        u, c = enc.encode([o.unit for o in rows])
        return cls(rows, *_columns(rows), u, c)

    def __len__(self) -> int:
        return len(self.rows)

    def where(self, keep: np.ndarray) -> ObservationTable:
        """The rows where ``keep`` is true."""
        idx = np.flatnonzero(keep)
        cols = [getattr(self, n)[idx] for n in (*_COLUMNS, "u", "c")]
        return ObservationTable([self.rows[i] for i in idx], *cols)


def _columns(rows: Sequence[Observation]) -> tuple[np.ndarray, ...]:
    return (
        np.array([o.number for o in rows], dtype=np.int64),
        np.array([o.value for o in rows], dtype=float),
        np.array([-1 if o.region_id is None else o.region_id for o in rows], dtype=np.int64),
        np.array([o.stage for o in rows], dtype=np.int64),
        np.array([o.pruned for o in rows], dtype=bool),
        np.array([-1 if o.step is None else o.step for o in rows], dtype=np.int64),
    )


class GrowingTable:
    """An ``ObservationTable`` that grows in place. Not thread-safe: callers serialise ``add``;
    snapshots taken earlier stay valid (appends write past their end, inserts copy)."""

    def __init__(self, enc: SpaceEncoding) -> None:
        self.enc = enc
        self.n = 0
        self._rows: list[Observation] = []
        du, dc = len(enc.numeric), len(enc.categorical)
        self._cols: dict[str, np.ndarray] = {
            "number": np.zeros(16, dtype=np.int64),
            "value": np.zeros(16),
            "region": np.zeros(16, dtype=np.int64),
            "stage": np.zeros(16, dtype=np.int64),
            "pruned": np.zeros(16, dtype=bool),
            "step": np.zeros(16, dtype=np.int64),
            "u": np.zeros((16, du)),
            "c": np.zeros((16, dc), dtype=np.int64),
        }

    def add(self, observations: Sequence[Observation]) -> None:
        """Adds trials not held yet (the caller checks), keeping trial-number order."""
        if not observations:
            return
        new = sorted(observations, key=lambda o: o.number)
        u, c = self.enc.encode([o.unit for o in new])
        cols = dict(zip(_COLUMNS, _columns(new), strict=True)) | {"u": u, "c": c}
        last = self._cols["number"][self.n - 1] if self.n else -1
        if new[0].number > last:  # the usual case: append
            self._reserve(self.n + len(new))
            for name, col in cols.items():
                self._cols[name][self.n : self.n + len(new)] = col
            self._rows.extend(new)
            self.n += len(new)
            return
        numbers = self._cols["number"][: self.n]
        at = np.searchsorted(numbers, cols["number"])
        self._cols = {
            name: np.insert(self._cols[name][: self.n], at, col, axis=0)
            for name, col in cols.items()
        }
        rows = list(self._rows)
        for o in new:
            bisect.insort(rows, o, key=lambda r: r.number)
        self._rows = rows
        self.n += len(new)

    def snapshot(self) -> ObservationTable:
        n = self.n
        cols = {name: col[:n] for name, col in self._cols.items()}
        return ObservationTable(_Prefix(self._rows, n), **cols)

    def _reserve(self, size: int) -> None:
        cap = len(self._cols["number"])
        if size <= cap:
            return
        while cap < size:
            cap *= 2
        for name, col in self._cols.items():
            grown = np.zeros((cap, *col.shape[1:]), dtype=col.dtype)
            grown[: self.n] = col[: self.n]
            self._cols[name] = grown


class _Prefix(Sequence[Observation]):
    """The first n items of a list that only grows at its end (a snapshot without a copy)."""

    def __init__(self, items: list[Observation], n: int) -> None:
        self._items, self._n = items, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        if isinstance(i, slice):
            return [self._items[k] for k in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return self._items[i % self._n]
