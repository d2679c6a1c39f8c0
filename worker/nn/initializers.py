"""Weight initialisation scaled to the fan-in, drawn from a passed-in ``np.random.Generator``.

He: N(0, 2/fan_in), for layers followed by ReLU. Xavier: N(0, 1/fan_in), for tanh layers and the
softmax output layer (the fan-in form used with tanh, not Glorot's 2/(fan_in + fan_out)).
Values are drawn in float64 and then cast, so a float32 and a float64 network built from the same
seed start from the same weights (up to rounding).
"""

from __future__ import annotations

import math

import numpy as np


def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int, dtype: type) -> np.ndarray:
    """(fan_in, fan_out) weights with variance 2/fan_in."""
    return (rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in)).astype(dtype)


def xavier_normal(rng: np.random.Generator, fan_in: int, fan_out: int, dtype: type) -> np.ndarray:
    """(fan_in, fan_out) weights with variance 1/fan_in."""
    return (rng.standard_normal((fan_in, fan_out)) * math.sqrt(1.0 / fan_in)).astype(dtype)
