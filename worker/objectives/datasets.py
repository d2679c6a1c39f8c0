"""The datasets a worker trains on: built-in ones, or uploaded ones fetched through the api
and cached on disk by content hash (``CAVIAR_DATA_DIR/datasets/<sha256>.csv``, and the parsed
arrays beside it as ``<sha256>.npz``)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import zipfile
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from caviar.client import Client
from caviar.settings import Settings
from caviar.trainer_params import BUILTIN_DATASETS
from worker.datasets import Dataset, load_builtin, load_csv


def cache_dir() -> Path:
    return Settings().data_dir / "datasets"


def fetch_csv(client: Client, ref: str, directory: Path) -> tuple[str, bytes]:
    """(sha256, content) of an uploaded dataset, from the cache or else from the api."""
    meta = client.dataset(ref)
    path = directory / f"{meta.sha256}.csv"
    if path.exists():
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() == meta.sha256:
            return meta.sha256, raw
    raw = client.dataset_content(f"{meta.name}@{meta.version}")
    if hashlib.sha256(raw).hexdigest() != meta.sha256:
        raise OSError(f"dataset {ref} arrived corrupted (sha256 mismatch)")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    os.replace(tmp, path)  # atomic: concurrent workers never read half a file
    return meta.sha256, raw


_KEPT = 8  # parsed datasets a worker process keeps in memory
_loaded: OrderedDict[str, Dataset] = OrderedDict()  # by sha256


def load_dataset(client: Client, ref: str) -> Dataset:
    """A built-in dataset, or an uploaded one: parsed once per content and process, and once
    per content and machine (the parsed arrays are kept beside the CSV, and worker processes
    that start together wait for the first to parse them instead of each parsing them)."""
    if ref in BUILTIN_DATASETS:
        return load_builtin(ref)
    meta = client.dataset(ref)
    data = _loaded.get(meta.sha256)
    if data is None:
        data = _parsed(client, ref, meta.sha256, cache_dir())
        _loaded[meta.sha256] = data
        while len(_loaded) > _KEPT:
            _loaded.popitem(last=False)
    _loaded.move_to_end(meta.sha256)
    return data if data.name == ref else replace(data, name=ref)


def _parsed(client: Client, ref: str, sha256: str, directory: Path) -> Dataset:
    directory.mkdir(parents=True, exist_ok=True)
    arrays = directory / f"{sha256}.npz"
    with open(directory / f"{sha256}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed, or when the process dies
        try:
            with np.load(arrays, allow_pickle=False) as found:
                return _from_arrays(ref, found)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            pass  # not there yet, or unreadable: parse it again
        _, raw = fetch_csv(client, ref, directory)
        data = load_csv(raw, name=ref, max_bytes=len(raw) + 1)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".part.npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **_to_arrays(data))
        os.replace(tmp, arrays)
        return data


_FIELDS = ("X_train", "y_train", "X_val", "y_val", "feature_mean", "feature_std")


def _to_arrays(data: Dataset) -> dict[str, np.ndarray]:
    return {
        **{f: getattr(data, f) for f in _FIELDS},
        "class_names": np.array(data.class_names, dtype=np.str_),
    }


def _from_arrays(name: str, found: Any) -> Dataset:
    names = tuple(str(c) for c in found["class_names"])
    return Dataset(
        name=name,
        n_classes=len(names),
        class_names=names,
        **{f: found[f] for f in _FIELDS},
    )
