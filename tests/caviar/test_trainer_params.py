"""The trainer's hyperparameters: defaults from the contract, and errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from caviar.trainer_params import parse_hyperparams, trainer_defaults


def test_defaults_come_from_the_contract() -> None:
    config = parse_hyperparams({})
    assert vars(config) == trainer_defaults()


def test_given_values_override_defaults_and_integral_floats_become_ints() -> None:
    config = parse_hyperparams({"learning_rate": 0.5, "batch_size": 32.0, "optimizer": "gd"})
    assert config.learning_rate == 0.5
    assert config.batch_size == 32 and isinstance(config.batch_size, int)
    assert config.optimizer == "gd"


def test_unknown_key_is_named() -> None:
    with pytest.raises(ValueError, match="'lerning_rate'"):
        parse_hyperparams({"lerning_rate": 0.1})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("learning_rate", 0.0),
        ("learning_rate", "0.1"),
        ("learning_rate", float("nan")),
        ("beta", 1.0),
        ("beta2", -0.1),
        ("bn_momentum", 1.0),
        ("epsilon", 0.0),
        ("batch_size", 1),
        ("batch_size", 32.5),
        ("batch_size", True),
        ("hidden_units", 0),
        ("layers", -1),
        ("activation", "sigmoid"),
        ("optimizer", "sgd"),
        ("lr_decay_kind", "cosine"),
        ("lr_decay", -0.1),
        ("l2", -1e-3),
        ("epochs", 0),
    ],
)
def test_invalid_values_are_named(key: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"'{key}'"):
        parse_hyperparams({key: value})
