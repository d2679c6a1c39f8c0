"""The Gaussian process, tested like a library: its gradient, its fit and posterior against
scikit-learn's with the same fixed kernel, the fantasy update against a full refit, and the
leave-one-out density against refits without each point."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import check_grad
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern

from api.search.gaussian_process import (
    FantasyPosterior,
    GaussianProcess,
    components,
    fit_hyperparameters,
    log_expected_improvement,
    loo_log_density,
    negative_log_posterior,
)


def data(n: int, du: int, dc: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    u = rng.random((n, du))
    c = rng.integers(0, 3, size=(n, dc))
    y = np.sin(6 * u).sum(1) + 0.3 * (c == 1).sum(1) + 0.05 * rng.normal(size=n)
    return u, c, (y - y.mean()) / y.std()


@pytest.mark.parametrize("priors", [True, False])
@pytest.mark.parametrize("dc", [0, 2])
def test_the_gradient_matches_finite_differences(priors: bool, dc: int) -> None:
    u, c, y = data(25, 3, dc, 1)
    comps = components(u, c, u, c)
    rng = np.random.default_rng(2)
    for _ in range(5):
        theta = np.r_[rng.normal(-0.5, 0.5, 3 + dc), rng.normal(0, 0.5), rng.normal(-4, 1)]
        err = check_grad(
            lambda t: negative_log_posterior(t, comps, y, priors)[0],
            lambda t: negative_log_posterior(t, comps, y, priors)[1],
            theta,
            epsilon=1e-6,
        )
        scale = np.linalg.norm(negative_log_posterior(theta, comps, y, priors)[1])
        assert err <= 1e-4 * max(scale, 1.0), (err, scale)


def sklearn_gp(u: np.ndarray, y: np.ndarray, gp: GaussianProcess) -> GaussianProcessRegressor:
    kernel = ConstantKernel(gp.signal, "fixed") * Matern(
        length_scale=gp.lengthscales, length_scale_bounds="fixed", nu=2.5
    )
    return GaussianProcessRegressor(kernel, alpha=gp.noise, optimizer=None).fit(u, y)


def test_fit_and_posterior_match_scikit_learn_with_the_same_kernel() -> None:
    u, c, y = data(40, 4, 0, 3)
    gp = GaussianProcess.fit(u, c, y)
    ref = sklearn_gp(u, y, gp)
    # The marginal likelihood at the fitted hyperparameters (priors off) is scikit-learn's.
    theta = np.r_[np.log(gp.lengthscales), math.log(gp.signal), math.log(gp.noise - 1e-6)]
    nll, _ = negative_log_posterior(theta, components(u, c, u, c), y, priors=False)
    assert nll == pytest.approx(-ref.log_marginal_likelihood_value_, rel=1e-8, abs=1e-8)
    test = np.random.default_rng(4).random((200, 4))
    mean, std = gp.posterior(test, np.zeros((200, 0), dtype=int))
    want_mean, want_std = ref.predict(test, return_std=True)
    assert np.allclose(mean, want_mean, atol=1e-8)
    assert np.allclose(std, want_std, atol=1e-6)


def test_categorical_dimensions_match_a_one_hot_kernel() -> None:
    """A categorical's distance is 0 or 1: a one-hot encoding scaled by 1/√2 gives the same."""
    u, c, y = data(30, 2, 1, 5)
    gp = GaussianProcess.fit(u, c, y)
    onehot = np.eye(3)[c[:, 0]] / math.sqrt(2)
    x = np.hstack([u, onehot])
    ls = np.r_[gp.lengthscales[:2], np.repeat(gp.lengthscales[2], 3)]
    ref = sklearn_gp(x, y, GaussianProcess(u, c, y, ls, gp.signal, gp.noise, gp.chol, gp.alpha))
    tu, tc = (
        np.random.default_rng(6).random((50, 2)),
        np.random.default_rng(7).integers(0, 3, (50, 1)),
    )
    mean, std = gp.posterior(tu, tc)
    want_mean, want_std = ref.predict(
        np.hstack([tu, np.eye(3)[tc[:, 0]] / math.sqrt(2)]), return_std=True
    )
    assert np.allclose(mean, want_mean, atol=1e-8) and np.allclose(std, want_std, atol=1e-6)


