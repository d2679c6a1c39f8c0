"""The stacked (trials-axis) layer functions: centred-difference gradient checks in float64, and
each member's slice equal to the single-network function's answer."""

from __future__ import annotations

import numpy as np
import pytest

from tests.worker.nn.test_nn_gradients import TOLERANCE, numerical_gradient, relative_error
from worker.nn.batchnorm import batchnorm_backward, batchnorm_forward
from worker.nn.softmax import softmax_cross_entropy
from worker.nn.stacked import (
    stacked_affine_backward,
    stacked_affine_forward,
    stacked_batchnorm_backward,
    stacked_batchnorm_forward,
    stacked_dense_backward,
    stacked_dense_forward,
    stacked_softmax_cross_entropy,
)

K = 3


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(4321)


def test_stacked_dense(rng: np.random.Generator) -> None:
    x, w = rng.standard_normal((K, 5, 4)), rng.standard_normal((K, 4, 3))
    dout = rng.standard_normal((K, 5, 3))

    def f() -> float:
        return float(np.sum(stacked_dense_forward(x, w)[0] * dout))

    dx, dw = stacked_dense_backward(dout, stacked_dense_forward(x, w)[1])
    assert dx is not None
    assert relative_error(dx, numerical_gradient(f, x)) < TOLERANCE
    assert relative_error(dw, numerical_gradient(f, w)) < TOLERANCE


def test_stacked_dense_with_shared_input(rng: np.random.Generator) -> None:
    x, w = rng.standard_normal((5, 4)), rng.standard_normal((K, 4, 3))
    out, _ = stacked_dense_forward(x, w)
    for k in range(K):
        np.testing.assert_allclose(out[k], x @ w[k], rtol=1e-12)


def test_stacked_affine(rng: np.random.Generator) -> None:
    x, w = rng.standard_normal((K, 6, 4)), rng.standard_normal((K, 4, 3))
    b, dout = rng.standard_normal((K, 3)), rng.standard_normal((K, 6, 3))

    def f() -> float:
        return float(np.sum(stacked_affine_forward(x, w, b)[0] * dout))

    dx, dw, db = stacked_affine_backward(dout, stacked_affine_forward(x, w, b)[1])
    assert dx is not None
    assert relative_error(dx, numerical_gradient(f, x)) < TOLERANCE
    assert relative_error(dw, numerical_gradient(f, w)) < TOLERANCE
    assert relative_error(db, numerical_gradient(f, b)) < TOLERANCE


# Member 1 takes Batch Norm's centring fallback (mean 500 ≫ spread), the others do not; a larger
# step there, as in the single-network check.
def test_stacked_batchnorm_train_mode(rng: np.random.Generator) -> None:
    x = 3.0 * rng.standard_normal((K, 8, 5)) + np.array([2.0, 500.0, -1.0])[:, None, None]
    gamma, beta = rng.standard_normal((K, 5)) + 1.0, rng.standard_normal((K, 5))
    dout = rng.standard_normal((K, 8, 5))
    stats = {"running_mean": np.zeros((K, 5)), "running_var": np.ones((K, 5))}

    def f() -> float:
        out, _ = stacked_batchnorm_forward(x, gamma, beta, mode="train", **stats)
        return float(np.sum(out * dout))

    _, cache = stacked_batchnorm_forward(x, gamma, beta, mode="train", **stats)
    assert cache is not None
    assert list(cache.offset.any(axis=1)) == [True, False, True]  # member 1 was centred
    dx, dgamma, dbeta = stacked_batchnorm_backward(dout, cache)
    step = 1e-4
    assert relative_error(dx, numerical_gradient(f, x, step)) < TOLERANCE
    assert relative_error(dgamma, numerical_gradient(f, gamma, step)) < TOLERANCE
    assert relative_error(dbeta, numerical_gradient(f, beta, step)) < TOLERANCE
    for k in range(K):  # each member as the single-network layer computes it
        out, single = batchnorm_forward(
            x[k], gamma[k], beta[k], mode="train", running_mean=np.zeros(5), running_var=np.ones(5)
        )
        assert single is not None
        np.testing.assert_allclose(f_out := stacked_out(x, gamma, beta, stats)[k], out, rtol=1e-12)
        assert f_out.shape == (8, 5)
        sdx, sdgamma, sdbeta = batchnorm_backward(dout[k], single)
        np.testing.assert_allclose(dx[k], sdx, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dgamma[k], sdgamma, rtol=1e-9)
        np.testing.assert_allclose(dbeta[k], sdbeta, rtol=1e-9)


def stacked_out(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, stats: dict[str, np.ndarray]
) -> np.ndarray:
    return stacked_batchnorm_forward(x, gamma, beta, mode="train", **stats)[0]


def test_stacked_batchnorm_test_mode_uses_each_members_running_averages(
    rng: np.random.Generator,
) -> None:
    x = rng.standard_normal((K, 4, 5))
    gamma, beta = rng.standard_normal((K, 5)), rng.standard_normal((K, 5))
    means, variances = rng.standard_normal((K, 5)), rng.random((K, 5)) + 0.5
    out, cache = stacked_batchnorm_forward(
        x, gamma, beta, mode="test", running_mean=means, running_var=variances
    )
    assert cache is None
    for k in range(K):
        single, _ = batchnorm_forward(
            x[k], gamma[k], beta[k], mode="test", running_mean=means[k], running_var=variances[k]
        )
        np.testing.assert_allclose(out[k], single, rtol=1e-12)


def test_stacked_softmax_cross_entropy(rng: np.random.Generator) -> None:
    logits = rng.standard_normal((K, 6, 4))
    y = rng.integers(0, 4, size=(K, 6))

    def f() -> float:
        return float(stacked_softmax_cross_entropy(logits, y)[0].sum())

    _, dlogits = stacked_softmax_cross_entropy(logits, y)
    assert relative_error(dlogits, numerical_gradient(f, logits)) < TOLERANCE


def test_stacked_softmax_shifts_only_the_members_beyond_the_safe_range(
    rng: np.random.Generator,
) -> None:
    logits = rng.standard_normal((K, 6, 4)) * np.array([1.0, 3.0, 80.0])[:, None, None]
    y = rng.integers(0, 4, size=(K, 6))
    losses, dlogits = stacked_softmax_cross_entropy(logits.astype(np.float32), y)
    for k in range(K):
        loss, single = softmax_cross_entropy(logits[k].astype(np.float32), y[k])
        assert losses[k] == loss  # the same arithmetic, value for value
        np.testing.assert_array_equal(dlogits[k], single)
