"""The training loop of the ``train`` objective: mini-batch training with per-epoch reports.

:func:`fit` trains a run to its end. :class:`Trainer` runs one mini-batch at a time, calls a hook
between mini-batches (live hyperparameter changes, pause) and saves and restores its complete
state, so a paused run continues bit for bit in another process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from caviar.trainer_params import LIVE_PARAMS, TrainerConfig, not_live, parse_hyperparams
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


def batch_stop(start: int, n: int, batch_size: int) -> int:
    """Where the mini-batch that starts at sample ``start`` of an epoch of ``n`` ends: after
    ``batch_size`` samples or at the epoch's end; a remainder of a single sample joins this
    batch, because Batch Norm cannot train on one sample."""
    stop = min(start + batch_size, n)
    return n if n - stop == 1 else stop


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of the mini-batches of an epoch of ``n`` ≥ 2 samples, cut by
    :func:`batch_stop`: full batches, then the remainder. ``batch_size ≥ n`` gives one batch."""
    if n < 2 or batch_size < 2:
        raise ValueError("mini-batches need n ≥ 2 samples and batch_size ≥ 2")
    bounds = [(0, batch_stop(0, n, batch_size))]
    while bounds[-1][1] < n:
        start = bounds[-1][1]
        bounds.append((start, batch_stop(start, n, batch_size)))
    return bounds


BatchHook = Callable[["Trainer"], None]


