"""Pruned trials in coarse-to-fine: the rank step, the scores, and zooming under ASHA/median."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from api.search.base import Observation, RegionView, SearchState, whole_space
from api.search.coarse_to_fine import CoarseToFineStrategy
from api.search.fidelity import at_rank_step, rank_step
from api.search.pruners import AshaPruner, BasePruner, MedianPruner, NopPruner
from api.search.transforms import to_unit
from tests.api.search.test_search_strategies import SPACE, loss


def cols(*trials: tuple[float, int | None, bool]) -> tuple[np.ndarray, ...]:
    """(number, value, pruned, step) columns of trials given as (value, step, pruned)."""
    return (
        np.arange(len(trials)),
        np.array([t[0] for t in trials], dtype=float),
        np.array([t[2] for t in trials], dtype=bool),
        np.array([-1 if t[1] is None else t[1] for t in trials]),
    )


def test_without_pruned_trials_values_are_kept() -> None:
    number, value, pruned, step = cols((3.0, 9, False), (1.0, 9, False))
    assert rank_step(pruned, step, 2) is None
    scored, at = at_rank_step(number, value, pruned, step, 2, lambda s: {0: 99.0})
    assert at is None and list(scored) == [3.0, 1.0]


def test_rank_step_is_the_largest_step_enough_trials_reached() -> None:
    # ASHA-like: four stopped at step 1, two at step 3, one completed at step 9.
    _, _, pruned, step = cols(
        *[(5.0, 1, True)] * 4, (4.0, 3, True), (4.5, 3, True), (2.0, 9, False)
    )
    assert rank_step(pruned, step, 1) == 9
    assert rank_step(pruned, step, 3) == 3
    assert rank_step(pruned, step, 4) == 1
    assert rank_step(pruned, step, 50) == 1  # nobody enough: the smallest step


def test_trials_are_scored_at_the_rank_step_and_early_stops_rank_below() -> None:
    # Pruned at 1 (2.5: a lucky first epoch), pruned at 3, completed at 9.
    number, value, pruned, step = cols(
        (9.0, 1, True), (2.5, 1, True), (4.0, 3, True), (1.0, 9, False)
    )
    curve = {2: 4.0, 3: 3.5}  # values at step 3 of the trials that reached it
    scored, at = at_rank_step(number, value, pruned, step, 2, lambda s: curve if s == 3 else {})
    assert at == 3
    assert scored[3] == 3.5  # the completed trial is judged at step 3, not by its final value
    assert scored[2] == 4.0
    assert scored[0] == 9.0  # own value, already worse
    assert scored[1] == 4.0  # never better than the worst trial that reached step 3
    assert sorted(range(4), key=lambda n: (scored[n], n))[:2] == [3, 1]


def test_a_trial_without_a_stored_curve_keeps_its_final_value() -> None:
    number, value, pruned, step = cols((2.0, None, False), (3.0, 2, True), (4.0, 2, True))
    scored, at = at_rank_step(number, value, pruned, step, 3, None)
    assert at == 2 and list(scored) == [2.0, 3.0, 4.0]


EPOCHS = 9


def curve(params: dict, step: int) -> float:
    """A learning curve that falls with training towards ``loss(params)``."""
    return loss(params) + 3.0 / step


def run(pruner: BasePruner, trials: int = 60, batch: int = 4) -> tuple[list, list[RegionView]]:
    """A study driven like the service does, each trial trained and stopped by ``pruner``."""
    strategy = CoarseToFineStrategy(stage_trials=10)
    regions = [whole_space(SPACE)]
    regions[0].id = 0
    obs: list[Observation] = []
    reports: dict[int, dict[int, float]] = defaultdict(dict)  # step -> number -> value

    def values_at(step: int) -> dict[int, float]:
        return dict(reports[step])

    for start in range(0, trials, batch):
        numbers = list(range(start, min(start + batch, trials)))
        state = SearchState(SPACE, 5, list(obs), 0, list(regions), values_at=values_at)
        for s in strategy.suggest(state, numbers):
            if s.region.id is None:
                s.region.id = len(regions)
                regions.append(s.region)
            pruned = False
            for step in range(1, EPOCHS + 1):
                value = curve(s.params, step)
                reports[step][s.number] = value
                peers = lambda k, n=s.number: [v for m, v in reports[k].items() if m != n]  # noqa: E731
                if pruner.decide(s.number, step, value, peers, max_step=EPOCHS).prune:
                    pruned = True
                    break
            unit = {n: to_unit(p, s.params[n]) for n, p in SPACE.items()}
            obs.append(
                Observation(
                    s.number,
                    s.params,
                    unit,
                    value,
                    s.region.id,
                    s.region.stage,
                    pruned=pruned,
                    step=step,
                )
            )
    return obs, regions


@pytest.mark.parametrize("pruner", [AshaPruner(), MedianPruner()], ids=["asha", "median"])
def test_regions_form_as_quickly_with_a_pruner_as_without(pruner: BasePruner) -> None:
    _, plain = run(NopPruner())
    obs, regions = run(pruner)
    assert sum(o.pruned for o in obs) >= 15  # the pruner did stop many trials
    assert max(r.stage for r in regions) >= max(r.stage for r in plain) - 1
    assert max(r.stage for r in regions) >= 3
    # The zoom follows the objective: the last region's defining trials are good ones.
    final = {o.number: loss(o.params) for o in obs}
    best_half = sorted(final.values())[len(final) // 2]
    assert all(final[n] <= best_half for n in regions[-1].defining_numbers)
    for r in regions[1:]:
        if "rank_step" in r.details:
            assert 1 <= r.details["rank_step"] <= EPOCHS
    assert any("rank_step" in r.details for r in regions[1:])


def test_the_pruned_study_finds_ground_as_good_as_the_unpruned_one() -> None:
    plain_obs, _ = run(NopPruner())
    obs, _ = run(AshaPruner())
    best = min(loss(o.params) for o in obs)
    plain_best = min(loss(o.params) for o in plain_obs)
    assert math.isfinite(best) and best <= plain_best + 0.5
