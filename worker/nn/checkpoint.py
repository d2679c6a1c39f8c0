"""A :class:`TrainingState` as bytes: an ``.npz`` archive of its arrays plus one JSON entry.

The archive never holds pickles (it loads with ``allow_pickle=False``). The random state's
128-bit integers travel in the JSON, which keeps Python's exact integers. :func:`weights_digest`
names a network's weights (sha256 of the raw parameter bytes), so two runs can be compared bit
for bit without shipping their weights.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np

from worker.nn.training import TrainingState

FORMAT = 1
_META = "meta"
_OPTIMIZER = "optimizer."


def dumps(state: TrainingState) -> bytes:
    """The state as an uncompressed ``.npz`` archive."""
    meta = {
        "format": FORMAT,
        "rng": state.rng,
        "epochs_done": state.epochs_done,
        "batches_done": state.batches_done,
        "position": state.position,
        "epoch_batches": state.epoch_batches,
        "epoch_total": state.epoch_total.hex(),  # exact float round trip
        "base_hp": state.base_hp,
        "overrides": state.overrides,
        "weights_sha256": weights_digest(state.params),
    }
    arrays: dict[str, np.ndarray] = {
        "params": state.params,
        "running": state.running,
        _META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    }
    if state.order is not None:
        arrays["order"] = state.order
    for name, value in state.optimizer.items():
        arrays[_OPTIMIZER + name] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def loads(raw: bytes) -> TrainingState:
    """The state that :func:`dumps` wrote; ``ValueError`` for anything else."""
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta: dict[str, Any] = json.loads(arrays.pop(_META).tobytes())
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"not a Caviar checkpoint: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"unknown checkpoint format {meta.get('format')!r}")
    return TrainingState(
        params=arrays["params"],
        running=arrays["running"],
        optimizer={
            name[len(_OPTIMIZER) :]: value
            for name, value in arrays.items()
            if name.startswith(_OPTIMIZER)
        },
        order=arrays.get("order"),
        rng=meta["rng"],
        epochs_done=meta["epochs_done"],
        batches_done=meta["batches_done"],
        position=meta["position"],
        epoch_batches=meta.get("epoch_batches", 0),  # absent from older checkpoints
        epoch_total=float.fromhex(meta["epoch_total"]),
        base_hp=meta["base_hp"],
        overrides=meta["overrides"],
    )


def weights_digest(params: np.ndarray) -> str:
    """sha256 of the parameters' raw bytes: equal digests mean bitwise equal weights."""
    return hashlib.sha256(np.ascontiguousarray(params).tobytes()).hexdigest()


def meta_of(raw: bytes) -> dict[str, Any]:
    """The JSON part of a checkpoint (step, overrides, weights digest) without its arrays."""
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        return dict(json.loads(archive[_META].tobytes()))
