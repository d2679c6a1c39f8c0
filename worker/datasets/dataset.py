"""The dataset a trainer consumes: a fixed train/validation split of standardised features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """Standardised features and integer labels, split once into train and validation.

    ``X_train`` (n_train, D) and ``X_val`` (n_val, D) are float32, ``y_train`` (n_train,) and
    ``y_val`` (n_val,) are int64 in [0, n_classes). The features were standardised with
    ``feature_mean`` and ``feature_std`` (D,), computed from the train split only (a constant
    feature gets std 1). ``class_names[k]`` names label k. The arrays are read-only, so a dataset
    can be cached and shared between trials. Needs n_train ≥ 2 and n_val ≥ 1.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    class_names: tuple[str, ...]
    feature_mean: np.ndarray
    feature_std: np.ndarray

    def __post_init__(self) -> None:
        d = self.feature_mean.shape[0] if self.feature_mean.ndim == 1 else -1
        for split, X, y in (("train", self.X_train, self.y_train), ("val", self.X_val, self.y_val)):
            if X.dtype != np.float32 or X.ndim != 2 or X.shape[1] != d:
                raise ValueError(
                    f"X_{split} must be float32 of shape (n, {d}), got {X.dtype} {X.shape}"
                )
            if y.dtype != np.int64 or y.shape != (X.shape[0],):
                raise ValueError(f"y_{split} must be int64 of shape ({X.shape[0]},)")
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise ValueError(f"y_{split} has labels outside [0, {self.n_classes})")
        if self.X_train.shape[0] < 2 or self.X_val.shape[0] < 1:
            raise ValueError("a dataset needs at least 2 training samples and 1 validation sample")
        if len(self.class_names) != self.n_classes or self.n_classes < 2:
            raise ValueError("class_names must name n_classes ≥ 2 classes")
        if self.feature_std.shape != (d,):
            raise ValueError(f"feature_std must have shape ({d},)")
        for array in (self.X_train, self.y_train, self.X_val, self.y_val):
            array.flags.writeable = False
        self.feature_mean.flags.writeable = False
        self.feature_std.flags.writeable = False

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def standardise(self, features: np.ndarray) -> np.ndarray:
        """Raw features (n, D) -> float32 (n, D) on the train split's scale."""
        return (
            (np.asarray(features, dtype=np.float64) - self.feature_mean) / self.feature_std
        ).astype(np.float32)
