"""Early stopping: decide, when a trial reports a value at a step, whether it should stop.

Contract of ``BasePruner.decide(trial_number, step, value, peers_at, max_step=None)``:

- ``step`` counts the resource used so far (epochs done, starting at 1); ``value`` is the trial's
  value at that step, oriented so that lower is better (the service negates maximised metrics).
- ``peers_at(step)`` returns the values that the *other* trials of the study reported at exactly
  that step (any state: running, completed, pruned), also oriented lower-is-better. It is only
  called when the pruner needs it.
- ``max_step``, when the service knows it (the epochs of a ``train`` objective), is the trial's
  last step: a trial that reaches it has finished, so it is never pruned there.
- The answer is a ``PruneDecision``. When ``prune`` is true, ``reason`` is a JSON-ready dict that
  explains the decision from stored data: the pruner, the step (and rung), the value, the
  threshold it failed, and how many peers set that threshold.

A value that is not finite (a diverged training run) is always pruned by the median and ASHA
pruners.
"""

from __future__ import annotations

import math
import statistics
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

PeersAt = Callable[[int], Sequence[float]]


@dataclass(frozen=True)
class PruneDecision:
    prune: bool
    reason: dict[str, Any] | None = None


CONTINUE = PruneDecision(False)


class BasePruner(ABC):
    """Decides whether a trial stops at the step it just reported."""

    def decide(
        self,
        trial_number: int,
        step: int,
        value: float,
        peers_at: PeersAt,
        max_step: int | None = None,
    ) -> PruneDecision:
        """See the module docstring."""
        if max_step is not None and step >= max_step:
            return CONTINUE
        return self._decide(trial_number, step, value, peers_at)

    @abstractmethod
    def _decide(
        self, trial_number: int, step: int, value: float, peers_at: PeersAt
    ) -> PruneDecision:
        """``decide`` before the last step."""


class NopPruner(BasePruner):
    """Never prunes."""

    def _decide(
        self, trial_number: int, step: int, value: float, peers_at: PeersAt
    ) -> PruneDecision:
        return CONTINUE


def _not_finite(name: str, step: int, value: float) -> PruneDecision:
    return PruneDecision(
        True, {"pruner": name, "step": step, "value": str(value), "why": "value is not finite"}
    )


class MedianPruner(BasePruner):
    """Prunes a trial whose value at a step is worse than the median of the other trials' values
    at that step. Never before ``warmup_steps`` nor with fewer than ``min_trials`` peers."""

    def __init__(self, warmup_steps: int = 2, min_trials: int = 4) -> None:
        self.warmup_steps = warmup_steps
        self.min_trials = min_trials

    def _decide(
        self, trial_number: int, step: int, value: float, peers_at: PeersAt
    ) -> PruneDecision:
        if step < self.warmup_steps:
            return CONTINUE
        if not math.isfinite(value):
            return _not_finite("median", step, value)
        peers = [v for v in peers_at(step) if math.isfinite(v)]
        if len(peers) < self.min_trials:
            return CONTINUE
        median = statistics.median(peers)
        if value <= median:
            return CONTINUE
        return PruneDecision(
            True,
            {
                "pruner": "median",
                "step": step,
                "value": value,
                "threshold": median,
                "peers": len(peers),
            },
        )


class AshaPruner(BasePruner):
    """Asynchronous successive halving. Rungs sit at steps ``min_resource · η^k`` (η is
    ``reduction_factor``). A trial reaching a rung continues only if its value is among the best
    ``max(1, ⌊m/η⌋)`` of the m values reported at that rung so far (its own included); other steps
    never prune. With ``bootstrap_count`` > 0, nobody is pruned at a rung until that many values
    are there."""

    def __init__(
        self, min_resource: int = 1, reduction_factor: int = 3, bootstrap_count: int = 0
    ) -> None:
        self.min_resource = min_resource
        self.reduction_factor = reduction_factor
        self.bootstrap_count = bootstrap_count

    def rung_of(self, step: int) -> int | None:
        """k when ``step`` is rung k, else None."""
        if step < self.min_resource:
            return None
        k, r = 0, self.min_resource
        while r < step:
            r *= self.reduction_factor
            k += 1
        return k if r == step else None

    def _decide(
        self, trial_number: int, step: int, value: float, peers_at: PeersAt
    ) -> PruneDecision:
        rung = self.rung_of(step)
        if rung is None:
            return CONTINUE
        if not math.isfinite(value):
            return _not_finite("asha", step, value)
        values = sorted([v for v in peers_at(step) if math.isfinite(v)] + [value])
        if len(values) < self.bootstrap_count:
            return CONTINUE
        keep = max(1, len(values) // self.reduction_factor)
        threshold = values[keep - 1]
        if value <= threshold:
            return CONTINUE
        return PruneDecision(
            True,
            {
                "pruner": "asha",
                "rung": rung,
                "step": step,
                "value": value,
                "threshold": threshold,
                "peers": len(values) - 1,
                "kept": keep,
                "reduction_factor": self.reduction_factor,
            },
        )
