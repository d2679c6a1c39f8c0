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

from collections.abc import Callable, Mapping

import numpy as np

ValuesAt = Callable[[int], Mapping[int, float]]


def rank_step(pruned: np.ndarray, step: np.ndarray, min_trials: int) -> int | None:
    """The step at which finished trials are compared (rule 2), None without pruned trials.

    ``pruned`` and ``step`` are per trial (``step`` −1 when it reported none)."""
    if not pruned.any():
        return None
    stopped = np.maximum(step[pruned], 0)
    completed = int((~pruned).sum())
    full = int(step[~pruned].max(initial=0)) if completed else None
    candidates = np.unique(np.r_[stopped, [] if full is None else [full]]).astype(int)[::-1]
    for s in candidates:
        if completed + int((stopped >= s).sum()) >= min_trials:
            return int(s)
    return int(candidates[-1])


def at_rank_step(
    number: np.ndarray,
    value: np.ndarray,
    pruned: np.ndarray,
    step: np.ndarray,
    min_trials: int,
    values_at: ValuesAt | None,
) -> tuple[np.ndarray, int | None]:
    """Each trial's score (rules 1 and 3), and the rank step. ``number`` is sorted."""
    s = rank_step(pruned, step, min_trials)
    if s is None:
        return value, None
    curve = values_at(s) if values_at is not None else {}
    reached = ~pruned | (step >= s)
    scored = value.copy()
    if curve and len(number):
        keys = np.fromiter(curve.keys(), dtype=np.int64, count=len(curve))
        vals = np.fromiter(curve.values(), dtype=float, count=len(curve))
        at = np.minimum(np.searchsorted(number, keys), len(number) - 1)
        ok = (number[at] == keys) & np.isfinite(vals)
        at, vals = at[ok], vals[ok]
        use = reached[at]
        scored[at[use]] = vals[use]
    worst = scored[reached].max(initial=-np.inf)
    scored[~reached] = np.maximum(value[~reached], worst)
    return scored, s
