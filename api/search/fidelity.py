"""Pruned trials as information: rank every finished trial at one common step.

A pruned trial stopped early; its value is the one it reported at its last step, which is not
comparable with a completed trial's final value (losses fall with training). Coarse-to-fine ranks
all finished trials at the **rank step** instead:

1. When no finished trial was pruned, every value is used as it is (rank step ``None``).
2. Otherwise a completed trial reached the full step (the largest step reported, or any step
   when it reported none); a pruned trial reached its last reported step. The rank step is the
   largest step that at least ``min_trials`` finished trials reached (the smallest step when
   none does).
3. A trial that reached the rank step is scored by its value at that step (its final value when
   it stored no curve). A trial stopped before it is scored no better than the worst of those:
   ``max(its own last value, the worst value at the rank step)``, so it never outranks a trial
   that went further, and the trials stopped early keep their own order.

With ASHA (rungs at 1, 3, 9, …) the rank step is the highest rung that enough trials reached, as
in Hyperband-style methods that compare configurations at the same budget.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

from api.search.base import Observation

ValuesAt = Callable[[int], Mapping[int, float]]


def rank_step(observations: Sequence[Observation], min_trials: int) -> int | None:
    """The step at which finished trials are compared (rule 2), None without pruned trials."""
    if not any(o.pruned for o in observations):
        return None
    pruned_steps = [o.step or 0 for o in observations if o.pruned]
    full = max([o.step for o in observations if o.step is not None], default=0)
    completed = sum(1 for o in observations if not o.pruned)
    candidates = sorted(set(pruned_steps) | ({full} if completed else set()), reverse=True)
    for s in candidates:
        reached = completed + sum(1 for p in pruned_steps if p >= s)
        if reached >= min_trials:
            return s
    return candidates[-1]


def at_rank_step(
    observations: Sequence[Observation], min_trials: int, values_at: ValuesAt | None
) -> tuple[list[Observation], int | None]:
    """The observations with values scored at the rank step (rules 1 and 3), and that step."""
    step = rank_step(observations, min_trials)
    if step is None:
        return list(observations), None
    curve = values_at(step) if values_at is not None else {}

    def reached(o: Observation) -> bool:
        return not o.pruned or (o.step or 0) >= step

    scored: dict[int, float] = {}
    for o in observations:
        if reached(o):
            v = curve.get(o.number, o.value)
            scored[o.number] = v if math.isfinite(v) else o.value
    worst = max(scored.values(), default=-math.inf)
    out = []
    for o in observations:
        value = scored[o.number] if o.number in scored else max(o.value, worst)
        out.append(dataclasses.replace(o, value=value))
    return out, step
