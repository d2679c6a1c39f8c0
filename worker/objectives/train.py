"""The ``train`` objective: the NumPy trainer, reporting every epoch and obeying ``prune``."""

from __future__ import annotations

from typing import Any

import numpy as np

from caviar.client import Client
from worker.nn.training import fit
from worker.objectives.base import Pruned
from worker.objectives.datasets import load_dataset


def hyperparameters(objective: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Trainer defaults < the objective's epochs < its ``fixed`` values < the trial's params."""
    return {"epochs": objective.get("epochs", 20), **objective.get("fixed", {}), **params}


def run_train(
    client: Client,
    trial_id: int,
    attempt: int,
    params: dict[str, Any],
    objective: dict[str, Any],
    seed: int,
) -> float:
    """Train, report the metrics after every epoch, return the final value of the metric.

    Raises ``Pruned`` when the api says so, and ``TrainingDiverged`` (failing the trial) when
    the loss becomes NaN or infinite.
    """
    data = load_dataset(client, objective["dataset"])
    metric = objective.get("metric", "val_loss")

    def on_epoch(epoch: int, metrics: dict[str, float]) -> bool:
        value = metrics[metric]
        answer = client.report(trial_id, attempt, step=epoch, value=value, metrics=metrics)
        if answer.prune:
            raise Pruned(value, answer.reason)
        return True

    result = fit(data, hyperparameters(objective, params), np.random.default_rng(seed), on_epoch)
    return float(result.final[metric])
