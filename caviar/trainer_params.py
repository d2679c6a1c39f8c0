"""The ``train`` objective's contract: which hyperparameters the NumPy trainer accepts, their
defaults and their valid ranges.

The api checks a train study's space bounds and ``fixed`` values with :func:`parse_hyperparams`,
so an unknown name or an out-of-range value is a 422 at study creation instead of a failed trial
later; the worker's trainer parses every trial's values with the same function. Integers may
arrive as integral floats (``64.0``); booleans are never numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Dataset = str  # "digits", "blobs", "spirals", or an uploaded dataset "name" / "name@version"
BUILTIN_DATASETS = ("digits", "blobs", "spirals")
Metric = Literal["val_loss", "val_accuracy", "train_loss"]

# name -> (default, kind, allowed values or None)
TRAINER_PARAMS: dict[str, tuple[Any, str, tuple[Any, ...] | None]] = {
    "learning_rate": (0.01, "float", None),
    "optimizer": ("adam", "categorical", ("gd", "momentum", "rmsprop", "adam")),
    "beta": (0.9, "float", None),
    "beta1": (0.9, "float", None),
    "beta2": (0.999, "float", None),
    "epsilon": (1e-8, "float", None),
    "batch_size": (64, "int", None),
    "hidden_units": (128, "int", None),
    "layers": (2, "int", None),
    "activation": ("relu", "categorical", ("relu", "tanh")),
    "lr_decay": (0.0, "float", None),
    "lr_decay_kind": ("none", "categorical", ("none", "inverse_time", "exponential", "step")),
    "l2": (0.0, "float", None),
    "bn_momentum": (0.9, "float", None),
    "epochs": (20, "int", None),
}


# The hyperparameters a person may change while a trial trains (panda mode's ``set``). The
# others shape the network or the run (hidden_units, layers, activation, optimizer, epsilon,
# bn_momentum, epochs): changing them needs a fresh run, so they are forked instead.
LIVE_PARAMS: tuple[str, ...] = (
    "learning_rate",
    "beta",
    "beta1",
    "beta2",
    "l2",
    "batch_size",
    "lr_decay",
    "lr_decay_kind",
)


def not_live(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that cannot change while training, in order."""
    return [name for name in names if name not in LIVE_PARAMS]


def trainer_defaults() -> dict[str, Any]:
    return {name: spec[0] for name, spec in TRAINER_PARAMS.items()}


MAX_HIDDEN_UNITS = 16_384
MAX_LAYERS = 64


@dataclass(frozen=True)
class TrainerConfig:
    """The trainer's hyperparameters after validation (names as in the contract)."""

    learning_rate: float
    optimizer: str
    beta: float
    beta1: float
    beta2: float
    epsilon: float
    batch_size: int
    hidden_units: int
    layers: int
    activation: str
    lr_decay: float
    lr_decay_kind: str
    l2: float
    bn_momentum: float
    epochs: int


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"hyperparameter {key!r} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"hyperparameter {key!r} must be finite, got {value!r}")
    return float(value)


def _integer(key: str, value: Any) -> int:
    number = _number(key, value)
    if not number.is_integer():
        raise ValueError(f"hyperparameter {key!r} must be an integer, got {value!r}")
    return int(number)


def _check(key: str, ok: bool, value: Any, rule: str) -> None:
    if not ok:
        raise ValueError(f"hyperparameter {key!r} must be {rule}, got {value!r}")


def parse_hyperparams(hp: Mapping[str, Any]) -> TrainerConfig:
    """Defaults overridden by ``hp``; ``ValueError`` naming the key for an unknown or bad value.

    Ranges: learning_rate > 0; beta, beta1, beta2, bn_momentum in [0, 1); epsilon > 0;
    batch_size ≥ 2 (Batch Norm needs two samples); 1 ≤ hidden_units ≤ 16384;
    0 ≤ layers ≤ 64; lr_decay ≥ 0; l2 ≥ 0; epochs ≥ 1; categorical values as listed in the
    contract.
    """
    for key in hp:
        if key not in TRAINER_PARAMS:
            known = ", ".join(sorted(TRAINER_PARAMS))
            raise ValueError(f"unknown hyperparameter {key!r}; the trainer accepts: {known}")
    values: dict[str, Any] = {**trainer_defaults(), **hp}
    parsed: dict[str, Any] = {}
    for key, (_, kind, choices) in TRAINER_PARAMS.items():
        value = values[key]
        if kind == "categorical":
            if value not in (choices or ()):
                allowed = ", ".join(map(str, choices or ()))
                raise ValueError(f"hyperparameter {key!r} must be one of {allowed}, got {value!r}")
            parsed[key] = value
        elif kind == "int":
            parsed[key] = _integer(key, value)
        else:
            parsed[key] = _number(key, value)
    _check("learning_rate", parsed["learning_rate"] > 0, values["learning_rate"], "> 0")
    for key in ("beta", "beta1", "beta2", "bn_momentum"):
        _check(key, 0 <= parsed[key] < 1, values[key], "in [0, 1)")
    _check("epsilon", parsed["epsilon"] > 0, values["epsilon"], "> 0")
    _check("batch_size", parsed["batch_size"] >= 2, values["batch_size"], "at least 2")
    hidden_ok = 1 <= parsed["hidden_units"] <= MAX_HIDDEN_UNITS
    _check("hidden_units", hidden_ok, values["hidden_units"], f"in [1, {MAX_HIDDEN_UNITS}]")
    layers_ok = 0 <= parsed["layers"] <= MAX_LAYERS
    _check("layers", layers_ok, values["layers"], f"in [0, {MAX_LAYERS}]")
    for key in ("lr_decay", "l2"):
        _check(key, parsed[key] >= 0, values[key], "≥ 0")
    _check("epochs", parsed["epochs"] >= 1, values["epochs"], "at least 1")
    return TrainerConfig(**parsed)


def trial_hyperparameters(
    epochs: int, fixed: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """A train trial's hyperparameters as given, one rule for the api and the workers: the
    objective's ``epochs`` < its ``fixed`` values < the trial's params (the trainer's defaults
    fill in the rest)."""
    return {"epochs": epochs, **fixed, **params}
