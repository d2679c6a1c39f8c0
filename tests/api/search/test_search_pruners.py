"""Pruners on hand-built learning curves with known decisions."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from api.search.pruners import AshaPruner, MedianPruner, NopPruner, PruneDecision


class Curves:
    """Reported values per step, as the service's peers_at would answer them."""

    def __init__(self) -> None:
        self.at: dict[int, dict[int, float]] = defaultdict(dict)

    def report(self, trial: int, step: int, value: float) -> None:
        self.at[step][trial] = value

    def peers(self, trial: int):
        return lambda step: [v for t, v in self.at[step].items() if t != trial]


def test_nop_never_prunes() -> None:
    assert NopPruner().decide(0, 5, math.inf, lambda s: [0.0] * 10) == PruneDecision(False)


def test_median_pruner_known_decisions() -> None:
    curves = Curves()
    # Four finished trials whose losses at step 3 are 1, 2, 3, 4 (median 2.5).
    for t, v in enumerate([1.0, 2.0, 3.0, 4.0]):
        for step in range(1, 6):
            curves.report(t, step, v + 1.0 / step)
    pruner = MedianPruner(warmup_steps=2, min_trials=4)
    # Step 1 is inside the warm-up: never pruned, however bad.
    assert not pruner.decide(9, 1, 100.0, curves.peers(9)).prune
    # Step 3: median of peers is 2.5 + 1/3.
    good = pruner.decide(9, 3, 2.0, curves.peers(9))
    assert not good.prune and good.reason is None
    bad = pruner.decide(9, 3, 4.0, curves.peers(9))
    assert bad.prune
    assert bad.reason == {
        "pruner": "median",
        "step": 3,
        "value": 4.0,
        "threshold": pytest.approx(2.5 + 1 / 3),
        "peers": 4,
    }


def test_median_pruner_waits_for_enough_peers() -> None:
    pruner = MedianPruner(warmup_steps=0, min_trials=3)
    assert not pruner.decide(5, 4, 9.0, lambda s: [1.0, 2.0]).prune
    assert pruner.decide(5, 4, 9.0, lambda s: [1.0, 2.0, 3.0]).prune


def test_asha_rungs() -> None:
    pruner = AshaPruner(min_resource=2, reduction_factor=3)
    assert [s for s in range(1, 60) if pruner.rung_of(s) is not None] == [2, 6, 18, 54]
    assert pruner.rung_of(18) == 2


def test_asha_known_decisions() -> None:
    pruner = AshaPruner(min_resource=1, reduction_factor=3)
    curves = Curves()
    # Nine trials reach rung 0 (step 1) with losses 0.1 … 0.9; then a tenth arrives.
    for t in range(9):
        curves.report(t, 1, 0.1 * (t + 1))
    asked: list[int] = []

    def peers(step: int) -> list[float]:
        asked.append(step)
        return curves.peers(10)(step)

    # 10 values at the rung → the best ⌊10/3⌋ = 3 continue: the threshold is 0.3.
    keep = pruner.decide(10, 1, 0.25, peers)
    assert not keep.prune
    cut = pruner.decide(10, 1, 0.35, peers)
    assert cut.prune
    assert cut.reason == {
        "pruner": "asha",
        "rung": 0,
        "step": 1,
        "value": 0.35,
        "threshold": pytest.approx(0.3),
        "peers": 9,
        "kept": 3,
        "reduction_factor": 3,
    }
    # Steps between rungs never prune and do not even query peers.
    asked.clear()
    assert not pruner.decide(10, 2, 99.0, peers).prune
    assert asked == []


def test_asha_first_trials_at_a_rung() -> None:
    pruner = AshaPruner(min_resource=1, reduction_factor=3)
    assert not pruner.decide(0, 3, 5.0, lambda s: []).prune  # alone at rung 1: the best
    assert pruner.decide(
        1, 3, 6.0, lambda s: [5.0]
    ).prune  # second and worse: only the best goes on
    patient = AshaPruner(min_resource=1, reduction_factor=3, bootstrap_count=3)
    assert not patient.decide(1, 3, 6.0, lambda s: [5.0]).prune


def test_diverged_values_are_pruned() -> None:
    for pruner in (MedianPruner(warmup_steps=0, min_trials=1), AshaPruner()):
        d = pruner.decide(3, 1, math.nan, lambda s: [1.0, 2.0])
        assert d.prune and d.reason is not None and d.reason["why"] == "value is not finite"


def test_the_last_step_is_never_pruned() -> None:
    asha = AshaPruner(min_resource=1, reduction_factor=3)
    assert asha.decide(1, 9, 6.0, lambda s: [5.0]).prune  # rung 2, second and worse
    assert not asha.decide(1, 9, 6.0, lambda s: [5.0], max_step=9).prune  # but 9 is the end
    median = MedianPruner(warmup_steps=0, min_trials=1)
    assert not median.decide(1, 5, 9.0, lambda s: [1.0], max_step=5).prune
    assert median.decide(1, 4, 9.0, lambda s: [1.0], max_step=5).prune
