"""Batch Norm as a pure forward/backward pair with an explicit train/test mode.

Shapes: ``x`` is (N, D): N samples of D units. ``gamma``, ``beta`` and the running averages are
(D,).

Train mode normalises with the mini-batch statistics:
μ = mean(x), σ² = mean((x - μ)²) (biased), z_norm = (x - μ)/√(σ² + ε), out = gamma·z_norm + β.
Test mode uses the running averages of μ and σ² instead, so a sample's output does not depend on
the rest of its batch. The running averages are exponentially weighted,
``running = momentum·running + (1 - momentum)·batch``; :func:`update_running_averages` applies
that step with the statistics a train-mode forward returned in its cache.

To save a pass over the mini-batch, train mode computes σ² as mean(x²) - μ² and applies
out = x·scale + shift, with scale = gamma/√(σ² + ε) and shift = β - μ·scale. When a unit's mean is
large against its spread (μ² > :data:`CENTRE_RATIO`·σ²), that subtraction would lose precision,
so the layer falls back to centring x first; the cache records which form it holds.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from worker.nn.layers import column_dot, column_mean, column_sum

Mode = Literal["train", "test"]
DEFAULT_EPS = 1e-5
CENTRE_RATIO = 100.0


class BatchNormCache(NamedTuple):
    """What a train-mode forward keeps for the backward pass and for the running averages.

    ``source`` - ``offset`` is x - μ: either ``source`` is x and ``offset`` is μ, or ``source``
    is x - μ already and ``offset`` is 0.
    """

    source: np.ndarray  # x or x - μ, (N, D)
    offset: np.ndarray | None  # μ, or None when ``source`` is centred, (D,)
    inv_std: np.ndarray  # 1/√(σ² + ε), (D,)
    scale: np.ndarray  # gamma/√(σ² + ε), (D,)
    mean: np.ndarray  # μ of the mini-batch, (D,)
    var: np.ndarray  # σ² of the mini-batch (biased), (D,)


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    *,
    mode: Mode,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = DEFAULT_EPS,
    out: np.ndarray | None = None,
    centred_out: np.ndarray | None = None,
    mean_out: np.ndarray | None = None,
    var_out: np.ndarray | None = None,
) -> tuple[np.ndarray, BatchNormCache | None]:
    """x (N, D) -> (out (N, D), cache); the cache is ``None`` in test mode (no backward there).

    Train mode needs N ≥ 2: with a single sample every z_norm is 0 and no gradient reaches the
    layer below. ``out`` must not be ``x``. ``centred_out`` receives x - μ when the precision
    fallback centres x, and may be ``x`` itself; ``mean_out`` and ``var_out`` (D,) receive the
    batch's μ and σ². The cache refers to ``x`` (or ``centred_out``). The running averages are
    read in test mode and never written here.
    """
    if mode == "test":
        scale = gamma / np.sqrt(running_var + eps)
        shift = beta - running_mean * scale
        out = np.multiply(x, scale, out=out)
        out += shift
        return out, None
    if mode != "train":
        raise ValueError(f"batch norm mode must be 'train' or 'test', not {mode!r}")
    n = x.shape[0]
    if n < 2:
        raise ValueError("batch norm in train mode needs a mini-batch of at least 2 samples")
    mean = column_mean(x, out=mean_out)
    var = column_dot(x, x, out=var_out, scratch=out)  # ``out`` doubles as scratch
    var *= 1.0 / n
    mean_squared = mean * mean
    var -= mean_squared
    offset: np.ndarray | None = mean
    if np.any(mean_squared > CENTRE_RATIO * var):
        # Precision fallback: centre first, then σ² = mean((x - μ)²).
        x = np.subtract(x, mean, out=centred_out)
        column_dot(x, x, out=var, scratch=out)
        var *= 1.0 / n
        offset = None
    inv_std = var + eps
    np.sqrt(inv_std, out=inv_std)
    np.divide(1, inv_std, out=inv_std)
    scale = gamma * inv_std
    out = np.multiply(x, scale, out=out)
    out += beta if offset is None else beta - mean * scale
    return out, BatchNormCache(x, offset, inv_std, scale, mean, var)


def batchnorm_backward(
    dout: np.ndarray,
    cache: BatchNormCache,
    *,
    dx_out: np.ndarray | None = None,
    dgamma_out: np.ndarray | None = None,
    dbeta_out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dout (N, D) -> (dx (N, D), dgamma (D,), dbeta (D,)) through a train-mode forward.

    dbeta = Σ dout, dgamma = Σ dout·z_norm,
    dx = gamma/√(σ²+ε) · (dout - dbeta/N - z_norm·dgamma/N).
    ``dx_out`` may be ``dout`` itself; ``scratch`` is an optional (N, D) work buffer.
    """
    source, offset, inv_std, scale, _, _ = cache
    inv_n = 1.0 / dout.shape[0]
    dbeta = column_sum(dout, out=dbeta_out)
    dgamma = column_dot(dout, source, out=dgamma_out, scratch=scratch)
    if offset is not None:  # Σ dout·(x - μ) = Σ dout·x - μ·Σ dout
        dgamma -= offset * dbeta
    dgamma *= inv_std
    # dx = scale·dout - slope·(x - μ) - scale·dbeta/N, slope = scale·inv_std·dgamma/N
    slope = scale * inv_std
    slope *= dgamma
    slope *= inv_n
    constant = scale * dbeta
    constant *= -inv_n
    if offset is not None:
        constant += slope * offset
    dx = np.multiply(dout, scale, out=dx_out)
    product = np.multiply(source, slope, out=scratch)
    dx -= product
    dx += constant
    return dx, dgamma, dbeta


def update_running_averages(
    running_mean: np.ndarray,
    running_var: np.ndarray,
    cache: BatchNormCache,
    momentum: float,
) -> None:
    """In place: running ← momentum·running + (1 - momentum)·batch, for μ and σ²."""
    running_mean *= momentum
    running_mean += (1.0 - momentum) * cache.mean
    running_var *= momentum
    running_var += (1.0 - momentum) * cache.var
