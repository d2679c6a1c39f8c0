"""The objectives a worker runs: built-in functions and the NumPy trainer."""

from __future__ import annotations

from typing import Any

from caviar.client import Client
from worker.objectives.base import Paused, Pruned, Run
from worker.objectives.function import run_function

__all__ = ["Paused", "Pruned", "Run", "run_objective"]


def run_objective(
    client: Client, run: Run, params: dict[str, Any], objective: dict[str, Any]
) -> float:
    """Run a trial's objective; return its final value, or raise ``Pruned``."""
    kind = objective.get("kind")
    if kind == "function":
        return run_function(objective, params)
    if kind == "train":
        from worker.objectives.train import run_train

        return run_train(client, run, params, objective)
    raise ValueError(f"a worker cannot run objective kind {kind!r}")
