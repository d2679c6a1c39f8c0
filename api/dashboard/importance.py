"""Hyperparameter importance: a cheap, model-free, rank-based η² per hyperparameter."""

from __future__ import annotations

import json
from typing import Any

from api.search.transforms import to_unit
from caviar.space import CategoricalParam

MIN_VALUES = 8
MAX_BINS = 10
PER_BIN = 5


def per_configuration(
    names: list[str], params: dict[str, list[Any]], values: list[float]
) -> tuple[dict[str, list[Any]], list[float]]:
    """Each distinct configuration once, with the mean of its values: a re-test round's
    repeats (or any configuration run several times) weigh as one point, not as many."""
    groups: dict[str, list[int]] = {}
    for i in range(len(values)):
        key = json.dumps([params[n][i] for n in names], sort_keys=True, default=str)
        groups.setdefault(key, []).append(i)
    firsts = [members[0] for members in groups.values()]
    return (
        {n: [params[n][i] for i in firsts] for n in names},
        [sum(values[i] for i in members) / len(members) for members in groups.values()],
    )


def importance(
    space: dict[str, Any], params: dict[str, list[Any]], values: list[float]
) -> dict[str, float]:
    """Per hyperparameter, η²: the share of the variance of the objective's rank explained by
    the hyperparameter's bin (equal-count bins on its own scale, at least 5 values a bin and
    at most 10 bins; one bin per choice). A cheap, model-free stand-in for functional ANOVA;
    0 with fewer than ``MIN_VALUES`` values. With k bins, noise alone scores about
    (k - 1) / (n - 1): compare scores with each other, not with 0."""
    n = len(values)
    if n < MIN_VALUES:
        return {name: 0.0 for name in space}
    bins = max(2, min(MAX_BINS, n // PER_BIN))
    order = sorted(range(n), key=lambda i: values[i])
    rank = [0.0] * n
    for r, i in enumerate(order):
        rank[i] = r / (n - 1)
    mean = sum(rank) / n
    total = sum((x - mean) ** 2 for x in rank) or 1.0
    out: dict[str, float] = {}
    for name, p in space.items():
        column = params[name]
        if isinstance(p, CategoricalParam):
            keys = [p.choices.index(v) if v in p.choices else -1 for v in column]
        else:
            units = [to_unit(p, v) for v in column]
            by_unit = sorted(range(n), key=lambda i: units[i])
            keys = [0] * n
            for pos, i in enumerate(by_unit):
                keys[i] = pos * bins // n
        groups: dict[int, list[float]] = {}
        for k, x in zip(keys, rank, strict=True):
            groups.setdefault(k, []).append(x)
        between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
        out[name] = round(between / total, 4)
    return out


def default_pair(names: list[str], scores: dict[str, float]) -> list[str]:
    """The two hyperparameters with the highest importance (space order breaks ties)."""
    ranked = sorted(names, key=lambda n: (-scores.get(n, 0.0), names.index(n)))
    return ranked[:2]
