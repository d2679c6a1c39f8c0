"""The fixed train/validation split and the standardisation every Caviar dataset goes through."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from worker.datasets.dataset import Dataset

VAL_FRACTION = 0.2
SPLIT_SEED = 231


def split_indices(
    y: np.ndarray, *, val_fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, deterministic split of labels y (n,) -> (train indices, val indices), sorted.

    Each class with n_c ≥ 2 samples gives round(val_fraction·n_c) of them, clipped to
    [1, n_c - 1], to validation; a class with a single sample stays in train. Which samples go
    is fixed by ``seed`` and the order of the data: the same rows always split the same way.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    # Generator.random maps raw PCG64 output to doubles, which NumPy keeps stable across versions.
    order = np.argsort(np.random.default_rng(seed).random(len(y)), kind="stable")
    val_parts = []
    for label in np.unique(y):
        members = order[y[order] == label]
        if len(members) < 2:
            continue
        k = min(max(round(val_fraction * len(members)), 1), len(members) - 1)
        val_parts.append(members[:k])
    val = np.sort(np.concatenate(val_parts)) if val_parts else np.zeros(0, dtype=np.intp)
    train = np.setdiff1d(np.arange(len(y)), val, assume_unique=True)
    return train, val


def split_dataset(
    name: str,
    features: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    val_fraction: float = VAL_FRACTION,
    seed: int = SPLIT_SEED,
) -> Dataset:
    """Raw features (n, D) and labels (n,) in [0, len(class_names)) -> a standardised Dataset.

    The split is :func:`split_indices`; the mean and standard deviation come from the train split
    and are applied to both splits.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if features.ndim != 2 or labels.shape != (features.shape[0],):
        raise ValueError("features must be (n, D) and labels (n,)")
    train, val = split_indices(labels, val_fraction=val_fraction, seed=seed)
    mean = features[train].mean(axis=0)
    std = features[train].std(axis=0)
    std[std < 1e-12] = 1.0

    def scaled(rows: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray((features[rows] - mean) / std, dtype=np.float32)

    return Dataset(
        name=name,
        X_train=scaled(train),
        y_train=labels[train],
        X_val=scaled(val),
        y_val=labels[val],
        n_classes=len(class_names),
        class_names=tuple(class_names),
        feature_mean=mean.astype(np.float32),
        feature_std=std.astype(np.float32),
    )