def test_the_fitted_noise_follows_the_data() -> None:
    rng = np.random.default_rng(8)
    u = rng.random((60, 1))
    clean = np.sin(6 * u[:, 0])
    noisy = clean + 0.5 * rng.normal(size=60)
    z = lambda v: (v - v.mean()) / v.std()  # noqa: E731
    quiet = fit_hyperparameters(u, np.zeros((60, 0), int), z(clean))
    loud = fit_hyperparameters(u, np.zeros((60, 0), int), z(noisy))
    assert loud.noise > 10 * quiet.noise and loud.noise > 0.05


def test_the_fantasy_update_equals_a_refit_with_the_fantasised_values() -> None:
    u, c, y = data(30, 3, 1, 9)
    gp = GaussianProcess.fit(u, c, y)
    post = FantasyPosterior(gp)
    rng = np.random.default_rng(10)
    fu, fc = rng.random((5, 3)), rng.integers(0, 3, (5, 1))
    tu, tc = rng.random((100, 3)), rng.integers(0, 3, (100, 1))
    points = post.prepare(tu, tc)
    believed = []  # kriging believer: each fantasy takes the posterior mean given the earlier ones
    full = gp
    for k in range(5):
        post.add(fu[k : k + 1], fc[k : k + 1])
        m, _ = full.posterior(fu[k : k + 1], fc[k : k + 1])
        believed.append(m[0])
        full = gp.condition(fu[: k + 1], fc[: k + 1], np.array(believed))
    mean, std = full.posterior(tu, tc)
    assert np.allclose(points.mean, mean, atol=1e-8)  # believed values leave the mean unchanged
    assert np.allclose(post.std(points), std, atol=1e-6)


def test_the_fantasy_factors_solved_by_blocks_equal_a_refit_whenever_they_are_read() -> None:
    """A point set read between fantasies (its factors then come one block at a time, on top
    of those it holds) and one prepared after all of them give the refit's variance."""
    u, c, y = data(30, 3, 1, 12)
    gp = GaussianProcess.fit(u, c, y)
    post = FantasyPosterior(gp)
    rng = np.random.default_rng(13)
    fu, fc = rng.random((6, 3)), rng.integers(0, 3, (6, 1))
    tu, tc = rng.random((50, 3)), rng.integers(0, 3, (50, 1))
    early = post.prepare(tu, tc)
    believed: list[float] = []
    full = gp
    for lo, hi in ((0, 1), (1, 3), (3, 6)):  # blocks of one, two and three fantasies
        for k in range(lo, hi):
            post.add(fu[k : k + 1], fc[k : k + 1])
            m, _ = full.posterior(fu[k : k + 1], fc[k : k + 1])
            believed.append(m[0])
            full = gp.condition(fu[: k + 1], fc[: k + 1], np.array(believed))
        _, std = full.posterior(tu, tc)
        assert np.allclose(post.std(early), std, atol=1e-6)
    assert np.allclose(post.std(post.prepare(tu, tc)), std, atol=1e-6)


def test_the_leave_one_out_density_equals_refits_without_each_point() -> None:
    u, c, y = data(20, 2, 1, 11)
    comps = components(u, c, u, c)
    theta = np.r_[np.log([0.4, 0.7, 1.2]), math.log(1.3), math.log(0.01)]
    ls, signal, noise = np.exp(theta[:3]), math.exp(theta[3]), math.exp(theta[4]) + 1e-6
    want = 0.0
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        gp = GaussianProcess.build(u[keep], c[keep], y[keep], ls, signal, noise)
        mean, std = gp.posterior(u[i : i + 1], c[i : i + 1])
        var = std[0] ** 2 + noise  # the held-out value is observed with noise
        want += -0.5 * math.log(2 * math.pi * var) - 0.5 * (y[i] - mean[0]) ** 2 / var
    assert loo_log_density(theta, comps, y) == pytest.approx(want, rel=1e-8)


