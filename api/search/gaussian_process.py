"""A small Gaussian process for model-based sampling inside a region.

Kernel: Matérn 5/2 with one length scale per numeric param and one per categorical param (whose
distance is 0 for the same choice, 1 otherwise), a signal variance and a noise variance. The
hyperparameters maximise the marginal likelihood under log-normal priors whose length-scale prior
grows with the dimension (so that a few points do not make a wiggly model). Values are
standardised before the fit; ``posterior`` answers in that standardised scale.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
from scipy.linalg import cho_solve, cholesky, get_lapack_funcs, solve_triangular
from scipy.optimize import minimize
from scipy.special import erfcx, ndtr

_SQRT5 = math.sqrt(5.0)


_MIN_NOISE = 1e-6


def _lower_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``solve_triangular(a, b, lower=True, check_finite=False)`` for float64 ``a`` (square,
    lower triangular) and ``b``: the same LAPACK call, without the wrapper's per-call checks
    (about 50 µs, paid thousands of times by one batch of suggestions)."""
    (trtrs,) = get_lapack_funcs(("trtrs",), (a, b))
    if a.flags.f_contiguous:
        x, info = trtrs(a, b, lower=1, trans=0)
    else:  # trtrs expects Fortran order: solve the transposed system, as scipy does
        x, info = trtrs(a.T, b, lower=0, trans=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"triangular solve failed (info {info})")
    return x


def components(u1: np.ndarray, c1: np.ndarray, u2: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """Squared distance per dimension, shape (n1, n2, numeric + categorical)."""
    du = (u1[:, None, :] - u2[None, :, :]) ** 2
    dc = (c1[:, None, :] != c2[None, :, :]).astype(float)
    return np.concatenate([du, dc], axis=2)


def _scaled_r2(
    u1: np.ndarray, c1: np.ndarray, u2: np.ndarray, c2: np.ndarray, ls: np.ndarray
) -> np.ndarray:
    """Σ_j d_j² / ℓ_j², without building the per-dimension tensor (worked in place: the
    arrays are (candidates × points), the largest of a suggestion)."""
    nu = u1.shape[1]
    a, b = u1 / ls[:nu], u2 / ls[:nu]
    r2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :]
    r2 -= (2.0 * a) @ b.T
    for j in range(c1.shape[1]):
        r2 += (c1[:, j][:, None] != c2[:, j][None, :]) / ls[nu + j] ** 2
    return np.maximum(r2, 0.0, out=r2)


