"""Fused training: every member's values (weights, running averages, optimizer state, metrics
per epoch) equal those of the same trial trained alone by :class:`Trainer`, through live
changes, members leaving and joining, and exported states continued alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from caviar.trainer_params import parse_hyperparams
from worker.datasets import Dataset, load_builtin
from worker.nn import checkpoint
from worker.nn.fused import FusedTrainer, choose_fusion, fit_fused, plan_fusion
from worker.nn.training import Trainer, TrainingDiverged, TrainingState, fit

RTOL, ATOL = 1e-6, 1e-7
EPOCHS = 3
Hook = Callable[[Trainer], None]


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_builtin("digits")


def alone_run(
    data: Dataset,
    hp: dict[str, Any],
    seed: int,
    epochs: int = EPOCHS,
    on_batch: Hook | None = None,
    state: TrainingState | None = None,
) -> tuple[list[dict[str, float]], Trainer]:
    trainer = Trainer(data, hp, np.random.default_rng(seed), on_batch=on_batch)
    if state is not None:
        trainer.load_state(state)
    return [trainer.run_epoch() for _ in range(epochs)], trainer


def assert_same_run(
    fused_history: list[dict[str, float]],
    fused_state: TrainingState,
    history: list[dict[str, float]],
    trainer: Trainer,
) -> None:
    assert len(fused_history) == len(history)
    for got, want in zip(fused_history, history, strict=True):
        assert got.keys() == want.keys()
        for name in want:
            assert got[name] == pytest.approx(want[name], rel=RTOL, abs=ATOL), name
    want_state = trainer.state()
    np.testing.assert_allclose(fused_state.params, want_state.params, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(fused_state.running, want_state.running, rtol=RTOL, atol=ATOL)
    assert fused_state.optimizer.keys() == want_state.optimizer.keys()
    for name, value in want_state.optimizer.items():
        np.testing.assert_allclose(fused_state.optimizer[name], value, rtol=RTOL, atol=ATOL)
    assert fused_state.rng == want_state.rng
    assert (fused_state.epochs_done, fused_state.batches_done) == (
        want_state.epochs_done,
        want_state.batches_done,
    )


def fused_run(fused: FusedTrainer, epochs: int = EPOCHS) -> dict[Any, list[dict[str, float]]]:
    histories: dict[Any, list[dict[str, float]]] = {key: [] for key in fused.keys}
    for _ in range(epochs):
        for key, metrics in fused.run_epoch().items():
            assert not isinstance(metrics, TrainingDiverged), key
            histories.setdefault(key, []).append(metrics)
    return histories


# Every optimizer, each fused with members of every other layer kind: ReLU and tanh, with and
# without decay and L2, several widths (grouped by shape), 0, 1 and 3 hidden layers.
MEMBERS: list[dict[str, Any]] = [
    {"hidden_units": 32},
    {"hidden_units": 32, "activation": "tanh", "l2": 1e-3},
    {"hidden_units": 32, "activation": "tanh", "lr_decay_kind": "inverse_time", "lr_decay": 0.1},
    {"hidden_units": 32, "lr_decay_kind": "exponential", "lr_decay": 0.3, "l2": 1e-4},
    {"hidden_units": 48, "lr_decay_kind": "step", "lr_decay": 0.5},
    {
        "hidden_units": 16,
        "layers": 1,
        "activation": "tanh",
        "lr_decay_kind": "inverse_time",
        "lr_decay": 0.2,
    },
    {"hidden_units": 24, "layers": 3},
    {"layers": 0, "l2": 1e-3},
]


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "rmsprop", "adam"])
def test_each_member_equals_its_alone_run(digits: Dataset, optimizer: str) -> None:
    rate = {"gd": 0.1, "momentum": 0.05, "rmsprop": 0.003, "adam": 0.01}[optimizer]
    hps = [{**hp, "optimizer": optimizer, "learning_rate": rate} for hp in MEMBERS]
    fused = FusedTrainer(digits)
    for seed, hp in enumerate(hps):
        fused.add(seed, hp, np.random.default_rng(seed))
    # ReLU 32 x 2, tanh 32 x 2, and one group for each other shape
    assert sorted(len(g.members) for g in fused.groups) == [1, 1, 1, 1, 2, 2]
    histories = fused_run(fused)
    for seed, hp in enumerate(hps):
        history, trainer = alone_run(digits, hp, seed)
        assert_same_run(histories[seed], fused.state(seed), history, trainer)


def test_optimizer_kinds_share_one_fused_network(digits: Dataset) -> None:
    hps = [
        {"optimizer": kind, "hidden_units": 32, "beta": 0.8, "beta2": 0.99}
        for kind in ("adam", "gd", "rmsprop", "momentum", "adam")
    ]
    fused = FusedTrainer(digits)
    for seed, hp in enumerate(hps):
        fused.add(seed, hp, np.random.default_rng(seed))
    assert len(fused.groups) == 1
    histories = fused_run(fused)
    for seed, hp in enumerate(hps):
        history, trainer = alone_run(digits, hp, seed)
        assert_same_run(histories[seed], fused.state(seed), history, trainer)


@pytest.mark.parametrize("optimizer", ["gd", "momentum"])
def test_padded_members_of_other_widths_equal_their_alone_runs(
    digits: Dataset, optimizer: str
) -> None:
    # Padding changes the order of BLAS's sums over the padded widths, so the values agree to
    # float32 rounding after a few epochs, not bit for bit.
    hps = [
        {"optimizer": optimizer, "learning_rate": 0.05, "hidden_units": width}
        for width in (17, 64, 40)
    ]
    fused = FusedTrainer(digits, pad=True)
    for seed, hp in enumerate(hps):
        fused.add(seed, hp, np.random.default_rng(seed))
    assert len(fused.groups) == 1 and fused.groups[0].widths == (64, 64)
    histories = fused_run(fused)
    for seed, hp in enumerate(hps):
        history, trainer = alone_run(digits, hp, seed)
        for got, want in zip(histories[seed], history, strict=True):
            for name in want:
                assert got[name] == pytest.approx(want[name], rel=1e-4), name
        np.testing.assert_allclose(
            fused.state(seed).params, trainer.state().params, rtol=1e-3, atol=1e-5
        )


def schedule_hook(
    schedule: dict[int, dict[str, Any]],
) -> Callable[[Trainer], None]:
    def on_batch(trainer: Trainer) -> None:
        if trainer.batches_done in schedule:
            trainer.apply_overrides(schedule[trainer.batches_done])

    return on_batch


@pytest.mark.parametrize(
    "change",
    [
        {"learning_rate": 0.003, "beta1": 0.7, "beta2": 0.99, "l2": 1e-3},
        {"batch_size": 40, "lr_decay_kind": "inverse_time", "lr_decay": 0.5},
    ],
)
def test_a_set_changes_only_its_member(digits: Dataset, change: dict[str, Any]) -> None:
    hps = [{"hidden_units": 32, "optimizer": kind} for kind in ("adam", "adam", "momentum")]
    at = 30  # mini-batches into the run: epoch 2

    def on_batch(fused: FusedTrainer, keys: list[Any]) -> None:
        if 1 in keys and fused.state(1).batches_done == at:
            fused.apply_overrides(1, change)

    fused = FusedTrainer(digits, on_batch=on_batch)
    for seed, hp in enumerate(hps):
        fused.add(seed, hp, np.random.default_rng(seed))
    histories = fused_run(fused)
    for seed, hp in enumerate(hps):
        hook = schedule_hook({at: change}) if seed == 1 else None
        history, trainer = alone_run(digits, hp, seed, on_batch=hook)
        assert_same_run(histories[seed], fused.state(seed), history, trainer)
    assert fused.state(1).overrides == change
    unchanged, _ = alone_run(digits, hps[1], 1)
    assert histories[1][-1]["val_loss"] != pytest.approx(unchanged[-1]["val_loss"], rel=1e-6)


def test_a_member_leaves_mid_epoch_and_continues_alone(digits: Dataset) -> None:
    hps = [{"hidden_units": 32, "optimizer": kind} for kind in ("rmsprop", "adam", "momentum")]
    left: dict[str, TrainingState] = {}

    def on_batch(fused: FusedTrainer, keys: list[Any]) -> None:
        if 1 in keys and fused.state(1).batches_done == 35:  # epoch 2, mid-epoch
            left["state"] = fused.remove(1)

    fused = FusedTrainer(digits, on_batch=on_batch)
    for seed, hp in enumerate(hps):
        fused.add(seed, hp, np.random.default_rng(seed))
    histories = fused_run(fused)
    assert 1 not in fused and len(fused) == 2
    for seed in (0, 2):
        history, trainer = alone_run(digits, hps[seed], seed)
        assert_same_run(histories[seed], fused.state(seed), history, trainer)
    # The member that left resumes alone and matches the run that was never fused.
    state = checkpoint.loads(checkpoint.dumps(left["state"]))  # as the worker would save it
    assert state.position > 0 and state.order is not None
    assert len(histories[1]) == 1  # it left during its second epoch
    resumed, alone = alone_run(digits, hps[1], 99, epochs=EPOCHS - 1, state=state)
    history, trainer = alone_run(digits, hps[1], 1)
    assert_same_run(histories[1] + resumed, alone.state(), history, trainer)


def test_a_member_joins_from_an_alone_state(digits: Dataset) -> None:
    hp = {"hidden_units": 32, "optimizer": "adam", "lr_decay_kind": "exponential", "lr_decay": 0.1}

    class Pause(Exception):
        pass

    def pause(trainer: Trainer) -> None:
        if trainer.batches_done == 40:
            raise Pause

    paused = Trainer(digits, hp, np.random.default_rng(5), on_batch=pause)
    first = [paused.run_epoch()]
    with pytest.raises(Pause):
        paused.run_epoch()
    state = paused.state()
    fused = FusedTrainer(digits)
    fused.add("resumed", hp, np.random.default_rng(123), state=state)
    fused.add("fresh", {**hp, "optimizer": "momentum"}, np.random.default_rng(6))
    assert len(fused.groups) == 2  # not at the same place in the epoch
    history = fused_run(fused, epochs=EPOCHS - 1)
    want, trainer = alone_run(digits, hp, 5)
    assert_same_run(first + history["resumed"], fused.state("resumed"), want, trainer)
    assert len(fused.groups) == 1  # both between epochs now: merged


def test_a_diverging_member_leaves_and_the_others_go_on(digits: Dataset) -> None:
    hps = [
        {"hidden_units": 32, "optimizer": "gd", "learning_rate": 1e30},
        {"hidden_units": 32, "optimizer": "gd", "learning_rate": 0.1},
    ]
    fused = FusedTrainer(digits)
    for seed, hp in enumerate(hps):
        fused.add(seed, hp, np.random.default_rng(seed))
    results = fused.run_epoch()
    assert isinstance(results[0], TrainingDiverged)
    assert list(fused.keys) == [1]
    history = [results[1], *fused_run(fused, epochs=EPOCHS - 1)[1]]
    want, trainer = alone_run(digits, hps[1], 1)
    assert_same_run(history, fused.state(1), want, trainer)  # type: ignore[arg-type]


def test_fit_fused_gives_each_trial_the_history_fit_gives_it_alone(digits: Dataset) -> None:
    hps = {
        "short": {"hidden_units": 32, "optimizer": "adam", "epochs": 2},
        "long": {"hidden_units": 32, "optimizer": "momentum", "epochs": 4},
        "pruned": {"hidden_units": 32, "optimizer": "rmsprop", "epochs": 4},
        "diverged": {"hidden_units": 32, "optimizer": "gd", "learning_rate": 1e30},
    }
    seeds = {key: seed for seed, key in enumerate(hps)}

    def on_epoch(key: Any, epoch: int, metrics: dict[str, float]) -> bool:
        return not (key == "pruned" and epoch == 2)

    results = fit_fused(
        digits, {key: (hp, np.random.default_rng(seeds[key])) for key, hp in hps.items()}, on_epoch
    )
    assert [len(results[key].history) for key in hps] == [2, 4, 2, 0]
    assert results["pruned"].stopped_early and not results["long"].stopped_early
    assert isinstance(results["diverged"].error, TrainingDiverged)
    with pytest.raises(TrainingDiverged) as alone_error:
        fit(digits, hps["diverged"], np.random.default_rng(seeds["diverged"]))
    assert results["diverged"].error is not None
    assert (results["diverged"].error.epoch, results["diverged"].error.step) == (
        alone_error.value.epoch,
        alone_error.value.step,
    )
    for key in ("short", "long", "pruned"):
        epochs = len(results[key].history)
        history, trainer = alone_run(digits, hps[key], seeds[key], epochs=epochs)
        state = results[key].state
        assert state is not None
        assert_same_run(results[key].history, state, history, trainer)


def test_choose_fusion_fuses_small_networks_only() -> None:
    assert choose_fusion(64, 32, available=8) == 8
    assert choose_fusion(64, 64, available=40) == 16  # at most 16 at once
    assert choose_fusion(64, 128, available=8) == 1  # arithmetic dominates: no gain
    assert choose_fusion(256, 32, available=8) == 1  # large batches: the same
    assert choose_fusion(64, 32, available=2) == 1  # two gain nothing


def test_plan_fusion_groups_trials_by_exact_shape() -> None:
    widths = [32, 32, 128, 32, 17, 32, 128, 128, 128]
    configs = [parse_hyperparams({"hidden_units": w}) for w in widths]
    plan = plan_fusion(configs)
    assert sorted(map(sorted, plan)) == [[0, 1, 3, 5], [2], [4], [6], [7], [8]]
    padded = plan_fusion(configs, pad=True)
    assert sorted(map(sorted, padded)) == [[0, 1, 3, 4, 5], [2], [6], [7], [8]]
