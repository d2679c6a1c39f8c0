"""Layers of K networks at once: the forward/backward pairs of ``layers``, ``batchnorm`` and
``softmax`` over arrays stacked along a leading trials axis.

Shapes: ``K`` trials (members), ``N`` samples per member, ``D`` inputs, ``M`` outputs, ``C``
classes. Each member's slice goes through the same arithmetic, in the same order, as the
single-network functions, so a member's values equal its alone values up to the order of BLAS's
sums. No value ever mixes two members: a member whose loss is NaN leaves the others untouched.
Activations are elementwise and come from :mod:`worker.nn.layers` as they are.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from worker.nn.batchnorm import CENTRE_RATIO, DEFAULT_EPS, Mode
from worker.nn.layers import ones, reciprocals
from worker.nn.softmax import SAFE_LOGIT

_EINSUM_MIN_SIZE = 16_384  # per member, as in :func:`worker.nn.layers.column_dot`


def stacked_column_sum(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a (K, N, M) -> Σ over N (K, M), as ``ones(N) @ a[k]`` for each member."""
    return np.matmul(ones(a.shape[1], a.dtype), a, out=out)


def stacked_column_mean(a: np.ndarray) -> np.ndarray:
    """a (K, N, M) -> mean over N (K, M)."""
    return np.matmul(reciprocals(a.shape[1], a.dtype), a)


def stacked_column_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ over N of a ⊙ b, for a and b (K, N, M) -> (K, M)."""
    if a.shape[1] * a.shape[2] >= _EINSUM_MIN_SIZE:
        return np.einsum("kij,kij->kj", a, b)
    return stacked_column_sum(a * b)


def stacked_dense_forward(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, tuple]:
    """x (K, N, D) or shared (N, D), w (K, D, M) -> out (K, N, M): one batched matmul."""
    return np.matmul(x, w), (x, w)


def stacked_dense_backward(
    dout: np.ndarray, cache: tuple, *, need_dx: bool = True, dw_out: np.ndarray | None = None
) -> tuple[np.ndarray | None, np.ndarray]:
    """dout (K, N, M) -> (dx (K, N, D) or None, dw (K, D, M)); ``dw_out``: where dw goes."""
    x, w = cache
    dw = np.matmul(np.swapaxes(x, -1, -2), dout, out=dw_out)
    dx = np.matmul(dout, np.swapaxes(w, -1, -2)) if need_dx else None
    return dx, dw


def stacked_affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """x (K, N, D), w (K, D, M), b (K, M) -> x @ w + b (K, N, M)."""
    out = np.matmul(x, w)
    out += b[:, None, :]
    return out, (x, w)


def stacked_affine_backward(
    dout: np.ndarray,
    cache: tuple,
    *,
    need_dx: bool = True,
    dw_out: np.ndarray | None = None,
    db_out: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """dout (K, N, M) -> (dx (K, N, D) or None, dw (K, D, M), db (K, M))."""
    dx, dw = stacked_dense_backward(dout, cache, need_dx=need_dx, dw_out=dw_out)
    return dx, dw, stacked_column_sum(dout, out=db_out)


class StackedBatchNormCache(NamedTuple):
    """Per member as :class:`worker.nn.batchnorm.BatchNormCache`; a member whose units were
    centred (the precision fallback) has ``source`` = x - μ and ``offset`` = 0."""

    source: np.ndarray  # (K, N, D)
    offset: np.ndarray  # μ, or 0 for a centred member, (K, D)
    inv_std: np.ndarray  # (K, D)
    scale: np.ndarray  # (K, D)
    mean: np.ndarray  # (K, D)
    var: np.ndarray  # (K, D)


def stacked_batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    *,
    mode: Mode,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = DEFAULT_EPS,
) -> tuple[np.ndarray, StackedBatchNormCache | None]:
    """x (K, N, D), gamma, beta, running averages (K, D) -> (out (K, N, D), cache or None).

    The contract of :func:`worker.nn.batchnorm.batchnorm_forward`, member by member: the
    precision fallback is decided per member. ``x`` is never written.
    """
    if mode == "test":
        scale = gamma / np.sqrt(running_var + eps)
        shift = beta - running_mean * scale
        out = x * scale[:, None, :]
        out += shift[:, None, :]
        return out, None
    if mode != "train":
        raise ValueError(f"batch norm mode must be 'train' or 'test', not {mode!r}")
    n = x.shape[1]
    if n < 2:
        raise ValueError("batch norm in train mode needs a mini-batch of at least 2 samples")
    mean = stacked_column_mean(x)
    var = stacked_column_dot(x, x)
    var *= 1.0 / n
    mean_squared = mean * mean
    var -= mean_squared
    offset = mean.copy()
    centre = np.any(mean_squared > CENTRE_RATIO * var, axis=1)
    source = x
    if centre.any():
        source = x.copy()
        rows = np.flatnonzero(centre)
        centred = source[rows] - mean[rows][:, None, :]
        source[rows] = centred
        var[rows] = stacked_column_dot(centred, centred) * (1.0 / n)
        offset[rows] = 0
    inv_std = var + eps
    np.sqrt(inv_std, out=inv_std)
    np.divide(1, inv_std, out=inv_std)
    scale = gamma * inv_std
    out = source * scale[:, None, :]
    out += (beta - offset * scale)[:, None, :]
    return out, StackedBatchNormCache(source, offset, inv_std, scale, mean, var)


def stacked_batchnorm_backward(
    dout: np.ndarray, cache: StackedBatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dout (K, N, D) -> (dx (K, N, D), dgamma (K, D), dbeta (K, D)), member by member as
    :func:`worker.nn.batchnorm.batchnorm_backward`."""
    source, offset, inv_std, scale, _, _ = cache
    inv_n = 1.0 / dout.shape[1]
    dbeta = stacked_column_sum(dout)
    dgamma = stacked_column_dot(dout, source)
    dgamma -= offset * dbeta
    dgamma *= inv_std
    slope = scale * inv_std
    slope *= dgamma
    slope *= inv_n
    constant = scale * dbeta
    constant *= -inv_n
    constant += slope * offset
    dx = dout * scale[:, None, :]
    dx -= source * slope[:, None, :]
    dx += constant[:, None, :]
    return dx, dgamma, dbeta


def stacked_softmax_cross_entropy(
    logits: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """logits (K, N, C), y (K, N) -> (each member's mean cross-entropy (K,) float64,
    dlogits (K, N, C)). A member's rows are shifted by their maximum when one of its logits lies
    outside ±SAFE_LOGIT, as :func:`worker.nn.softmax.softmax_cross_entropy` decides."""
    k, n, c = logits.shape
    shifted = logits.copy()
    flat = shifted.reshape(k, -1)
    wild = (flat.max(axis=1) > SAFE_LOGIT) | (flat.min(axis=1) < -SAFE_LOGIT)
    if wild.any():
        rows = np.flatnonzero(wild)
        shifted[rows] -= shifted[rows].max(axis=2, keepdims=True)
    flat_index = (np.arange(k * n) * c).reshape(k, n) + y  # of each (member, sample)'s label
    picked_sum = np.take(shifted, flat_index).sum(axis=1).astype(np.float64)
    probs = np.exp(shifted, out=shifted)
    row_sums = np.matmul(probs, ones(c, probs.dtype))
    losses = (np.log(row_sums).sum(axis=1).astype(np.float64) - picked_sum) / n
    np.divide(1.0 / n, row_sums, out=row_sums)
    probs *= row_sums[:, :, None]
    flat = probs.reshape(-1)
    flat[flat_index] -= 1.0 / n
    return losses, probs
