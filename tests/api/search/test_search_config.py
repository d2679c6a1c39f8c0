"""Strategy and pruner options: validation names the field; the registry builds them."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from api.search.coarse_to_fine import CoarseToFineStrategy
from api.search.grid import GridStrategy
from api.search.pruners import AshaPruner, MedianPruner, NopPruner
from api.search.random_search import RandomStrategy
from api.search.registry import make_pruner, make_strategy
from caviar.search_config import Pruner, Strategy

STRATEGY = TypeAdapter(Strategy)
PRUNER = TypeAdapter(Pruner)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "coarse_to_fine", "top_fraction": 0}, "top_fraction"),
        ({"name": "coarse_to_fine", "margin": -1}, "margin"),
        ({"name": "coarse_to_fine", "min_width": 2}, "min_width"),
        ({"name": "coarse_to_fine", "explore_fraction": 1}, "explore_fraction"),
        ({"name": "coarse_to_fine", "stage_trials": 1}, "stage_trials"),
        ({"name": "coarse_to_fine", "sampler": "magic"}, "sampler"),
        ({"name": "coarse_to_fine", "zoom": 2}, "zoom"),
        ({"name": "grid", "points_per_param": 1}, "points_per_param"),
        ({"name": "annealing"}, "name"),
    ],
)
def test_bad_strategy_option_names_the_field(body: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        STRATEGY.validate_python(body)
    assert any(field in map(str, e["loc"]) or field in e["msg"] for e in err.value.errors())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "asha", "reduction_factor": 1}, "reduction_factor"),
        ({"name": "asha", "min_resource": 0}, "min_resource"),
        ({"name": "median", "warmup_steps": -1}, "warmup_steps"),
        ({"name": "median", "min_trials": 0}, "min_trials"),
    ],
)
def test_bad_pruner_option_names_the_field(body: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        PRUNER.validate_python(body)
    assert any(field in map(str, e["loc"]) for e in err.value.errors())


def test_registry_builds_every_option() -> None:
    assert isinstance(make_strategy(STRATEGY.validate_python({"name": "random"})), RandomStrategy)
    assert isinstance(make_strategy(STRATEGY.validate_python({"name": "grid"})), GridStrategy)
    c2f = make_strategy(STRATEGY.validate_python({"name": "coarse_to_fine", "stage_trials": 8}))
    assert isinstance(c2f, CoarseToFineStrategy) and c2f.stage_trials == 8
    assert isinstance(make_pruner(PRUNER.validate_python({"name": "none"})), NopPruner)
    assert isinstance(make_pruner(PRUNER.validate_python({"name": "median"})), MedianPruner)
    asha = make_pruner(PRUNER.validate_python({"name": "asha", "reduction_factor": 4}))
    assert isinstance(asha, AshaPruner) and asha.reduction_factor == 4


def test_sampler_defaults_are_the_option_defaults() -> None:
    options = STRATEGY.validate_python({"name": "coarse_to_fine"})
    built = make_strategy(options)
    plain = CoarseToFineStrategy()
    for field in ("stage_trials", "top_fraction", "margin", "min_width", "explore_fraction"):
        assert getattr(built, field) == getattr(plain, field) == getattr(options, field)
    assert built.sampler.name == plain.sampler.name == options.sampler
