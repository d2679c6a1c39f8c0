"""Builds the strategy and the pruner of a study from its validated options
(``caviar.search_config``)."""

from __future__ import annotations

from api.search.base import BaseStrategy
from api.search.coarse_to_fine import CoarseToFineStrategy
from api.search.grid import GridStrategy
from api.search.pruners import AshaPruner, BasePruner, MedianPruner, NopPruner
from api.search.random_search import RandomStrategy
from caviar import search_config as cfg


def make_strategy(options: object) -> BaseStrategy:
    if isinstance(options, cfg.RandomStrategy):
        return RandomStrategy()
    if isinstance(options, cfg.GridStrategy):
        return GridStrategy(points_per_param=options.points_per_param)
    if isinstance(options, cfg.CoarseToFineStrategy):
        return CoarseToFineStrategy(
            stage_trials=options.stage_trials,
            top_fraction=options.top_fraction,
            margin=options.margin,
            min_width=options.min_width,
            explore_fraction=options.explore_fraction,
            sampler=options.sampler,
            restart_after=options.restart_after,
        )
    raise ValueError(f"unknown strategy options {options!r}")


def make_pruner(options: object) -> BasePruner:
    if isinstance(options, cfg.NoPruner):
        return NopPruner()
    if isinstance(options, cfg.MedianPruner):
        return MedianPruner(warmup_steps=options.warmup_steps, min_trials=options.min_trials)
    if isinstance(options, cfg.AshaPruner):
        return AshaPruner(
            min_resource=options.min_resource,
            reduction_factor=options.reduction_factor,
            bootstrap_count=options.bootstrap_count,
        )
    raise ValueError(f"unknown pruner options {options!r}")
