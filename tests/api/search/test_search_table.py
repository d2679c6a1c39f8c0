"""Observation tables: the growing one equals the one built at once, and old snapshots hold."""

from __future__ import annotations

import numpy as np

from api.search.base import Observation
from api.search.encoding import SpaceEncoding
from api.search.table import GrowingTable, ObservationTable
from api.search.transforms import to_unit
from tests.api.search.test_search_strategies import SPACE

ENC = SpaceEncoding.of(SPACE)
NAMES = ("number", "value", "region", "stage", "pruned", "step", "u", "c")


def observation(n: int, rng: np.random.Generator) -> Observation:
    params = {
        "lr": float(10 ** (-4 * rng.random())),
        "beta": 0.95,
        "units": int(rng.integers(16, 257)),
        "opt": ["sgd", "momentum", "adam"][n % 3],
    }
    unit = {k: to_unit(p, params[k]) for k, p in SPACE.items()}
    pruned = bool(n % 4 == 0)
    return Observation(n, params, unit, float(rng.random()), n % 3 or None, n % 2, pruned, n % 5)


def same(a: ObservationTable, b: ObservationTable) -> None:
    assert [o.number for o in a.rows] == [o.number for o in b.rows]
    for name in NAMES:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_a_growing_table_matches_one_built_at_once_whatever_the_finish_order() -> None:
    rng = np.random.default_rng(1)
    obs = [observation(n, rng) for n in range(300)]
    order = rng.permutation(300)
    table = GrowingTable(ENC)
    snapshots = []
    for start in range(0, 300, 7):
        batch = [obs[i] for i in order[start : start + 7]]
        table.add(batch)
        held = sorted(obs[i].number for i in order[: start + 7])
        snapshots.append((table.snapshot(), [obs[n] for n in held]))
    for snap, held in snapshots:  # earlier snapshots were not disturbed by later adds
        same(snap, ObservationTable.of(ENC, held))
    same(table.snapshot(), ObservationTable.of(ENC, obs))


def test_where_keeps_rows_and_columns_aligned() -> None:
    rng = np.random.default_rng(2)
    full = ObservationTable.of(ENC, [observation(n, rng) for n in range(20)])
    part = full.where(full.value < 0.5)
    same(part, ObservationTable.of(ENC, [o for o in full.rows if o.value < 0.5]))
