"""An uploaded dataset is fetched and parsed once per machine: a later worker process loads
the parsed arrays kept beside the CSV, equal to a fresh parse, without downloading it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import numpy as np
import pytest

from caviar.client import Client
from tests.api.test_datasets import csv
from worker.datasets import load_csv
from worker.objectives import datasets


def serving(raw: bytes) -> tuple[Client, list[str]]:
    sha = hashlib.sha256(raw).hexdigest()
    meta = {
        "id": 1,
        "name": "pets",
        "version": 1,
        "ref": "pets@1",
        "sha256": sha,
        "size": len(raw),
        "n_rows": 90,
        "n_features": 2,
        "classes": ["cat", "dog"],
        "created_at": "2026-01-01T00:00:00Z",
    }
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/content"):
            return httpx.Response(200, content=raw)
        return httpx.Response(200, json=meta)

    return Client("http://api.invalid", transport=httpx.MockTransport(handle)), calls


def test_a_second_process_loads_the_parsed_arrays_instead_of_the_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(datasets, "_loaded", type(datasets._loaded)())
    raw = csv(rows=90)
    client, calls = serving(raw)
    first = datasets.load_dataset(client, "pets")
    assert calls.count("/api/datasets/pets@1/content") == 1
    assert datasets.load_dataset(client, "pets") is first  # this process keeps it
    datasets._loaded.clear()  # another process: the arrays on disk, no download
    calls.clear()
    again = datasets.load_dataset(client, "pets@1")
    assert calls == ["/api/datasets/pets@1"]
    fresh = load_csv(raw, name="pets@1", max_bytes=len(raw) + 1)
    assert again.name == "pets@1" and again.class_names == fresh.class_names
    for field in ("X_train", "y_train", "X_val", "y_val", "feature_mean", "feature_std"):
        assert np.array_equal(getattr(again, field), getattr(fresh, field)), field
        assert getattr(again, field).dtype == getattr(fresh, field).dtype


def test_unreadable_arrays_are_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(datasets, "_loaded", type(datasets._loaded)())
    raw = csv(rows=90)
    client, _ = serving(raw)
    (tmp_path / f"{hashlib.sha256(raw).hexdigest()}.npz").write_bytes(b"torn")
    data = datasets.load_dataset(client, "pets")
    assert data.X_train.shape[1] == 2