def _matern(r2: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``scale`` · Matérn 5/2 of the scaled squared distances ``r2`` (a new array), in three
    temporaries instead of eight; the same numbers as the textbook expression."""
    s = np.sqrt(r2)
    s *= _SQRT5  # √5·r
    k = 1.0 + s
    k += (5.0 / 3.0) * r2
    np.negative(s, out=s)
    k *= np.exp(s, out=s)
    if scale != 1.0:
        k *= scale
    return k


@dataclass(frozen=True)
class Hyperparameters:
    lengthscales: np.ndarray
    signal: float
    noise: float


_MU_NOISE, _SD_NOISE, _SD_LS = -4.0, 1.0, math.sqrt(3.0)


def _mu_ls(dim: int, rough: bool = False) -> float:
    """The length-scale prior's log median: ``smooth`` (√2 + ½·log d, a prior that grows with
    the dimension) or ``rough`` (−0.7 + ½·log d, for objectives with many local optima)."""
    return (-0.7 if rough else math.sqrt(2.0)) + 0.5 * math.log(max(dim, 1))


def negative_log_posterior(
    theta: np.ndarray,
    comps: np.ndarray,
    y: np.ndarray,
    priors: bool = True,
    rough: bool = False,
) -> tuple[float, np.ndarray]:
    """−log p(y | θ) (− log prior(θ) when ``priors``) and its gradient in θ.

    θ = (log length scales…, log signal variance, log noise variance); ``comps`` holds the
    squared distance per dimension between the points (``components``). The noise variance is
    exp(θ_noise) + 1e-6. ``rough`` takes the length-scale prior of ``_mu_ls(dim, rough=True)``."""
    n, dim = len(y), comps.shape[2]
    log_ls, log_sig, log_noise = theta[:dim], theta[dim], theta[dim + 1]
    ls2 = np.exp(2.0 * log_ls)
    r2 = comps @ (1.0 / ls2)
    r = np.sqrt(r2)
    e = np.exp(-_SQRT5 * r)
    sig = math.exp(log_sig)
    noise = math.exp(log_noise) + _MIN_NOISE
    k = sig * (1.0 + _SQRT5 * r + 5.0 / 3.0 * r2) * e
    kn = k + noise * np.eye(n)
    try:
        lower = cholesky(kn, lower=True)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(theta)
    alpha = cho_solve((lower, True), y)
    nll = 0.5 * y @ alpha + np.log(np.diag(lower)).sum() + 0.5 * n * math.log(2 * math.pi)
    w = cho_solve((lower, True), np.eye(n)) - np.outer(alpha, alpha)
    grad = np.empty_like(theta)
    wc = w * (sig * 5.0 / 3.0 * (1.0 + _SQRT5 * r) * e)
    grad[:dim] = 0.5 * np.einsum("ijk,ij->k", comps, wc) / ls2
    grad[dim] = 0.5 * np.sum(w * k)
    grad[dim + 1] = 0.5 * np.trace(w) * math.exp(log_noise)
    if priors:  # log-normal priors on the length scales and the noise; a weak one on the signal
        mu_ls = _mu_ls(dim, rough)
        nll += np.sum((log_ls - mu_ls) ** 2) / (2 * _SD_LS**2)
        grad[:dim] += (log_ls - mu_ls) / _SD_LS**2
        nll += (log_noise - _MU_NOISE) ** 2 / (2 * _SD_NOISE**2)
        grad[dim + 1] += (log_noise - _MU_NOISE) / _SD_NOISE**2
        nll += log_sig**2 / 2.0
        grad[dim] += log_sig
    return float(nll), grad


def fit_hyperparameters(
    u: np.ndarray, c: np.ndarray, y: np.ndarray, restarts: int = 2
) -> Hyperparameters:
    """Maximum a posteriori hyperparameters for standardised ``y``.

    Two fits: one under the smooth length-scale prior, one under the rough one (see
    ``_mu_ls``); with ``restarts`` < 2, the smooth one only. The fit whose leave-one-out
    predictive log density is higher wins: a smooth objective keeps long length scales, one with
    many local optima gets the short ones its data support."""
    dim = u.shape[1] + c.shape[1]
    comps = components(u, c, u, c)
    bounds = [(math.log(1e-3), math.log(1e3))] * dim + [(math.log(1e-2), math.log(1e2))]
    bounds += [(math.log(1e-9), math.log(1.0))]
    fits = [(False, np.r_[np.full(dim, _mu_ls(dim)), 0.0, _MU_NOISE])]
    if restarts > 1:
        fits.append(
            (True, np.r_[np.full(dim, math.log(0.3 * math.sqrt(dim))), 0.0, math.log(1e-3)])
        )
    best, best_score = None, -math.inf
    for rough, theta0 in fits:
        res = minimize(
            negative_log_posterior,
            theta0,
            args=(comps, y, True, rough),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 200},
        )
        score = loo_log_density(res.x, comps, y) if len(fits) > 1 else 0.0
        if best is None or score > best_score:
            best, best_score = res, score
    assert best is not None
    theta = best.x
    return Hyperparameters(
        np.exp(theta[:dim]), math.exp(theta[dim]), math.exp(theta[dim + 1]) + _MIN_NOISE
    )


def loo_log_density(theta: np.ndarray, comps: np.ndarray, y: np.ndarray) -> float:
    """Σ_i log p(y_i | y_−i, θ): the leave-one-out predictive log density (Rasmussen &
    Williams, eq. 5.10–5.12), −inf when the kernel matrix is not positive definite."""
    return float(loo_log_densities(theta, comps, y).sum())


def loo_log_densities(theta: np.ndarray, comps: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log p(y_i | y_−i, θ) for every i (see ``loo_log_density``)."""
    n, dim = len(y), comps.shape[2]
    k = _matern(comps @ np.exp(-2.0 * theta[:dim]), math.exp(theta[dim]))
    k += (math.exp(theta[dim + 1]) + _MIN_NOISE) * np.eye(n)
    try:
        lower = cholesky(k, lower=True)
    except np.linalg.LinAlgError:
        return np.full(n, -math.inf)
    inv = cho_solve((lower, True), np.eye(n))
    d = np.diag(inv)
    resid = (inv @ y) / d  # y_i − μ_−i
    return -0.5 * np.log(2 * math.pi / d) - 0.5 * resid * resid * d


