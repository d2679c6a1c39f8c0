"""Batch Norm's train/test modes and its running averages."""

from __future__ import annotations

import numpy as np
import pytest

from worker.nn.batchnorm import batchnorm_forward, update_running_averages
from worker.nn.model import Network


def test_train_mode_normalises_each_unit_over_the_batch() -> None:
    rng = np.random.default_rng(0)
    x = 4.0 * rng.standard_normal((64, 3)) + np.array([10.0, -5.0, 0.0])
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    out, cache = batchnorm_forward(
        x, gamma, beta, mode="train", running_mean=np.zeros(3), running_var=np.ones(3)
    )
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-5)
    assert cache is not None
    np.testing.assert_allclose(cache.mean, x.mean(axis=0))
    np.testing.assert_allclose(cache.var, x.var(axis=0))


def test_test_mode_uses_the_running_averages() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    gamma, beta = np.array([2.0, 1.0]), np.array([0.5, 0.0])
    running_mean, running_var = np.array([1.0, 0.0]), np.array([4.0, 1.0])
    out, cache = batchnorm_forward(
        x, gamma, beta, mode="test", running_mean=running_mean, running_var=running_var, eps=0.0
    )
    assert cache is None
    np.testing.assert_allclose(out, [[0.5, 2.0], [2.5, 4.0]])


def test_train_mode_rejects_a_batch_of_one() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        batchnorm_forward(
            np.ones((1, 3)),
            np.ones(3),
            np.zeros(3),
            mode="train",
            running_mean=np.zeros(3),
            running_var=np.ones(3),
        )


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="mode"):
        batchnorm_forward(
            np.ones((2, 3)),
            np.ones(3),
            np.zeros(3),
            mode="eval",  # type: ignore[arg-type]
            running_mean=np.zeros(3),
            running_var=np.ones(3),
        )


def test_running_averages_are_exponentially_weighted() -> None:
    running_mean, running_var = np.zeros(2), np.ones(2)
    stats = {"running_mean": running_mean, "running_var": running_var}
    for batch in (np.array([[0.0, 2.0], [2.0, 2.0]]), np.array([[4.0, 0.0], [8.0, 0.0]])):
        _, cache = batchnorm_forward(batch, np.ones(2), np.zeros(2), mode="train", **stats)
        assert cache is not None
        update_running_averages(running_mean, running_var, cache, momentum=0.9)
    # means (1, 2) then (6, 0); variances (1, 0) then (4, 0)
    np.testing.assert_allclose(running_mean, [0.9 * 0.1 * 1 + 0.1 * 6, 0.9 * 0.1 * 2 + 0])
    np.testing.assert_allclose(running_var, [0.81 * 1 + 0.09 * 1 + 0.1 * 4, 0.81 * 1])


def test_a_batch_of_one_gives_its_output_in_a_large_batch() -> None:
    rng = np.random.default_rng(3)
    net = Network(5, 4, hidden_units=16, layers=2, activation="relu", rng=rng)
    x = rng.standard_normal((256, 5)).astype(np.float32) * 3 + 1
    y = rng.integers(0, 4, size=256)
    for _ in range(20):
        net.forward_backward(x[:128], y[:128], bn_momentum=0.5)
    assert not np.allclose(net.running_means[0], 0)  # the averages moved away from their start
    large = net.logits(x)
    for i in (0, 17, 255):
        np.testing.assert_allclose(net.logits(x[i : i + 1])[0], large[i], rtol=1e-5, atol=1e-5)


def test_forward_backward_updates_running_averages_only_with_a_momentum() -> None:
    rng = np.random.default_rng(4)
    net = Network(3, 2, hidden_units=4, layers=1, activation="relu", rng=rng)
    x = rng.standard_normal((8, 3)).astype(np.float32) + 5
    y = rng.integers(0, 2, size=8)
    net.forward_backward(x, y)
    np.testing.assert_array_equal(net.running_means[0], 0)
    net.forward_backward(x, y, bn_momentum=0.0)
    z = x @ net.weights[0]  # no optimizer step ran, so the weights are unchanged
    np.testing.assert_allclose(net.running_means[0], z.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(net.running_vars[0], z.var(axis=0), rtol=1e-4)


def test_a_large_mean_falls_back_to_centring_and_stays_precise_in_float32() -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((256, 4)) + np.array([1e4, -3e3, 0.0, 50.0])).astype(np.float32)
    stats = {"running_mean": np.zeros(4, np.float32), "running_var": np.ones(4, np.float32)}
    work = x.copy()
    out, cache = batchnorm_forward(
        work,
        np.ones(4, np.float32),
        np.zeros(4, np.float32),
        mode="train",
        centred_out=work,
        **stats,
    )
    assert cache is not None and cache.offset is None  # the fallback ran
    reference = (x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)) / np.sqrt(
        x.var(axis=0, dtype=np.float64) + 1e-5
    )
    np.testing.assert_allclose(out, reference, atol=2e-3)
    np.testing.assert_allclose(cache.var, x.astype(np.float64).var(axis=0), rtol=1e-3)


def test_a_moderate_mean_takes_the_single_pass_form() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 3)) * 2 + 3
    stats = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    out, cache = batchnorm_forward(x, np.ones(3), np.zeros(3), mode="train", **stats)
    assert cache is not None and cache.offset is not None
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-10)
