"""Builds the strategy and the pruner of a study from its validated options."""

from __future__ import annotations

from api.search.base import BaseStrategy
from api.search.random_sampler import RandomSampler
from caviar.search_config import RandomStrategy


def make_strategy(options: object) -> BaseStrategy:
    if isinstance(options, RandomStrategy):
        return RandomSampler()
    raise NotImplementedError(f"strategy {getattr(options, 'name', options)!r} is not available yet")


def make_pruner(options: object) -> object:
    raise NotImplementedError(f"pruner {getattr(options, 'name', options)!r} is not available yet")
