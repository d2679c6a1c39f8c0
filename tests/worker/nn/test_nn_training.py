"""The training loop: accuracy on digits, divergence, early stopping, mini-batches, seeds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from worker.datasets import Dataset, load_builtin, split_dataset
from worker.nn import TrainingDiverged, fit
from worker.nn.training import Trainer, batch_bounds


def test_digits_reaches_95_percent_in_seconds() -> None:
    # Ten epochs of the default network (2 hidden layers of 128, Batch Norm, Adam): ~0.3 s.
    data = load_builtin("digits")
    result = fit(data, {"layers": 2, "optimizer": "adam", "epochs": 10}, np.random.default_rng(0))
    assert result.final["val_accuracy"] >= 0.95
    assert result.final["val_loss"] < 1.0  # chance level is ln 10 ≈ 2.3


@pytest.mark.parametrize(
    "hp",
    [
        {"optimizer": "gd", "learning_rate": 0.5, "activation": "tanh"},
        {
            "optimizer": "momentum",
            "learning_rate": 0.2,
            "lr_decay_kind": "inverse_time",
            "lr_decay": 0.1,
        },
        {"optimizer": "rmsprop", "learning_rate": 0.003, "l2": 1e-3, "batch_size": 30},
    ],
)
def test_every_optimizer_learns_the_blobs(hp: dict[str, object]) -> None:
    result = fit(load_builtin("blobs"), {**hp, "epochs": 8}, np.random.default_rng(1))
    assert result.final["val_accuracy"] > 0.85  # chance is 1/3


def test_huge_learning_rate_raises_training_diverged_without_warnings() -> None:
    data = load_builtin("spirals")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDiverged, match=r"diverged at epoch \d+") as caught:
            fit(
                data,
                {"optimizer": "gd", "learning_rate": 1e30, "epochs": 5},
                np.random.default_rng(0),
            )
    assert caught.value.epoch >= 1


def test_on_epoch_receives_metrics_and_can_stop_training() -> None:
    seen: list[tuple[int, dict[str, float]]] = []

    def on_epoch(epoch: int, metrics: dict[str, float]) -> bool:
        seen.append((epoch, metrics))
        return epoch < 3

    result = fit(load_builtin("blobs"), {"epochs": 10}, np.random.default_rng(0), on_epoch)
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    assert result.stopped_early and result.epochs == 3
    assert set(seen[0][1]) == {"val_loss", "val_accuracy", "train_loss", "learning_rate"}
    assert all(np.isfinite(v) for _, metrics in seen for v in metrics.values())


def test_runs_all_epochs_when_on_epoch_agrees() -> None:
    result = fit(load_builtin("blobs"), {"epochs": 4}, np.random.default_rng(0), lambda e, m: True)
    assert result.epochs == 4 and not result.stopped_early


def test_unknown_hyperparameter_is_rejected_before_training() -> None:
    with pytest.raises(ValueError, match="'momentum_beta'"):
        fit(load_builtin("blobs"), {"momentum_beta": 0.9}, np.random.default_rng(0))


def test_same_seed_same_run_other_seed_other_run() -> None:
    data = load_builtin("spirals")
    runs = [fit(data, {"epochs": 2}, np.random.default_rng(seed)).history for seed in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_learning_rate_decays_by_epoch_and_can_be_changed_between_epochs() -> None:
    hp = {"learning_rate": 0.1, "lr_decay_kind": "inverse_time", "lr_decay": 1.0}
    trainer = Trainer(load_builtin("blobs"), hp, np.random.default_rng(0))
    assert trainer.run_epoch()["learning_rate"] == pytest.approx(0.1)
    assert trainer.run_epoch()["learning_rate"] == pytest.approx(0.05)
    trainer.learning_rate = 0.3
    assert trainer.run_epoch()["learning_rate"] == pytest.approx(0.1)


def test_batch_bounds_cover_every_sample_once() -> None:
    assert batch_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_bounds(8, 4) == [(0, 4), (4, 8)]
    assert batch_bounds(5, 64) == [(0, 5)]
    # a last batch of one joins the one before it: Batch Norm cannot train on one sample
    assert batch_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert batch_bounds(3, 2) == [(0, 3)]


def test_a_trailing_single_sample_trains() -> None:
    features = np.random.default_rng(2).standard_normal((46, 3))
    labels = np.arange(46) % 2
    data = split_dataset("tiny", features, labels, ("even", "odd"))
    assert data.X_train.shape[0] % 5 == 1  # 36 = 7·5 + 1
    result = fit(data, {"batch_size": 5, "epochs": 2}, np.random.default_rng(0))
    assert result.epochs == 2


def test_a_divergence_names_its_mini_batch_after_a_batch_size_change() -> None:
    # Batches of 32, 32, then of 10 from the third on; the fifth mini-batch meets NaN weights.
    trainer = Trainer(load_builtin("digits"), {"batch_size": 32}, np.random.default_rng(0))
    calls = []

    def on_batch(t: Trainer) -> None:
        calls.append(t.position)
        if len(calls) == 3:
            t.apply_overrides({"batch_size": 10})
        if len(calls) == 5:
            t.network.params[...] = np.nan

    trainer.on_batch = on_batch
    with pytest.raises(TrainingDiverged) as diverged:
        trainer.run_epoch()
    assert calls == [0, 32, 64, 74, 84]
    assert (diverged.value.epoch, diverged.value.step) == (1, 5)
    assert trainer.state().epoch_batches == 4


class Stop(Exception):
    pass


def stopped_mid_epoch(data: Dataset, hp: dict[str, object], batches: int) -> Trainer:
    """A trainer stopped before the mini-batch after ``batches`` of its first epoch."""

    def on_batch(t: Trainer) -> None:
        if t.batches_done == batches:
            raise Stop

    trainer = Trainer(data, hp, np.random.default_rng(0), on_batch=on_batch)
    with pytest.raises(Stop):
        trainer.train_epoch()
    return trainer


def test_the_mini_batch_count_survives_a_checkpoint() -> None:
    from worker.nn import checkpoint

    data, hp = load_builtin("blobs"), {"batch_size": 16}
    trainer = stopped_mid_epoch(data, hp, 3)
    restored = Trainer(data, hp, np.random.default_rng(1))
    restored.load_state(checkpoint.loads(checkpoint.dumps(trainer.state())))
    assert restored.epoch_batches == 3 and restored.position == 48


def test_a_checkpoint_without_the_count_takes_it_from_the_position() -> None:
    import dataclasses

    data, hp = load_builtin("blobs"), {"batch_size": 16}
    older = dataclasses.replace(stopped_mid_epoch(data, hp, 3).state(), epoch_batches=0)
    restored = Trainer(data, hp, np.random.default_rng(1))
    restored.load_state(older)  # a state written before the count
    assert restored.epoch_batches == 3
