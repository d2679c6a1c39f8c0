"""Layer helpers: column reductions on both of their code paths, softmax on both of its."""

from __future__ import annotations

import numpy as np
import pytest

from worker.nn.layers import column_dot, column_mean, column_sum, relu_backward, relu_forward
from worker.nn.softmax import SAFE_LOGIT, cross_entropy, softmax, softmax_cross_entropy


@pytest.mark.parametrize("shape", [(8, 5), (256, 128)])  # below and above the einsum threshold
def test_column_reductions(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    np.testing.assert_allclose(column_sum(a), a.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(column_mean(a), a.mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(column_dot(a, b), (a * b).sum(axis=0), rtol=1e-10, atol=1e-12)
    out = np.empty(shape[1])
    assert column_dot(a, b, out=out, scratch=np.empty(shape)) is out


def test_relu_passes_gradient_only_where_active() -> None:
    out, cache = relu_forward(np.array([[-1.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(out, [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(relu_backward(np.array([[5.0, 6.0, 7.0]]), cache), [[0, 0, 7.0]])


def test_softmax_paths_agree_with_and_without_the_shift() -> None:
    rng = np.random.default_rng(1)
    logits = 10 * rng.standard_normal((6, 4))
    y = rng.integers(0, 4, size=6)
    loss, grad = softmax_cross_entropy(logits.copy(), y)
    shifted = logits.copy()
    shifted[0, 0] = SAFE_LOGIT + 1  # forces the shifted path for the whole batch
    loss_shifted, grad_shifted = softmax_cross_entropy(shifted, y)
    reference = shifted.copy()
    probs = softmax(reference)
    expected = -np.mean(np.log(probs[np.arange(6), y]))
    assert loss_shifted == pytest.approx(expected, rel=1e-12)
    expected_grad = probs.copy()
    expected_grad[np.arange(6), y] -= 1
    np.testing.assert_allclose(grad_shifted, expected_grad / 6, rtol=1e-10, atol=1e-15)
    # the unshifted path on the original logits
    probs = softmax(logits)
    assert loss == pytest.approx(-np.mean(np.log(probs[np.arange(6), y])), rel=1e-12)
    np.testing.assert_allclose(grad, (probs - np.eye(4)[y]) / 6, rtol=1e-10, atol=1e-15)


def test_softmax_cross_entropy_in_place_and_float32() -> None:
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]], dtype=np.float32)
    expected_loss, expected_grad = softmax_cross_entropy(
        logits.astype(np.float64), np.array([0, 2])
    )
    loss, grad = softmax_cross_entropy(logits, np.array([0, 2]), dlogits_out=logits)
    assert grad is logits and grad.dtype == np.float32
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-5)


def test_cross_entropy_sums_losses_and_counts_hits() -> None:
    logits = np.array([[3.0, 0.0], [0.0, 3.0], [1.0, 0.0]])
    total, correct = cross_entropy(logits, np.array([0, 0, 0]))
    per_row = -np.log(softmax(logits)[:, 0])
    assert total == pytest.approx(per_row.sum(), rel=1e-12)
    assert correct == 2
