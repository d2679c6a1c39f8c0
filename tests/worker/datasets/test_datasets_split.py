"""The fixed, stratified train/validation split, and CSV files turned into datasets."""

from __future__ import annotations

import numpy as np
import pytest

from caviar.csv_dataset import CsvDatasetError
from worker.datasets import load_csv, split_dataset, split_indices


def test_split_is_stratified_disjoint_and_complete() -> None:
    y = np.repeat([0, 1, 2], [50, 30, 20])
    train, val = split_indices(y)
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    assert np.bincount(y[val]).tolist() == [10, 6, 4]


def test_split_depends_only_on_seed_and_data() -> None:
    y = np.arange(200) % 4
    first, second = split_indices(y), split_indices(y.copy())
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(split_indices(y, seed=1)[1], first[1])


def test_every_class_with_two_samples_reaches_validation_and_singletons_stay_in_train() -> None:
    y = np.array([0, 0, 1, 2, 2, 2])
    train, val = split_indices(y)
    assert sorted(y[val].tolist()) == [0, 2]
    assert 2 not in val.tolist()  # the only sample of class 1
    assert len(train) == 4


def test_split_dataset_standardises_with_train_statistics_only() -> None:
    features = np.column_stack([np.arange(20.0), np.full(20, 7.0)])
    labels = np.arange(20) % 2
    data = split_dataset("ramp", features, labels, ("a", "b"))
    train, _ = split_indices(labels)
    np.testing.assert_allclose(data.feature_mean, [features[train, 0].mean(), 7.0], rtol=1e-6)
    assert data.feature_std[1] == 1.0  # a constant feature is not divided by zero
    np.testing.assert_allclose(data.X_train[:, 1], 0.0)


def test_load_csv_builds_a_dataset() -> None:
    rows = "\n".join(f"{i},{i % 3 * 10 + 0.5},{'yes' if i % 2 else 'no'}" for i in range(30))
    data = load_csv(f"a,b,label\n{rows}\n".encode(), name="upload", max_bytes=10_000)
    assert data.name == "upload" and data.class_names == ("no", "yes")
    assert data.X_train.shape[0] + data.X_val.shape[0] == 30
    assert data.n_features == 2


def test_load_csv_rejects_malformed_files() -> None:
    with pytest.raises(CsvDatasetError, match="empty"):
        load_csv(b"", name="upload", max_bytes=100)
