"""Each optimizer against steps computed by hand, and against the textbook formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from worker.nn.optimizers import Adam, make_optimizer

W0 = np.array([1.0, -2.0])
G = np.array([0.5, -0.25])
LR = 0.1


def run(optimizer_name: str, steps: int, **kwargs: float) -> np.ndarray:
    optimizer = make_optimizer(optimizer_name, 2, np.float64, **kwargs)
    w = W0.copy()
    for _ in range(steps):
        optimizer.step(w, G.copy(), LR)
    return w


def test_gradient_descent_by_hand() -> None:
    # w - 0.1·g
    np.testing.assert_allclose(run("gd", 1), [0.95, -1.975], rtol=1e-12)


def test_momentum_by_hand() -> None:
    # v₁ = 0.1·g = (0.05, -0.025);  w₁ = w₀ - 0.1·v₁
    np.testing.assert_allclose(run("momentum", 1, beta=0.9), [0.995, -1.9975], rtol=1e-12)
    # v₂ = 0.9·v₁ + 0.1·g = (0.095, -0.0475);  w₂ = w₁ - 0.1·v₂
    np.testing.assert_allclose(run("momentum", 2, beta=0.9), [0.9855, -1.99275], rtol=1e-12)


def test_rmsprop_by_hand() -> None:
    # s₁ = 0.001·g² = (2.5e-4, 6.25e-5);  √s₁ = (0.015811388, 0.0079056942)
    # w₁ = w₀ - 0.1·g/√s₁ = w₀ - 0.1·(31.6227766, -31.6227766)
    expected = [1.0 - 3.16227766017, -2.0 + 3.16227766017]
    np.testing.assert_allclose(run("rmsprop", 1, beta2=0.999, epsilon=0.0), expected, rtol=1e-10)


def test_adam_by_hand() -> None:
    # m₁ = 0.1·g, v₁ = 0.001·g²; bias-corrected m̂ = g, v̂ = g², so w₁ = w₀ - 0.1·g/(|g| + ε)
    w = run("adam", 1, beta1=0.9, beta2=0.999, epsilon=1e-8)
    np.testing.assert_allclose(w, [1.0 - 0.05 / (0.5 + 1e-8), -2.0 + 0.025 / (0.25 + 1e-8)])
    assert w[0] == pytest.approx(0.9, abs=1e-8)


def textbook(name: str, grads: list[np.ndarray], lr: float) -> np.ndarray:
    """The update formulas exactly as written, unscaled state."""
    b, b1, b2, eps = 0.8, 0.7, 0.95, 1e-3
    w, v, s, m = W0.copy(), np.zeros(2), np.zeros(2), np.zeros(2)
    for t, g in enumerate(grads, start=1):
        if name == "momentum":
            v = b * v + (1 - b) * g
            w = w - lr * v
        elif name == "rmsprop":
            s = b2 * s + (1 - b2) * g**2
            w = w - lr * g / (np.sqrt(s) + eps)
        else:
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g**2
            m_hat, s_hat = m / (1 - b1**t), s / (1 - b2**t)
            w = w - lr * m_hat / (np.sqrt(s_hat) + eps)
    return w


@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam"])
def test_several_steps_match_the_textbook_formulas(name: str) -> None:
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(2) for _ in range(5)]
    optimizer = make_optimizer(name, 2, np.float64, beta=0.8, beta1=0.7, beta2=0.95, epsilon=1e-3)
    w = W0.copy()
    for g in grads:
        optimizer.step(w, g.copy(), 0.05)
    np.testing.assert_allclose(w, textbook(name, grads, 0.05), rtol=1e-12)


def test_float32_state_stays_float32() -> None:
    optimizer = Adam(3, np.float32)
    w = np.ones(3, dtype=np.float32)
    optimizer.step(w, np.full(3, 0.5, dtype=np.float32), 0.01)
    assert w.dtype == np.float32
    assert math.isclose(float(w[0]), 0.99, rel_tol=1e-6)


def test_unknown_optimizer() -> None:
    with pytest.raises(ValueError, match="sgd"):
        make_optimizer("sgd", 2)
