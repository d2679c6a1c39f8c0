"""Deterministic synthetic datasets: the cats / dogs / baby chicks blobs, and three spirals.

Both are drawn from a fixed seed with normals made by Box-Muller from ``Generator.random``, whose
output NumPy keeps stable across versions, so the data never changes.
"""

from __future__ import annotations

import numpy as np

BLOB_CLASSES = ("cat", "dog", "baby chick")
BLOB_CENTRES = np.array([[0.0, 2.0], [-1.8, -1.0], [1.8, -1.0]])
SPIRAL_CLASSES = ("spiral 0", "spiral 1", "spiral 2")
SAMPLES_PER_CLASS = 300


def _normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """n standard normal draws by Box-Muller."""
    radius = np.sqrt(-2.0 * np.log1p(-rng.random(n)))
    return radius * np.cos(2.0 * np.pi * rng.random(n))


def make_blobs(
    samples_per_class: int = SAMPLES_PER_CLASS, seed: int = 7
) -> tuple[np.ndarray, np.ndarray]:
    """Three overlapping 2-D Gaussian blobs (std 1): features (3·n, 2), labels (3·n,)."""
    rng = np.random.default_rng(seed)
    features = []
    for centre in BLOB_CENTRES:
        noise = _normal(rng, 2 * samples_per_class).reshape(samples_per_class, 2)
        features.append(centre + noise)
    labels = np.repeat(np.arange(len(BLOB_CENTRES)), samples_per_class)
    return np.concatenate(features), labels


def make_spirals(
    samples_per_class: int = SAMPLES_PER_CLASS, seed: int = 11
) -> tuple[np.ndarray, np.ndarray]:
    """Three interleaved 2-D spirals, angle noise 0.2: features (3·n, 2), labels (3·n,)."""
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, samples_per_class)
    features = []
    for k in range(len(SPIRAL_CLASSES)):
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), samples_per_class)
        angle = angle + 0.2 * _normal(rng, samples_per_class)
        features.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
    labels = np.repeat(np.arange(len(SPIRAL_CLASSES)), samples_per_class)
    return np.concatenate(features), labels
