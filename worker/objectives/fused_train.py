"""The ``train`` objective for several trials at once: one fused network
(:class:`worker.nn.fused.FusedTrainer`), each member an ordinary trial.

Each member reports in its own batches, applies and acknowledges its own commands, checkpoints
and tells on its own claim, exactly as :func:`worker.objectives.train.run_train` does alone. A
member that is pruned, paused, stopped, fenced or diverges leaves the fused run with its own
outcome (:func:`worker.outcome.settle`); the others go on. One heartbeat thread beats them all.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from celery.exceptions import SoftTimeLimitExceeded

from caviar.client import CaviarError, Client, Conflict
from caviar.settings import Settings
from caviar.trainer_params import parse_hyperparams
from worker.heartbeat import Beats, Fenced
from worker.nn import checkpoint
from worker.nn.fused import FUSE_MIN_MEMBERS, FusedTrainer, choose_fusion
from worker.nn.training import TrainingDiverged, TrainingState
from worker.objectives.base import Paused, Pruned, Run
from worker.objectives.datasets import load_dataset
from worker.objectives.reporting import FLUSH_EVERY, CheckpointClock, Reports
from worker.objectives.steering import PauseRequested, Steering
from worker.objectives.train import hyperparameters
from worker.outcome import settle

log = logging.getLogger("caviar.worker")
# What a member's own api calls may raise: it leaves the fused run with that outcome.
_LEAVES = (CaviarError, httpx.TransportError, Pruned, Fenced)


def fusion_size(run: Run, params: dict[str, Any], objective: dict[str, Any]) -> int:
    """How many trials (this one included) to train fused with ``run``: 1 for none. Only a
    first attempt that is not a fork fuses (its members all start at epoch 0), and only a
    shape that :func:`choose_fusion` says gains, up to ``CAVIAR_FUSE_MAX`` (default 1: never)."""
    if objective.get("kind") != "train" or run.resume:
        return 1
    try:
        config = parse_hyperparams(hyperparameters(objective, params))
    except ValueError:
        return 1  # the trial fails alone, as it would
    limit = Settings().fuse_max
    widest = config.hidden_units if config.layers else 0
    return choose_fusion(config.batch_size, widest, limit)


def claim_companions(client: Client, run: Run, size: int) -> list[tuple[Run, dict[str, Any]]]:
    """Claim up to ``size - 1`` more trials to train with ``run`` (none unless at least
    enough for fusion to pay); their runs and params. Raises ``Conflict`` when ``run`` is
    fenced off; an api without the call, or one that stays away, gives none."""
    try:
        mates = client.companions(run.trial_id, run.attempt, size - 1, FUSE_MIN_MEMBERS - 1)
    except Conflict:
        raise
    except (CaviarError, httpx.TransportError) as exc:
        log.info("trial %s: no companions to fuse with (%s); training it alone", run.trial_id, exc)
        return []
    return [(Run(m.id, m.attempt, m.seed, m.resume, m.commands), m.params) for m in mates]


@dataclass
class _Member:
    run: Run
    params: dict[str, Any]
    steering: Steering
    reports: Reports
    clock: CheckpointClock


class _View:
    """One member as :class:`Steering` sees a trainer."""

    def __init__(self, fused: FusedTrainer, key: int) -> None:
        self.fused, self.key = fused, key

    @property
    def epochs_done(self) -> int:
        return self.fused.epochs_done(self.key)

    def apply_overrides(self, values: dict[str, Any]) -> None:
        self.fused.apply_overrides(self.key, values)

    def state(self) -> TrainingState:
        return self.fused.state(self.key)


class FusedRun:
    """Train ``members`` (each a claimed run and its params) of one study as one fused
    network; :meth:`run` returns each trial's outcome, by trial id."""

    def __init__(
        self,
        client: Client,
        members: list[tuple[Run, dict[str, Any]]],
        objective: dict[str, Any],
        beats: Beats,
    ) -> None:
        self.client, self.objective, self.beats = client, objective, beats
        self.metric = objective.get("metric", "val_loss")
        self.members: dict[int, _Member] = {}
        for run, params in members:
            steering = Steering(client, run.trial_id, run.attempt)
            if run.commands is not None:
                steering.receive(run.commands)
                steering.polled()
            self.members[run.trial_id] = _Member(
                run,
                params,
                steering,
                Reports(client, run.trial_id, run.attempt, steering, FLUSH_EVERY),
                CheckpointClock(objective.get("checkpoint_every"), Settings().checkpoint_seconds),
            )
        self.outcomes: dict[int, str] = {}
        self.fused: FusedTrainer | None = None

    def run(self) -> dict[int, str]:
        try:
            data = load_dataset(self.client, self.objective["dataset"])
            fused = self.fused = FusedTrainer(data, on_batch=self._on_batch)
            for key, m in self.members.items():
                try:
                    hp = hyperparameters(self.objective, m.params)
                    fused.add(key, hp, np.random.default_rng(m.run.seed))
                except ValueError as exc:
                    self._leave(key, _raising(exc))
            while len(fused):
                for key, metrics in fused.run_epoch().items():
                    if isinstance(metrics, TrainingDiverged):
                        with contextlib.suppress(Pruned, httpx.TransportError, CaviarError):
                            self.members[key].reports.flush()  # the curve up to it
                        self._leave(key, _raising(metrics))
                    elif key in fused:
                        self._epoch(key, metrics)
        except SoftTimeLimitExceeded:
            # The limit was the fused run's, not a member's: each member left is abandoned (no
            # tell), so the reaper requeues it and its next attempt continues alone from its
            # checkpoint, where the limit is its own again.
            for key in self.members:
                if key not in self.outcomes:
                    self._abandon(key)
        except Exception as exc:  # the dataset: every member left ends so
            for key in self.members:
                if key not in self.outcomes:
                    self._leave(key, _raising(exc))
        return self.outcomes

    def _epoch(self, key: int, metrics: dict[str, float]) -> None:
        """After one of member ``key``'s epochs: report, checkpoint, finish, as alone."""
        fused, m = self.fused, self.members[key]
        assert fused is not None
        run, epoch, last = m.run, fused.epochs_done(key), fused.config(key).epochs
        value = metrics[self.metric]
        m.reports.add(epoch, value, metrics)
        try:
            if self.beats.fenced(key):
                raise Fenced
            save = m.clock.due(epoch, last)
            if save or m.reports.due():
                m.reports.flush()  # a checkpoint's steps are reported before it is stored
            if save:
                state = checkpoint.dumps(fused.state(key))
                self.client.put_checkpoint(run.trial_id, run.attempt, epoch, state)
                m.clock.written()
        except _LEAVES as exc:
            self._leave(key, _raising(exc))
            return
        if epoch >= last:
            self._leave(key, lambda: float(value))

    def _on_batch(self, fused: FusedTrainer, keys: list[int]) -> None:
        """Before a fused mini-batch: each member's commands, polls and fence, alone."""
        for key in keys:
            if key not in fused:
                continue
            m = self.members[key]
            try:
                if self.beats.fenced(key):
                    raise Fenced
                m.steering.on_batch(_View(fused, key))  # type: ignore[arg-type]
            except PauseRequested as pause:
                self._leave(key, self._pause(m, pause))
            except _LEAVES as exc:
                self._leave(key, _raising(exc))

    def _pause(self, m: _Member, pause: PauseRequested) -> Callable[[], float]:
        def work() -> float:
            run = m.run
            m.reports.flush()
            self.client.put_checkpoint(run.trial_id, run.attempt, pause.step, pause.state)
            applied = [*m.steering.acks(), {"id": pause.command_id, "step": pause.step}]
            self.client.paused(run.trial_id, run.attempt, pause.step, applied)
            raise Paused(pause.step)

        return work

    def _leave(self, key: int, work: Callable[[], float]) -> None:
        """Member ``key`` leaves the fused run (the others go on) and ends as ``work`` says."""
        if self.fused is not None and key in self.fused:
            self.fused.remove(key)
        self.beats.remove(key)
        run = self.members[key].run
        self.outcomes[key] = settle(self.client, run.trial_id, run.attempt, work)
        self.client.forget(run.trial_id, run.attempt)

    def _abandon(self, key: int) -> None:
        """Member ``key`` stops here without a tell; its reported steps are sent first."""
        if self.fused is not None and key in self.fused:
            self.fused.remove(key)
        self.beats.remove(key)
        m = self.members[key]
        try:
            m.reports.flush()
        except Pruned as p:  # its last steps were pruned: it ends so, as alone
            self.outcomes[key] = settle(self.client, m.run.trial_id, m.run.attempt, _raising(p))
            self.client.forget(m.run.trial_id, m.run.attempt)
            return
        except (httpx.TransportError, CaviarError):
            pass  # the steps not sent are trained again by the next attempt
        log.warning(
            "trial %s: the fused run reached its time limit; the reaper requeues the trial and "
            "its next attempt continues alone from its checkpoint",
            m.run.trial_id,
        )
        self.outcomes[key] = "abandoned"
        self.client.forget(m.run.trial_id, m.run.attempt)


def _raising(exc: BaseException) -> Callable[[], float]:
    def work() -> float:
        raise exc

    return work
