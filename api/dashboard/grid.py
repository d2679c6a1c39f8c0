"""Grid vs random: distinct values per hyperparameter for a study's trial budget."""

from __future__ import annotations

import json
import math
from functools import lru_cache

from api.db.models import Study
from api.search.grid import distinct_values as grid_distinct_values
from caviar import search_config as cfg
from caviar.dashboard_schemas import DistinctValues
from caviar.schemas import StudyCreate
from caviar.space import CategoricalParam


def distinct_values(study: Study) -> DistinctValues:
    """Distinct values per hyperparameter for the study's budget (``max_trials``): the study's
    grid (or, for other strategies, the largest grid that fits the budget) against random.
    A study's config never changes, so the answer is cached."""
    return _distinct(study.seed, json.dumps(study.config, sort_keys=True))


@lru_cache(maxsize=256)
def _distinct(seed: int, config_json: str) -> DistinctValues:
    config = StudyCreate.model_validate_json(config_json)
    trials = config.max_trials
    space = dict(config.space)
    if isinstance(config.strategy, cfg.GridStrategy):
        k = config.strategy.points_per_param
    else:
        cells = math.prod(len(p.choices) for p in space.values() if isinstance(p, CategoricalParam))
        numeric = sum(not isinstance(p, CategoricalParam) for p in space.values()) or 1
        k = max(2, int(round((max(trials, 1) / cells) ** (1 / numeric), 9)))
    return DistinctValues(
        trials=trials,
        points_per_param=k,
        params=grid_distinct_values(space, trials, k, seed),
    )