def theta_of(hp: Hyperparameters) -> np.ndarray:
    """The θ of ``negative_log_posterior`` for fitted hyperparameters."""
    return np.r_[
        np.log(hp.lengthscales), math.log(hp.signal), math.log(max(hp.noise - _MIN_NOISE, 1e-300))
    ]


_CACHE: OrderedDict[bytes, Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()
T = TypeVar("T")


def data_key(*arrays: np.ndarray) -> bytes:
    """A digest of the arrays' shapes and values (float arrays as float64, others as int64)."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        kind = float if a.dtype.kind == "f" else np.int64
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a, dtype=kind).tobytes())
    return h.digest()


def memoised(tag: str, arrays: tuple[np.ndarray, ...], compute: Callable[[], T]) -> T:
    """``compute()``, memoised on ``tag`` and the exact values of ``arrays`` (the last 128
    answers): the same answer with or without the memo, only faster when asked again."""
    key = tag.encode() + data_key(*arrays)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return cast(T, _CACHE[key])
    value = compute()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > 128:
            _CACHE.popitem(last=False)
    return value


def cached_hyperparameters(u: np.ndarray, c: np.ndarray, y: np.ndarray) -> Hyperparameters:
    """``fit_hyperparameters``, memoised on the exact data."""
    return memoised("hp", (u, c, y), lambda: fit_hyperparameters(u, c, y))


@dataclass
class GaussianProcess:
    """A fitted GP. Build it with ``fit``; ``condition`` adds points with fixed hyperparameters."""

    u: np.ndarray
    c: np.ndarray
    y: np.ndarray  # standardised
    lengthscales: np.ndarray
    signal: float
    noise: float
    chol: np.ndarray
    alpha: np.ndarray
    k_data: np.ndarray | None = None  # signal · kernel among its points (no noise), if kept
    _single: tuple[np.ndarray, ...] | None = field(default=None, repr=False)  # see ``single``

    @classmethod
    def fit(cls, u: np.ndarray, c: np.ndarray, y: np.ndarray, restarts: int = 2) -> GaussianProcess:
        """Fits hyperparameters on standardised ``y`` (the caller standardises)."""
        hp = fit_hyperparameters(u, c, y, restarts)
        return cls.build(u, c, y, hp.lengthscales, hp.signal, hp.noise)

    @classmethod
    def build(
        cls,
        u: np.ndarray,
        c: np.ndarray,
        y: np.ndarray,
        ls: np.ndarray,
        signal: float,
        noise: float,
    ) -> GaussianProcess:
        k_data = _matern(_scaled_r2(u, c, u, c, ls), signal)
        k = k_data + noise * np.eye(len(y))
        jitter = 0.0
        while True:
            try:
                lower = cholesky(k + jitter * np.eye(len(y)), lower=True)
                break
            except np.linalg.LinAlgError:
                jitter = max(jitter * 10, 1e-8)
        alpha = cho_solve((lower, True), y)
        return cls(u, c, y, ls, signal, noise, lower, alpha, k_data)

    def condition(self, u: np.ndarray, c: np.ndarray, y: np.ndarray) -> GaussianProcess:
        """The same model with more (possibly fantasised) points."""
        return self.build(
            np.vstack([self.u, u]),
            np.vstack([self.c, c]),
            np.r_[self.y, y],
            self.lengthscales,
            self.signal,
            self.noise,
        )

    def mean_at_data(self) -> np.ndarray:
        """The posterior mean at the GP's own points: ``posterior(self.u, self.c)[0]``, from
        the kernel matrix kept by ``build``."""
        if self.k_data is None:
            return self.posterior(self.u, self.c)[0]
        return self.k_data @ self.alpha

    def single(self) -> tuple[np.ndarray, ...]:
        """Single-precision copies for ``FantasyPosterior.prepare(single=True)``, made once:
        the points' centre, the points centred and scaled by the length scales, their squared
        norms, L⁻¹ and α."""
        if self._single is None:
            origin = self.u.mean(0)  # centred, the squared distances lose fewer digits
            b = ((self.u - origin) / self.lengthscales[: len(origin)]).astype(np.float32)
            inverse = solve_triangular(self.chol, np.eye(len(self.y)), lower=True)
            f32 = np.float32
            self._single = (origin, b, (b * b).sum(1), inverse.astype(f32), self.alpha.astype(f32))
        return self._single

    def posterior(self, u: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the latent function at the rows (u, c)."""
        ks = _matern(_scaled_r2(u, c, self.u, self.c, self.lengthscales), self.signal)
        mean = ks @ self.alpha
        v = _lower_solve(self.chol, ks.T)
        var = np.maximum(self.signal - (v * v).sum(0), 1e-12)
        return mean, np.sqrt(var)


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log E[max(best − f, 0)] for minimisation, stable far into the tail."""
    z = (best - mean) / std
    out = np.empty_like(z)
    hi = z > -1.0
    zh = z[hi]
    phi = np.exp(-0.5 * zh * zh) / math.sqrt(2 * math.pi)
    cdf = ndtr(zh)
    out[hi] = np.log(np.maximum(zh * cdf + phi, 1e-300))
    zl = z[~hi]
    # h(z) = φ(z)·(1 + z·√(π/2)·erfcx(−z/√2)) for z < 0
    inner = 1.0 + zl * math.sqrt(math.pi / 2) * erfcx(-zl / math.sqrt(2))
    out[~hi] = -0.5 * zl * zl - 0.5 * math.log(2 * math.pi) + np.log(np.maximum(inner, 1e-300))
    return out + np.log(std)


class FantasyPosterior:
    """The GP's posterior after fantasised points ("kriging believer": each fantasised value is
    the posterior mean there), updated by rank-one steps instead of refits.

    A fantasy at its own posterior mean leaves the mean unchanged everywhere and only shrinks the
    variance near it, so ``add`` is cheap and a batch of suggestions spreads out.
    """

    def __init__(self, gp: GaussianProcess) -> None:
        self.gp = gp
        n, nu, nc = len(gp.y), gp.u.shape[1], gp.c.shape[1]
        self._u = np.zeros((0, nu))  # the fantasies, one row each
        self._c = np.zeros((0, nc), dtype=gp.c.dtype)
        self._v = np.zeros((0, n))  # row i: L⁻¹ k(X, x_i)
        # Lower triangular: row i holds g_j(x_i) for j < i, and sqrt(var_{i−1}(x_i) + noise) on
        # the diagonal; a point's factors g solve (this) · g = cov(point, fantasies).
        self._lower = np.zeros((0, 0))

    def prepare(self, u: np.ndarray, c: np.ndarray, single: bool = False) -> PointSet:
        """The points (u, c), ready for ``std``. ``single``: computed in single precision,
        several times faster, and accurate to about 1e-3 of the signal (to a few hundredths when
        the kernel matrix is nearly singular): enough to rank many candidates before the best of
        them are prepared exactly."""
        gp = self.gp
        if not single:
            ks = _matern(_scaled_r2(u, c, gp.u, gp.c, gp.lengthscales), gp.signal)
            v = _lower_solve(gp.chol, ks.T)
            var0 = np.maximum(gp.signal - (v * v).sum(0), 1e-12)
            return PointSet(u, c, ks @ gp.alpha, var0, v, [])
        origin, b, bb, inverse, alpha = gp.single()
        ls, nu = gp.lengthscales, u.shape[1]
        a = ((u - origin) / ls[:nu]).astype(np.float32)
        r2 = (a * a).sum(1)[:, None] + bb[None, :]
        r2 -= (2.0 * a) @ b.T
        for j in range(c.shape[1]):
            r2 += (c[:, j][:, None] != gp.c[:, j][None, :]) / np.float32(ls[nu + j] ** 2)
        ks = _matern(np.maximum(r2, 0.0, out=r2), gp.signal)
        v = inverse @ ks.T  # L⁻¹ k(X, x)
        var0 = np.maximum(gp.signal - (v * v).sum(0, dtype=np.float64), 1e-12)
        return PointSet(u, c, ks @ alpha, var0, v, [])

    def std(self, points: PointSet) -> np.ndarray:
        """Posterior standard deviation at ``points`` given every fantasy added so far."""
        lo, hi = len(points.g), len(self._v)
        if hi > lo:
            for g in self._factors(points, lo, hi):
                points.g.append(g)
                points.sq = points.sq + g * g
        var = points.var0 - points.sq
        return np.sqrt(np.maximum(var, 1e-12))

    def add(self, u: np.ndarray, c: np.ndarray) -> None:
        """Fantasises the rows (u, c), one after the other."""
        for k in range(len(u)):
            point = self.prepare(u[k : k + 1], c[k : k + 1])
            var = float(self.std(point)[0] ** 2)
            f = len(self._v)
            lower = np.zeros((f + 1, f + 1))
            lower[:f, :f] = self._lower
            lower[f, :f] = [g[0] for g in point.g]
            lower[f, f] = math.sqrt(var + self.gp.noise)
            self._lower = lower
            self._u = np.vstack([self._u, u[k : k + 1]])
            self._c = np.vstack([self._c, c[k : k + 1]])
            self._v = np.vstack([self._v, point.v[:, 0][None]])

    def _factors(self, points: PointSet, lo: int, hi: int) -> np.ndarray:
        """The rank-one factors g_i(points) of the fantasies lo ≤ i < hi, one row each, given
        those below ``lo`` (already in ``points.g``): g_i = (cov_i − Σ_{j<i} g_j·G[i, j]) / s_i,
        solved for the whole block at once."""
        gp = self.gp
        k0 = gp.signal * _matern(
            _scaled_r2(points.u, points.c, self._u[lo:hi], self._c[lo:hi], gp.lengthscales)
        )
        cov = k0 - points.v.T @ self._v[lo:hi].T.astype(points.v.dtype)
        if lo:
            cov -= np.stack(points.g, axis=1) @ self._lower[lo:hi, :lo].T
        return _lower_solve(self._lower[lo:hi, lo:hi], cov.T)


@dataclass
class PointSet:
    """Points prepared for ``FantasyPosterior``: their mean, prior-to-fantasy variance and the
    rank-one factors applied so far."""

    u: np.ndarray
    c: np.ndarray
    mean: np.ndarray
    var0: np.ndarray
    v: np.ndarray
    g: list[np.ndarray]
    sq: np.ndarray | float = 0.0  # Σ g², added in the order of ``g``
