"""The training loop of the ``train`` objective: mini-batch training with per-epoch reports.

:func:`fit` is what a worker calls. :class:`Trainer` runs one epoch at a time for callers that
need to act between epochs (change the learning rate, pause).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from caviar.trainer_params import TrainerConfig, parse_hyperparams
from worker.datasets.dataset import Dataset
from worker.nn.model import Network
from worker.nn.optimizers import make_optimizer
from worker.nn.schedules import decayed_learning_rate

EpochCallback = Callable[[int, dict[str, float]], bool]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the trial failed, usually from a too large learning rate.

    ``epoch`` is 1-based; ``step`` is the 1-based mini-batch within it, or ``None`` when the
    validation loss was the first to diverge.
    """

    def __init__(self, epoch: int, step: int | None, what: str, value: float) -> None:
        where = f"epoch {epoch}, step {step}" if step is not None else f"epoch {epoch}"
        super().__init__(
            f"training diverged at {where}: {what} is {value} "
            "(the learning rate is probably too large)"
        )
        self.epoch = epoch
        self.step = step


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of the mini-batches of an epoch of ``n`` ≥ 2 samples.

    Full batches of ``batch_size``, then the remainder as a last, smaller batch; a remainder of a
    single sample joins the batch before it instead, because Batch Norm cannot train on one
    sample. ``batch_size ≥ n`` gives one batch of everything.
    """
    if n < 2 or batch_size < 2:
        raise ValueError("mini-batches need n ≥ 2 samples and batch_size ≥ 2")
    stops = [*range(batch_size, n, batch_size), n]
    if len(stops) > 1 and stops[-1] - stops[-2] == 1:
        del stops[-2]
    return list(zip([0, *stops[:-1]], stops, strict=True))


class Trainer:
    """A network, its optimizer and its data, trained one epoch at a time.

    ``hp`` uses the names of ``caviar.trainer_params`` (see :func:`parse_hyperparams`). ``rng``
    draws the initial weights and then each epoch's shuffle, so a seed reproduces a run (on the
    same machine and thread count). :attr:`learning_rate` is the base rate before decay and may be
    changed between epochs. A prebuilt ``network`` (for instance with hidden layers of different
    widths) replaces the one ``hidden_units``, ``layers`` and ``activation`` describe.
    """

    def __init__(
        self,
        data: Dataset,
        hp: Mapping[str, Any],
        rng: np.random.Generator,
        *,
        network: Network | None = None,
    ) -> None:
        self.config: TrainerConfig = parse_hyperparams(hp)
        config = self.config
        self.data = data
        self.rng = rng
        if network is None:
            network = Network(
                data.n_features,
                data.n_classes,
                hidden_units=config.hidden_units,
                layers=config.layers,
                activation=config.activation,
                rng=rng,
            )
        self.network = network
        self.optimizer = make_optimizer(
            config.optimizer,
            self.network.params.size,
            beta=config.beta,
            beta1=config.beta1,
            beta2=config.beta2,
            epsilon=config.epsilon,
        )
        self.learning_rate = config.learning_rate
        self.epochs_done = 0
        n_train = data.X_train.shape[0]
        self._bounds = batch_bounds(n_train, config.batch_size)
        self._x_buffers: dict[int, np.ndarray] = {}
        self._y_buffers: dict[int, np.ndarray] = {}
        for start, stop in self._bounds:
            size = stop - start
            if size not in self._x_buffers:
                self._x_buffers[size] = np.empty((size, data.n_features), dtype=np.float32)
                self._y_buffers[size] = np.empty(size, dtype=np.int64)

    def train_epoch(self, lr: float) -> float:
        """One pass of mini-batch updates over the shuffled train split with learning rate
        ``lr``; returns the mean mini-batch cross-entropy. Raises :class:`TrainingDiverged`."""
        config, network, optimizer = self.config, self.network, self.optimizer
        X, y_all = self.data.X_train, self.data.y_train
        epoch = self.epochs_done + 1
        order = self.rng.permutation(X.shape[0])
        total = 0.0
        with np.errstate(all="ignore"):  # divergence is detected from the loss, not warnings
            for step, (start, stop) in enumerate(self._bounds, start=1):
                index = order[start:stop]
                # mode="clip" writes straight into the buffer ("raise" buffers the result first);
                # the indices are a permutation, so nothing is ever clipped.
                x = np.take(X, index, axis=0, out=self._x_buffers[stop - start], mode="clip")
                y = np.take(y_all, index, out=self._y_buffers[stop - start], mode="clip")
                loss = network.forward_backward(x, y, l2=config.l2, bn_momentum=config.bn_momentum)
                if not math.isfinite(loss):
                    raise TrainingDiverged(epoch, step, "the mini-batch loss", loss)
                optimizer.step(network.params, network.grads, lr)
                total += loss * (stop - start)
        return total / X.shape[0]

    def run_epoch(self) -> dict[str, float]:
        """Train one epoch and return its metrics.

        ``train_loss``: mean cross-entropy of the epoch's mini-batches (train mode, weighted by
        batch size, without the L2 term); ``val_loss`` and ``val_accuracy``: test mode on the
        validation split; ``learning_rate``: the decayed rate used in this epoch.
        Raises :class:`TrainingDiverged` on a NaN or infinite loss.
        """
        config = self.config
        epoch = self.epochs_done + 1
        lr = decayed_learning_rate(
            self.learning_rate, config.lr_decay_kind, config.lr_decay, self.epochs_done
        )
        train_loss = self.train_epoch(lr)
        with np.errstate(all="ignore"):
            val_loss, val_accuracy = self.network.evaluate(self.data.X_val, self.data.y_val)
        if not math.isfinite(val_loss):
            raise TrainingDiverged(epoch, None, "the validation loss", val_loss)
        self.epochs_done = epoch
        return {
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "learning_rate": lr,
        }


@dataclass(frozen=True, eq=False)
class FitResult:
    """The outcome of :func:`fit`: one metrics dict per completed epoch, and the network."""

    history: list[dict[str, float]]
    stopped_early: bool
    network: Network

    @property
    def epochs(self) -> int:
        return len(self.history)

    @property
    def final(self) -> dict[str, float]:
        """The last completed epoch's metrics."""
        return self.history[-1]


def fit(
    data: Dataset,
    hp: Mapping[str, Any],
    rng: np.random.Generator,
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Train a network on ``data`` for ``hp["epochs"]`` epochs (default 20).

    ``hp``: trainer hyperparameters by their contract names (``caviar.trainer_params``); missing
    ones take their defaults. ``rng`` draws the initial weights and the shuffles. After each epoch
    ``on_epoch(epoch, metrics)`` is called with the 1-based epoch number and the metrics
    ``{"val_loss", "val_accuracy", "train_loss", "learning_rate"}`` (see
    :meth:`Trainer.run_epoch`); returning ``False`` stops training (``stopped_early``).

    Raises ``ValueError`` naming the key for an unknown or invalid hyperparameter (before any
    training), and :class:`TrainingDiverged` when the loss becomes NaN or infinite. Exceptions
    from ``on_epoch`` propagate.
    """
    trainer = Trainer(data, hp, rng)
    history: list[dict[str, float]] = []
    for _ in range(trainer.config.epochs):
        metrics = trainer.run_epoch()
        history.append(metrics)
        if on_epoch is not None and not on_epoch(trainer.epochs_done, dict(metrics)):
            return FitResult(history, stopped_early=True, network=trainer.network)
    return FitResult(history, stopped_early=False, network=trainer.network)
