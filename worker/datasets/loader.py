"""Loading datasets by name: the built-in ones, and uploaded CSV files."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from caviar.csv_dataset import parse_csv
from caviar.trainer_params import BUILTIN_DATASETS
from worker.datasets.dataset import Dataset
from worker.datasets.digits import DIGIT_CLASSES, load_digits
from worker.datasets.split import split_dataset
from worker.datasets.synthetic import BLOB_CLASSES, SPIRAL_CLASSES, make_blobs, make_spirals

_BUILDERS: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray]], tuple[str, ...]]] = {
    "digits": (load_digits, DIGIT_CLASSES),
    "blobs": (make_blobs, BLOB_CLASSES),
    "spirals": (make_spirals, SPIRAL_CLASSES),
}
assert tuple(_BUILDERS) == BUILTIN_DATASETS


@cache
def load_builtin(name: str) -> Dataset:
    """The built-in dataset ``name`` ("digits", "blobs" or "spirals") with its fixed split.

    Sizes (train / val): digits 1,438 / 359 with 64 features and 10 classes; blobs and spirals
    720 / 180 with 2 features and 3 classes. Raises ``ValueError`` for any other name. The result
    is cached and read-only.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown built-in dataset {name!r}; choose one of {', '.join(_BUILDERS)}")
    build, class_names = _BUILDERS[name]
    features, labels = build()
    return split_dataset(name, features, labels, class_names)


def load_csv(raw: bytes, *, name: str, max_bytes: int) -> Dataset:
    """An uploaded CSV file (see ``caviar.csv_dataset.parse_csv``) with its fixed split.

    Raises ``caviar.csv_dataset.CsvDatasetError`` (a ``ValueError``) for malformed content.
    """
    table = parse_csv(raw, max_bytes)
    return split_dataset(name, table.features, table.labels, table.class_names)
