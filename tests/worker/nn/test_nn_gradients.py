"""Centred-difference gradient checks, in float64, of every layer and of the whole network."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from worker.nn.batchnorm import batchnorm_backward, batchnorm_forward
from worker.nn.layers import (
    affine_backward,
    affine_forward,
    dense_backward,
    dense_forward,
    relu_backward,
    relu_forward,
    tanh_backward,
    tanh_forward,
)
from worker.nn.model import Network
from worker.nn.softmax import softmax_cross_entropy

TOLERANCE = 1e-6
STEP = 1e-6


def numerical_gradient(f: Callable[[], float], x: np.ndarray, step: float = STEP) -> np.ndarray:
    """Centred differences of the scalar ``f()`` with respect to each entry of ``x`` (in place)."""
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + step
        plus = f()
        flat_x[i] = original - step
        minus = f()
        flat_x[i] = original
        flat_grad[i] = (plus - minus) / (2 * step)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max |a - n| / max(|a| + |n|, 1e-8), elementwise."""
    return float(
        np.max(np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-8))
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal draws pushed at least 0.1 from 0, so no ReLU kink is within a finite step."""
    x = rng.standard_normal(shape)
    return x + 0.1 * np.sign(x)


def test_dense(rng: np.random.Generator) -> None:
    x, w = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    dout = rng.standard_normal((5, 3))

    def f() -> float:
        return float(np.sum(dense_forward(x, w)[0] * dout))

    dx, dw = dense_backward(dout, dense_forward(x, w)[1])
    assert relative_error(dx, numerical_gradient(f, x)) < TOLERANCE
    assert relative_error(dw, numerical_gradient(f, w)) < TOLERANCE


def test_dense_can_skip_the_input_gradient(rng: np.random.Generator) -> None:
    x, w = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    dx, dw = dense_backward(np.ones((5, 3)), dense_forward(x, w)[1], need_dx=False)
    assert dx is None
    np.testing.assert_allclose(dw, x.T @ np.ones((5, 3)))


def test_affine(rng: np.random.Generator) -> None:
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    dout = rng.standard_normal((6, 3))

    def f() -> float:
        return float(np.sum(affine_forward(x, w, b)[0] * dout))

    dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
    assert dx is not None
    assert relative_error(dx, numerical_gradient(f, x)) < TOLERANCE
    assert relative_error(dw, numerical_gradient(f, w)) < TOLERANCE
    assert relative_error(db, numerical_gradient(f, b)) < TOLERANCE


@pytest.mark.parametrize(
    ("forward", "backward"), [(relu_forward, relu_backward), (tanh_forward, tanh_backward)]
)
def test_activations(
    rng: np.random.Generator, forward: Callable[..., tuple], backward: Callable[..., np.ndarray]
) -> None:
    x = away_from_zero(rng, (4, 5))
    dout = rng.standard_normal((4, 5))

    def f() -> float:
        return float(np.sum(forward(x)[0] * dout))

    dx = backward(dout, forward(x)[1])
    assert relative_error(dx, numerical_gradient(f, x)) < TOLERANCE


# The single-pass form, and the centring fallback (a larger step there: x ~ 500 leaves the
# forward pass fewer significant digits for the differences).
@pytest.mark.parametrize(("mean", "step"), [(2.0, STEP), (500.0, 1e-4)])
def test_batchnorm_train_mode(rng: np.random.Generator, mean: float, step: float) -> None:
    x = 3.0 * rng.standard_normal((8, 5)) + mean
    gamma, beta = rng.standard_normal(5) + 1.0, rng.standard_normal(5)
    dout = rng.standard_normal((8, 5))
    running_mean, running_var = np.zeros(5), np.ones(5)

    def forward() -> tuple[np.ndarray, object]:
        return batchnorm_forward(
            x, gamma, beta, mode="train", running_mean=running_mean, running_var=running_var
        )

    def f() -> float:
        return float(np.sum(forward()[0] * dout))

    _, cache = forward()
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)  # type: ignore[arg-type]
    assert cache is not None and (cache.offset is None) == (mean > 100)
    assert relative_error(dx, numerical_gradient(f, x, step)) < TOLERANCE
    assert relative_error(dgamma, numerical_gradient(f, gamma, step)) < TOLERANCE
    assert relative_error(dbeta, numerical_gradient(f, beta, step)) < TOLERANCE


def test_batchnorm_backward_in_place_matches_fresh_buffers(rng: np.random.Generator) -> None:
    x = rng.standard_normal((8, 5))
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    dout = rng.standard_normal((8, 5))
    stats = {"running_mean": np.zeros(5), "running_var": np.ones(5)}
    _, cache = batchnorm_forward(x, gamma, beta, mode="train", **stats)
    expected = batchnorm_backward(dout, cache)  # type: ignore[arg-type]
    work = dout.copy()
    dx, _, _ = batchnorm_backward(work, cache, dx_out=work, scratch=np.empty_like(x))  # type: ignore[arg-type]
    assert dx is work
    np.testing.assert_allclose(dx, expected[0], rtol=1e-12)


def test_softmax_cross_entropy(rng: np.random.Generator) -> None:
    logits = rng.standard_normal((7, 4))
    y = rng.integers(0, 4, size=7)

    def f() -> float:
        return softmax_cross_entropy(logits.copy(), y)[0]

    _, dlogits = softmax_cross_entropy(logits.copy(), y)
    assert relative_error(dlogits, numerical_gradient(f, logits)) < TOLERANCE


def test_softmax_cross_entropy_is_stable_for_huge_logits() -> None:
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]])
    loss, dlogits = softmax_cross_entropy(logits, np.array([0, 0]))
    assert loss == pytest.approx(500.0)  # (0 + 1000) / 2
    assert np.isfinite(dlogits).all()


@pytest.mark.parametrize(
    ("activation", "layers", "l2"), [("relu", 2, 0.1), ("tanh", 2, 0.0), ("relu", 0, 0.3)]
)
def test_whole_network_with_batch_norm(activation: str, layers: int, l2: float) -> None:
    rng = np.random.default_rng(7)
    net = Network(
        4, 3, hidden_units=6, layers=layers, activation=activation, rng=rng, dtype=np.float64
    )
    for gamma, beta in zip(net.gammas, net.betas, strict=True):
        gamma[...] = rng.uniform(0.5, 1.5, gamma.shape)
        beta[...] = 0.3 * rng.standard_normal(beta.shape)
    net.output_bias[...] = rng.standard_normal(3)
    x = rng.standard_normal((10, 4))
    y = rng.integers(0, 3, size=10)

    net.forward_backward(x, y, l2=l2)
    analytic = net.grads.copy()
    numeric = numerical_gradient(lambda: net.train_loss(x, y, l2=l2), net.params)
    assert relative_error(analytic, numeric) < TOLERANCE


def test_whole_network_gradient_check_catches_a_wrong_gradient() -> None:
    rng = np.random.default_rng(7)
    net = Network(4, 3, hidden_units=6, layers=2, activation="relu", rng=rng, dtype=np.float64)
    x, y = rng.standard_normal((10, 4)), rng.integers(0, 3, size=10)
    net.forward_backward(x, y)
    analytic = net.grads.copy()
    analytic[net.n_weights + 2] *= 1.001  # a gamma gradient off by 0.1 %
    numeric = numerical_gradient(lambda: net.train_loss(x, y), net.params)
    assert relative_error(analytic, numeric) > TOLERANCE
