"""Panda mode in the trainer: live overrides between mini-batches, and a complete training state
whose restore continues a run bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from worker.datasets import load_builtin
from worker.nn import checkpoint
from worker.nn.optimizers import make_optimizer
from worker.nn.training import Trainer, TrainingState, fit

Schedule = dict[int, dict[str, Any]]  # mini-batch number (0-based, whole run) -> overrides


class Paused(Exception):
    def __init__(self, state: bytes) -> None:
        self.state = state


def hook(schedule: Schedule, pause_at: int | None = None) -> Callable[[Trainer], None]:
    """Apply ``schedule`` before the given mini-batches; pause (saving the state) at one."""

    def on_batch(trainer: Trainer) -> None:
        if trainer.batches_done == pause_at:
            raise Paused(checkpoint.dumps(trainer.state()))
        if trainer.batches_done in schedule:
            trainer.apply_overrides(schedule[trainer.batches_done])

    return on_batch


@pytest.mark.parametrize(
    ("hp", "pause_at"),
    [
        ({"optimizer": "adam", "batch_size": 50}, 23),  # mid-epoch, after the changes
        ({"optimizer": "momentum", "lr_decay_kind": "exponential", "lr_decay": 0.2}, 5),
        ({"optimizer": "rmsprop", "l2": 1e-3}, 36),  # exactly between two epochs
    ],
)
def test_a_paused_run_resumes_bit_for_bit(hp: dict[str, Any], pause_at: int) -> None:
    data = load_builtin("digits")
    hp = {**hp, "epochs": 4, "hidden_units": 32}
    schedule: Schedule = {
        3: {"learning_rate": 0.003, "beta": 0.8, "beta1": 0.7, "beta2": 0.99},
        9: {"batch_size": 40, "l2": 1e-4},
        30: {"learning_rate": 0.02},
    }
    whole = fit(data, hp, np.random.default_rng(7), on_batch=hook(schedule))

    epochs: list[dict[str, float]] = []
    with pytest.raises(Paused) as paused:
        fit(
            data,
            hp,
            np.random.default_rng(7),
            lambda _, metrics: epochs.append(metrics) or True,
            on_batch=hook(schedule, pause_at),
        )
    state = checkpoint.loads(paused.value.state)
    # Another process would build its trainer from another generator: the state replaces it.
    rest = fit(data, hp, np.random.default_rng(12345), on_batch=hook(schedule), resume=state)

    assert epochs + rest.history == whole.history
    assert rest.network.params.tobytes() == whole.network.params.tobytes()
    assert checkpoint.weights_digest(rest.network.params) == checkpoint.weights_digest(
        whole.network.params
    )
    np.testing.assert_array_equal(rest.network._running, whole.network._running)


def test_an_override_holds_from_the_next_mini_batch_on() -> None:
    data = load_builtin("blobs")
    hp = {"optimizer": "gd", "learning_rate": 0.1, "epochs": 2, "batch_size": 32}
    seen: list[tuple[int, float, bytes]] = []

    def record(schedule: Schedule) -> Callable[[Trainer], None]:
        apply = hook(schedule)

        def on_batch(trainer: Trainer) -> None:
            apply(trainer)
            seen.append(
                (
                    trainer.batches_done,
                    trainer.current_learning_rate,
                    trainer.network.params.tobytes(),
                )
            )

        return on_batch

    plain = fit(data, hp, np.random.default_rng(0), on_batch=record({}))
    before = list(seen)
    seen.clear()
    changed = fit(data, hp, np.random.default_rng(0), on_batch=record({5: {"learning_rate": 0.01}}))
    # Identical up to and including the weights that mini-batch 5 starts from ...
    assert [s[2] for s in seen[:6]] == [s[2] for s in before[:6]]
    # ... and from mini-batch 5 on it uses the new rate (gd: a different update at once).
    assert [s[1] for s in seen[:5]] == [0.1] * 5
    assert all(s[1] == 0.01 for s in seen[5:])
    assert seen[6][2] != before[6][2]
    assert plain.history[-1]["learning_rate"] == 0.1
    assert [m["learning_rate"] for m in changed.history] == [0.01, 0.01]


def test_structural_and_invalid_overrides_name_the_parameter() -> None:
    trainer = Trainer(load_builtin("blobs"), {"epochs": 1}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="'hidden_units' can't change while training; fork"):
        trainer.apply_overrides({"hidden_units": 8})
    with pytest.raises(ValueError, match="'learning_rate' must be > 0"):
        trainer.apply_overrides({"learning_rate": -1.0})
    assert trainer.overrides == {}  # a refused change leaves the run as it was


def test_a_fork_edit_wins_over_the_checkpoint_overrides() -> None:
    data = load_builtin("blobs")
    parent = Trainer(data, {"learning_rate": 0.1}, np.random.default_rng(0))
    parent.apply_overrides({"learning_rate": 0.05, "l2": 0.01})
    parent.run_epoch()
    state: TrainingState = checkpoint.loads(checkpoint.dumps(parent.state()))
    child = Trainer(data, {"learning_rate": 0.3}, np.random.default_rng(1))
    child.load_state(state)
    assert child.learning_rate == 0.3  # the fork's edit
    assert child.config.l2 == 0.01  # the parent's live change carries over
    resumed = Trainer(data, {"learning_rate": 0.1}, np.random.default_rng(1))
    resumed.load_state(state)
    assert resumed.learning_rate == 0.05  # a plain resume keeps the parent's change


@pytest.mark.parametrize(("name", "beta"), [("momentum", "beta"), ("adam", "beta1")])
def test_changing_a_beta_keeps_the_moment(name: str, beta: str) -> None:
    rng = np.random.default_rng(0)
    optimizer = make_optimizer(name, 5)
    params = np.zeros(5, dtype=np.float32)
    optimizer.step(params, rng.normal(size=5).astype(np.float32), 0.1)
    moment = next(iter(optimizer.state().values()))
    unscaled = moment * (1 - getattr(optimizer, beta))
    optimizer.set_betas(**{beta: 0.5})
    rescaled = next(iter(optimizer.state().values()))
    np.testing.assert_allclose(rescaled * 0.5, unscaled, rtol=1e-6)


def test_a_checkpoint_is_never_a_pickle() -> None:
    with pytest.raises(ValueError, match="not a Caviar checkpoint"):
        checkpoint.loads(b"definitely not an npz")