class Trainer:
    """A network, its optimizer and its data, trained one mini-batch at a time.

    ``hp`` uses the names of ``caviar.trainer_params`` (see :func:`parse_hyperparams`). ``rng``
    draws the initial weights and then each epoch's shuffle, so a seed reproduces a run (on the
    same machine and thread count). A prebuilt ``network`` (for instance with hidden layers of
    different widths) replaces the one ``hidden_units``, ``layers`` and ``activation`` describe.

    ``on_batch(trainer)`` is called before every mini-batch, when the trainer's state is whole:
    it may call :meth:`apply_overrides` (the change holds from that mini-batch on), save
    :meth:`state`, or raise to stop the run there. :attr:`position` is the number of samples of
    the current epoch already trained; a restored state continues exactly where it stopped.
    """

    def __init__(
        self,
        data: Dataset,
        hp: Mapping[str, Any],
        rng: np.random.Generator,
        *,
        network: Network | None = None,
        on_batch: BatchHook | None = None,
    ) -> None:
        self.base_hp: dict[str, Any] = dict(hp)
        self.overrides: dict[str, Any] = {}
        self.config: TrainerConfig = parse_hyperparams(hp)
        config = self.config
        self.data = data
        self.rng = rng
        self.on_batch = on_batch
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
        self.batches_done = 0  # mini-batches trained over the whole run
        self.position = 0  # samples of the current epoch already trained
        self.epoch_batches = 0  # mini-batches of the current epoch already trained
        self._order: np.ndarray | None = None  # the current epoch's shuffle, None between epochs
        self._epoch_total = 0.0  # Σ loss·batch size over the current epoch so far
        self._x_buffers: dict[int, np.ndarray] = {}
        self._y_buffers: dict[int, np.ndarray] = {}

    @property
    def current_learning_rate(self) -> float:
        """The decayed rate the next mini-batch uses."""
        config = self.config
        return decayed_learning_rate(
            self.learning_rate, config.lr_decay_kind, config.lr_decay, self.epochs_done
        )

    def apply_overrides(self, values: Mapping[str, Any]) -> None:
        """Change live hyperparameters (``caviar.trainer_params.LIVE_PARAMS``) from the next
        mini-batch on. ``learning_rate`` is the base rate: a decay schedule still applies to it.
        Raises ``ValueError`` naming a key that is unknown, invalid or not live."""
        structural = not_live(values)
        if structural:
            raise ValueError(
                f"hyperparameter {structural[0]!r} can't change while training; fork instead"
            )
        overrides = {**self.overrides, **values}
        config = parse_hyperparams({**self.base_hp, **overrides})
        self.overrides = overrides
        self.config = config
        self.learning_rate = config.learning_rate
        self.optimizer.set_betas(beta=config.beta, beta1=config.beta1, beta2=config.beta2)

    def _buffers(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        if size not in self._x_buffers:
            self._x_buffers[size] = np.empty((size, self.data.n_features), dtype=np.float32)
            self._y_buffers[size] = np.empty(size, dtype=np.int64)
        return self._x_buffers[size], self._y_buffers[size]

    def train_epoch(self, lr: float | None = None) -> float:
        """Finish the current epoch (or run a whole one) of mini-batch updates over the shuffled
        train split; returns the mean mini-batch cross-entropy. ``lr`` fixes the rate (for
        benchmarks); by default each mini-batch uses :attr:`current_learning_rate`. Raises
        :class:`TrainingDiverged`."""
        network = self.network
        X, y_all = self.data.X_train, self.data.y_train
        n = X.shape[0]
        epoch = self.epochs_done + 1
        if self._order is None:
            self._order = self.rng.permutation(n)
            self.position, self._epoch_total, self.epoch_batches = 0, 0.0, 0
        order = self._order
        with np.errstate(all="ignore"):  # divergence is detected from the loss, not warnings
            while self.position < n:
                if self.on_batch is not None:
                    self.on_batch(self)
                start = self.position
                stop = batch_stop(start, n, self.config.batch_size)
                index = order[start:stop]
                x_buffer, y_buffer = self._buffers(stop - start)
                # mode="clip" writes straight into the buffer ("raise" buffers the result first);
                # the indices are a permutation, so nothing is ever clipped.
                x = np.take(X, index, axis=0, out=x_buffer, mode="clip")
                y = np.take(y_all, index, out=y_buffer, mode="clip")
                config = self.config
                loss = network.forward_backward(x, y, l2=config.l2, bn_momentum=config.bn_momentum)
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        epoch, self.epoch_batches + 1, "the mini-batch loss", loss
                    )
                self.optimizer.step(
                    network.params, network.grads, self.current_learning_rate if lr is None else lr
                )
                self._epoch_total += loss * (stop - start)
                self.position = stop
                self.batches_done += 1
                self.epoch_batches += 1
        self._order = None
        return self._epoch_total / n

    def run_epoch(self) -> dict[str, float]:
        """Train (the rest of) one epoch and return its metrics.

        ``train_loss``: mean cross-entropy of the epoch's mini-batches (train mode, weighted by
        batch size, without the L2 term); ``val_loss`` and ``val_accuracy``: test mode on the
        validation split; ``learning_rate``: the effective (decayed) rate of the epoch's last
        mini-batch. Raises :class:`TrainingDiverged` on a NaN or infinite loss.
        """
        epoch = self.epochs_done + 1
        train_loss = self.train_epoch()
        lr = self.current_learning_rate
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

    def state(self) -> TrainingState:
        """Everything the run needs to continue bit for bit elsewhere (copies)."""
        return TrainingState(
            params=self.network.params.copy(),
            running=self.network._running.copy(),
            optimizer=self.optimizer.state(),
            order=None if self._order is None else self._order.copy(),
            rng=self.rng.bit_generator.state,
            epochs_done=self.epochs_done,
            batches_done=self.batches_done,
            position=self.position,
            epoch_batches=self.epoch_batches,
            epoch_total=self._epoch_total,
            base_hp=dict(self.base_hp),
            overrides=dict(self.overrides),
        )

    def load_state(self, state: TrainingState) -> None:
        """Continue from ``state``. The trainer must have been built with the same network
        shape. The state's overrides apply, except for a live hyperparameter whose value in this
        trainer's ``hp`` differs from the state's own base: that edit (a fork's) wins."""
        network = self.network
        if state.params.shape != network.params.shape or state.params.dtype != network.params.dtype:
            raise ValueError(
                f"the checkpoint holds {state.params.size} parameters of {state.params.dtype}; "
                f"this network has {network.params.size} of {network.params.dtype}"
            )
        edits = {
            k: v
            for k, v in self.base_hp.items()
            if k in LIVE_PARAMS and state.base_hp.get(k, v) != v
        }
        self.base_hp = dict(state.base_hp)
        self.overrides = {}
        # The state's own betas first, so its scaled moments load as they were saved; a fork's
        # edited beta then rescales them like any live change.
        self.apply_overrides(state.overrides)
        network.params[...] = state.params
        network._running[...] = state.running
        self.optimizer.load_state(state.optimizer)
        self.apply_overrides(edits)
        self.rng.bit_generator.state = state.rng
        self.epochs_done = state.epochs_done
        self.batches_done = state.batches_done
        self.position = state.position
        self.epoch_batches = state.epoch_batches
        if not state.epoch_batches and state.position:  # a checkpoint from before the count
            self.epoch_batches = -(-state.position // self.config.batch_size)
        self._order = None if state.order is None else state.order.copy()
        self._epoch_total = state.epoch_total


@dataclass(eq=False)
class TrainingState:
    """A run's complete state between two mini-batches (see :meth:`Trainer.state`)."""

    params: np.ndarray
    running: np.ndarray  # Batch Norm's running [μ..., σ²...]
    optimizer: dict[str, np.ndarray]
    order: np.ndarray | None  # the current epoch's shuffle, None between epochs
    rng: dict[str, Any]  # np.random.Generator.bit_generator.state
    epochs_done: int
    batches_done: int
    position: int
    epoch_total: float
    base_hp: dict[str, Any]
    overrides: dict[str, Any]
    epoch_batches: int = 0  # mini-batches of the current epoch already trained


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
    *,
    on_batch: BatchHook | None = None,
    resume: TrainingState | None = None,
) -> FitResult:
    """Train a network on ``data`` for ``hp["epochs"]`` epochs (default 20).

    ``hp``: trainer hyperparameters by their contract names (``caviar.trainer_params``); missing
    ones take their defaults. ``rng`` draws the initial weights and the shuffles. After each epoch
    ``on_epoch(epoch, metrics)`` is called with the 1-based epoch number and the metrics
    ``{"val_loss", "val_accuracy", "train_loss", "learning_rate"}`` (see
    :meth:`Trainer.run_epoch`); returning ``False`` stops training (``stopped_early``).

    ``on_batch`` is the trainer's hook between mini-batches (see :class:`Trainer`). With
    ``resume`` the run continues from that state (the history then holds only the epochs run
    here).

    Raises ``ValueError`` naming the key for an unknown or invalid hyperparameter (before any
    training), and :class:`TrainingDiverged` when the loss becomes NaN or infinite. Exceptions
    from ``on_epoch`` and ``on_batch`` propagate.
    """
    trainer = Trainer(data, hp, rng, on_batch=on_batch)
    if resume is not None:
        trainer.load_state(resume)
    history: list[dict[str, float]] = []
    while trainer.epochs_done < trainer.config.epochs:
        metrics = trainer.run_epoch()
        history.append(metrics)
        if on_epoch is not None and not on_epoch(trainer.epochs_done, dict(metrics)):
            return FitResult(history, stopped_early=True, network=trainer.network)
    return FitResult(history, stopped_early=False, network=trainer.network)
