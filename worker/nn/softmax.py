"""Softmax output with cross-entropy loss, numerically stable, with the fused gradient.

Shapes: ``logits`` is (N, C) for N samples and C classes; ``y`` is (N,) integer labels in
[0, C). The loss is the mean over the N samples of -log softmax(logits)[y]; it is computed from
the log-sum-exp of logits shifted by their row maximum, so no exponential overflows. The
gradient of that mean with respect to the logits is (softmax(logits) - one_hot(y)) / N.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from worker.nn.layers import ones


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax: logits (N, C) -> probabilities (N, C), each row summing to 1."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


@lru_cache(maxsize=64)
def _row_starts(n: int, c: int) -> np.ndarray:
    """Flat index of the first entry of each row of an (n, c) array."""
    starts = np.arange(0, n * c, c)
    starts.flags.writeable = False
    return starts


def _picked(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    """values[i, y[i]] for each row i: (N,)."""
    n, c = values.shape
    return np.take(values.reshape(-1), _row_starts(n, c) + y)


# Logits within ±SAFE_LOGIT need no shift: e^50 summed over even 10⁶ classes stays finite in
# float32, and e^-50 is still a normal number.
SAFE_LOGIT = 50.0


def softmax_cross_entropy(
    logits: np.ndarray, y: np.ndarray, *, dlogits_out: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """logits (N, C), y (N,) -> (mean cross-entropy, dlogits (N, C)).

    ``dlogits_out`` may be ``logits`` itself; it must be C-contiguous. Rows are shifted by their
    maximum only when some logit lies outside ±:data:`SAFE_LOGIT` (the result is the same; the
    shift costs a row-wise reduction).
    """
    n, c = logits.shape
    if float(logits.max()) > SAFE_LOGIT or float(logits.min()) < -SAFE_LOGIT:
        shifted = np.subtract(logits, logits.max(axis=1, keepdims=True), out=dlogits_out)
    elif dlogits_out is logits:
        shifted = logits
    else:
        shifted = np.positive(logits, out=dlogits_out)  # a copy
    flat_index = _row_starts(n, c) + y
    picked_sum = float(np.take(shifted.reshape(-1), flat_index).sum())
    probs = np.exp(shifted, out=shifted)
    row_sums = np.dot(probs, ones(c, probs.dtype))
    loss = (float(np.log(row_sums).sum()) - picked_sum) / n
    np.divide(1.0 / n, row_sums, out=row_sums)
    probs *= row_sums[:, None]
    flat = probs.reshape(-1)
    flat[flat_index] -= 1.0 / n
    return loss, probs


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """logits (N, C), y (N,) -> (summed cross-entropy over the N samples, correct predictions)."""
    row_max = logits.max(axis=1, keepdims=True)
    shifted = logits - row_max
    picked_sum = float(_picked(shifted, y).sum(dtype=np.float64))
    np.exp(shifted, out=shifted)
    log_sums = np.log(shifted.sum(axis=1, dtype=np.float64))
    correct = int(np.count_nonzero(logits.argmax(axis=1) == y))
    return float(log_sums.sum()) - picked_sum, correct
