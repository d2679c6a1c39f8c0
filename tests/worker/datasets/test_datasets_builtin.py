"""The built-in datasets: fixed content, fixed splits, standardised features."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from worker.datasets import Dataset, load_builtin
from worker.datasets.digits import load_digits
from worker.datasets.synthetic import make_blobs, make_spirals

DIGITS_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"


@pytest.mark.parametrize(
    ("name", "n_train", "n_val", "n_features", "n_classes"),
    [("digits", 1438, 359, 64, 10), ("blobs", 720, 180, 2, 3), ("spirals", 720, 180, 2, 3)],
)
def test_shapes_dtypes_and_classes(
    name: str, n_train: int, n_val: int, n_features: int, n_classes: int
) -> None:
    data = load_builtin(name)
    assert isinstance(data, Dataset) and data.name == name
    assert data.X_train.shape == (n_train, n_features) and data.X_train.dtype == np.float32
    assert data.X_val.shape == (n_val, n_features) and data.X_val.dtype == np.float32
    assert data.y_train.dtype == np.int64 and data.y_val.dtype == np.int64
    assert data.n_classes == n_classes == len(data.class_names)
    assert set(np.unique(data.y_val)) == set(range(n_classes))


def test_blob_classes_are_cats_dogs_and_baby_chicks() -> None:
    assert load_builtin("blobs").class_names == ("cat", "dog", "baby chick")


def test_features_are_standardised_on_the_train_split() -> None:
    data = load_builtin("blobs")
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.X_train.std(axis=0), 1, atol=1e-5)
    raw, _ = make_blobs()
    np.testing.assert_allclose(
        data.standardise(raw[:3]), (raw[:3] - data.feature_mean) / data.feature_std, rtol=1e-5
    )


def test_constant_digit_pixels_get_unit_std() -> None:
    data = load_builtin("digits")
    assert np.all(data.feature_std > 0)
    assert np.isfinite(data.X_train).all() and np.isfinite(data.X_val).all()


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"'mnist'.*digits, blobs, spirals"):
        load_builtin("mnist")


def test_digits_file_is_the_known_one() -> None:
    images, target = load_digits()
    assert images.shape == (1797, 64) and target.shape == (1797,)
    assert (
        hashlib.sha256(images.tobytes() + target.astype(np.uint8).tobytes()).hexdigest()
        == DIGITS_SHA256
    )
    assert images.max() == 16 and np.bincount(target).tolist()[:3] == [178, 182, 177]


def test_digits_match_scikit_learn_when_installed() -> None:
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_digits()
    images, target = load_digits()
    np.testing.assert_array_equal(images, reference.data)
    np.testing.assert_array_equal(target, reference.target)


def test_synthetic_data_never_changes() -> None:
    # Pinned values: a change to the generators would silently change every study's data.
    blobs, blob_labels = make_blobs()
    spirals, _ = make_spirals()
    assert blobs.shape == (900, 2) and spirals.shape == (900, 2)
    assert np.bincount(blob_labels).tolist() == [300, 300, 300]
    np.testing.assert_allclose(blobs[0], BLOBS_FIRST_ROW, rtol=1e-12)
    np.testing.assert_allclose(spirals[450], SPIRALS_ROW_450, rtol=1e-12)
    assert float(blobs.sum()) == pytest.approx(BLOBS_SUM, rel=1e-12)


def test_loading_twice_gives_the_same_split() -> None:
    load_builtin.cache_clear()
    first = load_builtin("spirals")
    load_builtin.cache_clear()
    second = load_builtin("spirals")
    np.testing.assert_array_equal(first.X_val, second.X_val)
    np.testing.assert_array_equal(first.y_train, second.y_train)


def test_datasets_are_read_only() -> None:
    with pytest.raises(ValueError, match="read-only"):
        load_builtin("blobs").X_train[0, 0] = 1.0


BLOBS_FIRST_ROW = [0.8338644654278987, 2.074050271983161]
SPIRALS_ROW_450 = [-0.1431285319755748, 0.48082144349695405]
BLOBS_SUM = 34.57274355126668
