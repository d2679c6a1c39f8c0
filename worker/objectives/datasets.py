"""The datasets a worker trains on: built-in ones, or uploaded ones fetched through the api
and cached on disk by content hash (``CAVIAR_DATA_DIR/datasets/<sha256>.csv``)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

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


@lru_cache(maxsize=8)
def _parsed(sha256: str, raw: bytes, name: str) -> Dataset:
    return load_csv(raw, name=name, max_bytes=len(raw) + 1)


def load_dataset(client: Client, ref: str) -> Dataset:
    if ref in BUILTIN_DATASETS:
        return load_builtin(ref)
    sha, raw = fetch_csv(client, ref, cache_dir())
    return _parsed(sha, raw, ref)
