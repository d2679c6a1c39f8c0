"""The ``train`` objective: the NumPy trainer, reporting its epochs, obeying ``prune`` and a
person's commands, and checkpointing through the api."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import numpy as np

from caviar.client import CaviarError, Client
from caviar.settings import Settings
from caviar.trainer_params import trial_hyperparameters
from worker.nn import checkpoint
from worker.nn.training import Trainer, TrainingDiverged
from worker.objectives.base import Paused, Pruned, Run
from worker.objectives.datasets import load_dataset
from worker.objectives.reporting import FLUSH_EVERY, CheckpointClock, Reports
from worker.objectives.steering import PauseRequested, Steering


def hyperparameters(objective: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The trial's hyperparameters (see ``caviar.trainer_params.trial_hyperparameters``)."""
    return trial_hyperparameters(objective.get("epochs", 20), objective.get("fixed", {}), params)


def run_train(client: Client, run: Run, params: dict[str, Any], objective: dict[str, Any]) -> float:
    """Train, report the metrics of every epoch, return the final value of the metric.

    Continues from the trial's latest checkpoint when it has one (a resumed, requeued or forked
    trial; ``run.resume`` False: the first attempt of a trial that is not a fork, which has none),
    reports and checkpoints as ``worker.objectives.reporting`` says (by time for fast
    epochs, always at the end), and applies the commands that reach it between mini-batches.
    Raises ``Pruned`` when the api says so, ``Paused`` after a pause was stored, and
    ``TrainingDiverged`` (failing the trial) when the loss becomes NaN or infinite.
    """
    trial_id, attempt = run.trial_id, run.attempt
    data = load_dataset(client, objective["dataset"])
    metric = objective.get("metric", "val_loss")
    steering = Steering(client, trial_id, attempt)
    if run.commands is not None:  # those pending at the claim: no poll needed to learn them
        steering.receive(run.commands)
        steering.polled()
    reports = Reports(client, trial_id, attempt, steering, FLUSH_EVERY)
    clock = CheckpointClock(objective.get("checkpoint_every"), Settings().checkpoint_seconds)
    trainer = Trainer(
        data,
        hyperparameters(objective, params),
        np.random.default_rng(run.seed),
        on_batch=steering.on_batch,
    )
    found = client.checkpoint(trial_id) if run.resume else None
    if found is not None:
        trainer.load_state(checkpoint.loads(found[1]))
    value: float | None = None
    try:
        while trainer.epochs_done < trainer.config.epochs:
            metrics = trainer.run_epoch()
            epoch = trainer.epochs_done
            value = metrics[metric]
            reports.add(epoch, value, metrics)
            save = clock.due(epoch, trainer.config.epochs)
            if save or reports.due():
                reports.flush()  # a checkpoint's steps are reported before it is stored
            if save:
                client.put_checkpoint(trial_id, attempt, epoch, checkpoint.dumps(trainer.state()))
                clock.written()
    except TrainingDiverged:
        with contextlib.suppress(Pruned, httpx.TransportError, CaviarError):
            reports.flush()  # the curve up to the divergence, then the failure
        raise
    except PauseRequested as pause:
        reports.flush()
        client.put_checkpoint(trial_id, attempt, pause.step, pause.state)
        applied = [*steering.acks(), {"id": pause.command_id, "step": pause.step}]
        client.paused(trial_id, attempt, pause.step, applied)
        raise Paused(pause.step) from None
    if value is None:  # restored from a checkpoint of the finished run: its last report stands
        value = client.reports(trial_id).data[-1].value
    return float(value)
