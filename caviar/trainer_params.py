"""The ``train`` objective's contract: which hyperparameters the NumPy trainer accepts.

The api validates a train study's space and ``fixed`` values against this table, so an unknown
name is a 422 at study creation instead of a failed trial later. The worker's trainer reads the
same table for its defaults.
"""

from __future__ import annotations

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


def trainer_defaults() -> dict[str, Any]:
    return {name: spec[0] for name, spec in TRAINER_PARAMS.items()}