def _relative_error(
    u: np.ndarray, y: np.ndarray, test: np.ndarray, want: np.ndarray, r: int
) -> float:
    none = np.zeros((len(u), 0), int)
    m, sd = y.mean(), y.std()
    hp = fit_hyperparameters(u, none, (y - m) / sd, restarts=r)
    gp = GaussianProcess.build(u, none, (y - m) / sd, hp.lengthscales, hp.signal, hp.noise)
    mean, _ = gp.posterior(test, np.zeros((len(test), 0), int))
    return float(np.mean((mean * sd + m - want) ** 2) / want.var())


@pytest.mark.parametrize("seed", [4, 5])
def test_leave_one_out_picks_the_rough_fit_where_the_smooth_prior_misses_the_ripples(
    seed: int,
) -> None:
    """With the smooth prior alone, 30 points of a rippled bowl are fitted as a smooth trend;
    the rough prior's fit predicts held-out points far better, and leave-one-out picks it.
    A smooth bowl keeps the same fit either way."""
    rng = np.random.default_rng(seed)
    u, test = rng.random((30, 2)), rng.random((300, 2))
    rippled = lambda x: np.sin(10 * x).sum(1) + ((x - 0.5) ** 2).sum(1)  # noqa: E731
    alone = _relative_error(u, rippled(u), test, rippled(test), r=1)
    chosen = _relative_error(u, rippled(u), test, rippled(test), r=2)
    assert alone > 0.5 and chosen < 0.25, (alone, chosen)
    bowl = lambda x: ((x - 0.3) ** 2).sum(1)  # noqa: E731
    assert _relative_error(u, bowl(u), test, bowl(test), r=2) == pytest.approx(
        _relative_error(u, bowl(u), test, bowl(test), r=1)
    )


@pytest.mark.parametrize("dc", [0, 2])
@pytest.mark.parametrize("noisy", [True, False])
def test_single_precision_ranks_candidates_as_the_exact_posterior_does(
    dc: int, noisy: bool
) -> None:
    u, c, y = data(128, 4, dc, 7)
    if not noisy:  # a smooth noiseless objective: a nearly singular kernel matrix
        y = np.sin(3 * u).sum(1) + 0.3 * (c == 1).sum(1)
        y = (y - y.mean()) / y.std()
    gp = GaussianProcess.fit(u, c, y)
    if not noisy:  # the smallest noise the model allows
        gp = GaussianProcess.build(u, c, y, gp.lengthscales, gp.signal, 1e-6)
    rng = np.random.default_rng(8)
    cu, cc = rng.random((2000, 4)), rng.integers(0, 3, size=(2000, dc))
    # Half the candidates crowd the best points, where the variance is smallest and the single
    # precision's rounding weighs most.
    near = np.argsort(y)[:5]
    cu[:1000] = np.clip(np.repeat(u[near], 200, axis=0) + 0.01 * rng.normal(size=(1000, 4)), 0, 1)
    cc[:1000] = np.repeat(c[near], 200, axis=0)
    best = float(gp.mean_at_data().min())
    post = FantasyPosterior(gp)
    post.add(cu[:2], cc[:2])  # two fantasies: a batch under way
    exact, single = post.prepare(cu, cc), post.prepare(cu, cc, single=True)
    assert single.v.dtype == np.float32
    tol = 1e-3 if noisy else 5e-2  # a nearly singular kernel matrix magnifies the rounding
    assert np.allclose(single.mean, exact.mean, atol=tol)
    assert np.allclose(post.std(single), post.std(exact), atol=tol)
    rank = [
        np.argsort(-log_expected_improvement(p.mean, post.std(p), best)) for p in (exact, single)
    ]
    assert set(rank[0][:16]) <= set(rank[1][:64].tolist())
