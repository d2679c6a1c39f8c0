"""Dense and activation layers as pure forward/backward pairs.

Every ``*_forward(x, ...)`` returns ``(out, cache)`` and every ``*_backward(dout, cache, ...)``
returns the gradients. Shapes: ``N`` samples, ``D`` inputs, ``M`` outputs. The functions work in
the dtype of their inputs (float32 for training, float64 for gradient checks).

The optional ``*_out`` arguments are preallocated result buffers of the right shape and dtype, so
the model can run a training step without allocating. A cache refers to its inputs: they must not
be overwritten before the matching backward call.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

DenseCache = tuple[np.ndarray, np.ndarray]  # (x (N, D), w (D, M))
ActivationCache = np.ndarray  # the activation's output (N, M)


@lru_cache(maxsize=64)
def ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ``n`` ones, for column sums as a BLAS matrix-vector product."""
    vector = np.ones(n, dtype=dtype)
    vector.flags.writeable = False
    return vector


@lru_cache(maxsize=64)
def reciprocals(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ``n`` entries 1/n, for column means as a matrix-vector product."""
    vector = np.full(n, 1.0 / n, dtype=dtype)
    vector.flags.writeable = False
    return vector


def column_sum(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``a`` (N, M) over its rows -> (M,), as ``ones(N) @ a`` (one BLAS call, no copy)."""
    return np.dot(ones(a.shape[0], a.dtype), a, out=out)


def column_mean(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Mean of ``a`` (N, M) over its rows -> (M,), as ``(1/N)·ones(N) @ a``."""
    return np.dot(reciprocals(a.shape[0], a.dtype), a, out=out)


# Below this many elements a product into scratch and a BLAS column sum beat einsum.
_EINSUM_MIN_SIZE = 16_384


def column_dot(
    a: np.ndarray,
    b: np.ndarray,
    *,
    out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> np.ndarray:
    """Σ over rows of a ⊙ b, for a and b (N, M) -> (M,). ``scratch``: optional (N, M) buffer.

    Large inputs go through einsum, which reads both once and writes nothing else; small ones
    through a product and a BLAS column sum, which has less fixed overhead.
    """
    if a.size >= _EINSUM_MIN_SIZE:
        return np.einsum("ij,ij->j", a, b, out=out)
    return column_sum(np.multiply(a, b, out=scratch), out=out)


def dense_forward(
    x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, DenseCache]:
    """Dense layer without a bias: x (N, D) @ w (D, M) -> out (N, M).

    Caviar's hidden layers have no bias because the Batch Norm β that follows plays its role.
    """
    return np.matmul(x, w, out=out), (x, w)


def dense_backward(
    dout: np.ndarray,
    cache: DenseCache,
    *,
    need_dx: bool = True,
    dx_out: np.ndarray | None = None,
    dw_out: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """dout (N, M) -> (dx (N, D), dw (D, M)).

    ``need_dx=False`` skips the input gradient (``dx`` is then ``None``): the first layer's input
    is the data, whose gradient nobody needs.
    """
    x, w = cache
    dw = np.matmul(x.T, dout, out=dw_out)
    dx = np.matmul(dout, w.T, out=dx_out) if need_dx else None
    return dx, dw


def affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, DenseCache]:
    """Dense layer with a bias: x (N, D) @ w (D, M) + b (M,) -> out (N, M)."""
    out = np.matmul(x, w, out=out)
    out += b
    return out, (x, w)


def affine_backward(
    dout: np.ndarray,
    cache: DenseCache,
    *,
    need_dx: bool = True,
    dx_out: np.ndarray | None = None,
    dw_out: np.ndarray | None = None,
    db_out: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """dout (N, M) -> (dx (N, D) or None, dw (D, M), db (M,))."""
    dx, dw = dense_backward(dout, cache, need_dx=need_dx, dx_out=dx_out, dw_out=dw_out)
    return dx, dw, column_sum(dout, out=db_out)


def relu_forward(
    x: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, ActivationCache]:
    """max(x, 0) elementwise: x (N, M) -> out (N, M). ``out`` may be ``x`` itself."""
    out = np.maximum(x, 0, out=out)
    return out, out


def relu_backward(
    dout: np.ndarray, cache: ActivationCache, out: np.ndarray | None = None
) -> np.ndarray:
    """dout (N, M) -> dx (N, M): dout where the ReLU was active, else 0. ``out`` may be ``dout``."""
    return np.multiply(dout, cache > 0, out=out)


def tanh_forward(
    x: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, ActivationCache]:
    """tanh(x) elementwise: x (N, M) -> out (N, M). ``out`` may be ``x`` itself."""
    out = np.tanh(x, out=out)
    return out, out


def tanh_backward(
    dout: np.ndarray, cache: ActivationCache, out: np.ndarray | None = None
) -> np.ndarray:
    """dout (N, M) -> dx (N, M) = dout · (1 - tanh²). ``out`` may be ``dout``."""
    slope = np.multiply(cache, cache)
    np.subtract(1, slope, out=slope)
    return np.multiply(dout, slope, out=out)
