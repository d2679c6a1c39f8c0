"""Datasets for the ``train`` objective: built-in ones by name, and uploaded CSV files."""

from worker.datasets.dataset import Dataset
from worker.datasets.loader import load_builtin, load_csv
from worker.datasets.split import split_dataset, split_indices

__all__ = ["Dataset", "load_builtin", "load_csv", "split_dataset", "split_indices"]
