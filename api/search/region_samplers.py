"""Samplers that draw points inside one region: uniform random, Sobol, or model-based (a Gaussian
process with expected improvement, batch-aware through fantasised values).

Every sampler returns one point per trial number, as (u, c) rows of ``SpaceEncoding``, inside the
region's box. Results depend only on their inputs (reproducible).
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from api.search.encoding import RegionBox, SpaceEncoding
from api.search.gaussian_process import (
    FantasyPosterior,
    GaussianProcess,
    Hyperparameters,
    cached_hyperparameters,
    components,
    log_expected_improvement,
    loo_log_densities,
    memoised,
    theta_of,
)


@dataclass(frozen=True)
class History:
    """Finished points (u, c, value: lower is better) and points still running (pu, pc).
    ``model``: what ``BaseRegionSampler.ranking`` fitted to these points, if anything (a
    sampler reuses it instead of fitting again)."""

    u: np.ndarray
    c: np.ndarray
    y: np.ndarray
    pu: np.ndarray
    pc: np.ndarray
    model: Model | None = None


class BaseRegionSampler(ABC):
    name: str

    def ranking(self, history: History) -> tuple[np.ndarray, Model | None]:
        """The values by which the strategy ranks the finished points (the best trial, a
        region's top trials), and whatever was fitted to find them (for ``History.model``):
        here the values themselves."""
        return history.y, None

    @abstractmethod
    def sample(
        self,
        enc: SpaceEncoding,
        box: RegionBox,
        numbers: list[int],
        history: History,
        seed: int,
        start: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One point per number, inside ``box``. ``start`` is the number of the region's first
        trial (quasi-random sequences index their points from it)."""


class RandomRegionSampler(BaseRegionSampler):
    """Uniform in the region; trial n's point depends only on (seed, n) and the region."""

    name = "random"

    def sample(
        self,
        enc: SpaceEncoding,
        box: RegionBox,
        numbers: list[int],
        history: History,
        seed: int,
        start: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        us, cs = [], []
        for n in numbers:
            rng = np.random.default_rng([seed, n])
            u, c = enc.uniform(box, rng.random((1, len(enc.numeric))), rng)
            us.append(u)
            cs.append(c)
        return np.vstack(us), np.vstack(cs)


class SobolRegionSampler(BaseRegionSampler):
    """A scrambled Sobol sequence over the region: point ``n − start`` for trial n."""

    name = "sobol"

    def sample(
        self,
        enc: SpaceEncoding,
        box: RegionBox,
        numbers: list[int],
        history: History,
        seed: int,
        start: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        return sobol_points(enc, box, numbers, seed, start)


def _sobol(d: int, rng: np.random.Generator) -> Any:
    """A scrambled Sobol engine of ``d`` dimensions (at least one). ``scipy.stats`` is imported
    here, not at the module's top: it takes over a second, and every api process would pay it
    at start-up whether or not a study ever draws a Sobol point."""
    from scipy.stats import qmc

    return qmc.Sobol(d=max(d, 1), scramble=True, seed=rng)


def sobol_points(
    enc: SpaceEncoding, box: RegionBox, numbers: list[int], seed: int, start: int
) -> tuple[np.ndarray, np.ndarray]:
    d = len(enc.numeric) + len(enc.categorical)
    idx = np.array([max(n - start, 0) for n in numbers])
    engine = _sobol(d, np.random.default_rng([seed, start, 11]))
    if idx.min() > 0:
        engine.fast_forward(int(idx.min()))
    with warnings.catch_warnings():  # a Sobol prefix of any length is still well spread
        warnings.simplefilter("ignore", UserWarning)
        pts = engine.random(int(idx.max() - idx.min() + 1))[idx - idx.min()]
    nu = len(enc.numeric)
    u = enc.into(box, box.lo + pts[:, :nu] * (box.hi - box.lo))
    c = np.zeros((len(numbers), len(enc.categorical)), dtype=int)
    for j, allowed in enumerate(box.allowed):
        c[:, j] = allowed[np.minimum((pts[:, nu + j] * len(allowed)).astype(int), len(allowed) - 1)]
    return u, c


WARPS = ("none", "tukey", "tight")


def fence(y: np.ndarray, kind: str) -> float:
    """The value above which the warp ``kind`` clips ``y``: ``tukey``, Tukey's upper fence
    q3 + 1.5·(q3 − q1); ``tight``, the median + 2·(median − q10); ``none``, +inf."""
    if kind == "tukey":
        q1, q3 = np.quantile(y, [0.25, 0.75])
        return float(q3 + 1.5 * (q3 - q1))
    if kind == "tight":
        q10, q50 = np.quantile(y, [0.1, 0.5])
        return float(q50 + 2.0 * (q50 - q10))
    return math.inf


@dataclass(frozen=True)
class Standardised:
    """Values clipped at a warp's fence, then standardised: ``z = (min(y, fence) − mean) / sd``.
    Below the fence the map is linear, so ``mean + sd·z`` gives a value back."""

    z: np.ndarray
    mean: float
    sd: float


def standardise(y: np.ndarray, kind: str) -> Standardised:
    w = np.minimum(y, fence(y, kind))
    sd = float(w.std())
    sd = sd if sd > 0 else 1.0
    return Standardised((w - w.mean()) / sd, float(w.mean()), sd)


def choose_warp(u: np.ndarray, c: np.ndarray, y: np.ndarray) -> tuple[str, Hyperparameters]:
    """The clipping warp (``tukey`` or ``tight``) and its GP hyperparameters whose model best
    predicts the good trials: the leave-one-out log density, in the values' own units, of the
    trials that neither warp clips. Outliers (diverged runs, cliffs) then shape the model only
    as much as they help it predict where the good values are."""
    return memoised("warp", (u, c, y), lambda: _choose_warp(u, c, y))


def _choose_warp(u: np.ndarray, c: np.ndarray, y: np.ndarray) -> tuple[str, Hyperparameters]:
    common = y <= min(fence(y, k) for k in ("tukey", "tight"))
    comps = components(u, c, u, c)
    best: tuple[float, str, Hyperparameters] | None = None
    for kind in ("tukey", "tight"):
        s = standardise(y, kind)
        hp = cached_hyperparameters(u, c, s.z)
        score = float(loo_log_densities(theta_of(hp), comps, s.z)[common].sum())
        score -= common.sum() * math.log(s.sd)  # densities of z → densities of y
        if best is None or score > best[0]:
            best = (score, kind, hp)
    assert best is not None
    return best[1], best[2]


class GPRegionSampler(BaseRegionSampler):
    """Expected improvement of a Gaussian process, maximised inside the region.

    Until ``n_startup`` trials have finished, points come from a Sobol sequence. The GP's
    hyperparameters are fitted on at most ``fit_points`` finished trials and its posterior uses at
    most ``max_points`` (in both cases the best half and the most recent rest), which bounds the
    cost with thousands of trials. The values are clipped at a fence before the fit (``auto``:
    the fence, Tukey's or a tight one, whose model best predicts the good trials; see
    ``choose_warp``), so diverged runs do not flatten the model where the good values are, and
    the length scales come from a smooth or a rough prior, whichever predicts better (see
    ``fit_hyperparameters``). Trials of the same batch and running trials get fantasised values
    (the posterior mean: "kriging believer", which also becomes the incumbent when better), so a
    batch spreads out instead of piling on one point. The candidates are a Sobol set over the
    region plus points around the region's best trials; they are ranked in single precision, and
    for each suggestion the best ``screen_keep`` of them are scored exactly and refined locally
    around the leaders.

    Fantasies are capped: at most ``max_fantasies`` running trials (the most recent) are
    fantasised, and at most ``max_fantasies`` suggestions of one batch come from the model; the
    rest of a larger batch are Sobol points of the region. A call's cost thus stays bounded
    whatever the study's ``parallelism``.
    """

    name = "gp"

    def __init__(
        self,
        n_startup: int = 8,
        fit_points: int = 100,
        max_points: int = 128,
        n_candidates: int = 1024,
        value_warp: str = "auto",
        max_fantasies: int = 16,
        screen_keep: int = 64,
    ) -> None:
        self.n_startup = n_startup
        self.fit_points = fit_points
        self.max_points = max_points
        self.n_candidates = n_candidates
        if value_warp not in (*WARPS, "auto"):
            raise ValueError(f"unknown value warp {value_warp!r}")
        self.value_warp = value_warp
        self.max_fantasies = max_fantasies
        self.screen_keep = screen_keep

    def ranking(self, history: History) -> tuple[np.ndarray, Model | None]:
        """The model's posterior mean, in the values' units, at the points it was fitted on
        (the best half and the most recent rest): a lucky draw of a noisy objective neither
        defines a region nor looks like the best trial. The other points (more than
        ``max_points``: none of them among the best values) rank after those, in the order of
        their values. The values alone until ``n_startup`` points."""
        if len(history.y) < max(self.n_startup, 2):
            return history.y, None
        model = self.fit(history)
        out = history.y.copy()
        out[model.rows] = model.mean + model.sd * model.means()
        rest = np.ones(len(out), dtype=bool)
        rest[model.rows] = False
        if rest.any():  # shifted above every modelled mean, their order kept
            out[rest] += max(0.0, float(out[model.rows].max() - out[rest].min()))
        return out, model

    def fit(self, history: History) -> Model:
        """The GP of ``history`` (at least two points), as ``sample`` uses it."""
        # Hyperparameters come from the first m finished trials (by number), m = n until
        # 2·fit_points, then the last multiple of a power-of-two step of n/16 to n/8 trials
        # (``refit_size``): with many trials they are refitted rarely (and memoised), and
        # depend only on the observations, never on the call history.
        m = refit_size(len(history.y), self.fit_points)
        fit = _subset_index(history.y[:m], self.fit_points)
        fu, fc, fy = history.u[:m][fit], history.c[:m][fit], history.y[:m][fit]
        if self.value_warp == "auto":
            kind, hp = choose_warp(fu, fc, fy)
        else:
            kind = self.value_warp
            hp = cached_hyperparameters(fu, fc, standardise(fy, kind).z)
        idx = _subset_index(history.y, self.max_points)
        s = standardise(history.y[idx], kind)
        gp = GaussianProcess.build(
            history.u[idx], history.c[idx], s.z, hp.lengthscales, hp.signal, hp.noise
        )
        return Model(gp, idx, s.mean, s.sd, kind)

    def sample(
        self,
        enc: SpaceEncoding,
        box: RegionBox,
        numbers: list[int],
        history: History,
        seed: int,
        start: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        if len(history.y) < self.n_startup:
            return sobol_points(enc, box, numbers, seed, 0)
        model = history.model or self.fit(history)
        gp, u, c, y = model.gp, model.gp.u, model.gp.c, model.gp.y
        # The incumbent is the best posterior mean among the evaluated points, not the luckiest
        # draw: with a noisy objective, improving on a lucky value is no improvement.
        best = float(model.means().min())
        post = FantasyPosterior(gp)
        running = min(len(history.pu), self.max_fantasies)
        if running:
            # Kriging believer: a running trial's fantasised value is its posterior mean, which
            # also becomes the incumbent when it is better (no improvement is left there).
            pu, pc = history.pu[-running:], history.pc[-running:]
            post.add(pu, pc)
            best = min(best, float(post.prepare(pu, pc).mean.min()))
        rng = np.random.default_rng([seed, numbers[0], len(history.y), 5])
        inside = enc.inside(box, u, c)
        order = np.argsort(y[inside], kind="stable")
        centres_u, centres_c = u[inside][order[:5]], c[inside][order[:5]]
        # One candidate set for the whole batch: space-filling points plus points near the best.
        d = len(enc.numeric) + len(enc.categorical)
        pts = _sobol(d, rng).random(self.n_candidates)
        cand_u, cand_c = enc.uniform(box, pts[:, : len(enc.numeric)], rng)
        width = box.hi - box.lo
        parts_u, parts_c = [cand_u], [cand_c]
        for scale in (0.05, 0.2):
            if len(centres_u):
                lu, lc = _perturb(enc, box, centres_u, centres_c, scale * width, 64, rng)
                parts_u.append(lu)
                parts_c.append(lc)
        # The candidates are ranked in single precision; the best ``screen_keep`` of them are
        # then scored exactly, for each suggestion (after the batch's earlier fantasies).
        cands = post.prepare(np.vstack(parts_u), np.vstack(parts_c), single=True)
        out_u, out_c = [], []
        for _ in numbers[: self.max_fantasies]:
            rough = log_expected_improvement(cands.mean, post.std(cands), best)
            keep = np.sort(np.argsort(-rough, kind="stable")[: self.screen_keep])
            points = post.prepare(cands.u[keep], cands.c[keep])
            score = log_expected_improvement(points.mean, post.std(points), best)
            for scale in (0.05, 0.01):  # local refinement around the leaders
                top = np.argsort(-score, kind="stable")[:8]
                lu, lc = _perturb(enc, box, points.u[top], points.c[top], scale * width, 16, rng)
                points = post.prepare(
                    np.vstack([points.u[top], lu]), np.vstack([points.c[top], lc])
                )
                score = log_expected_improvement(points.mean, post.std(points), best)
            i = int(np.argmax(score))
            out_u.append(points.u[i])
            out_c.append(points.c[i])
            post.add(points.u[i : i + 1], points.c[i : i + 1])
            best = min(best, float(points.mean[i]))
        rest = numbers[len(out_u) :]
        if rest:
            su, sc = sobol_points(enc, box, rest, seed, start)
            out_u.extend(su)
            out_c.extend(sc)
        return np.vstack(out_u), np.vstack(out_c)


def _perturb(
    enc: SpaceEncoding,
    box: RegionBox,
    u: np.ndarray,
    c: np.ndarray,
    sd: np.ndarray,
    per_centre: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    pu = np.repeat(u, per_centre, axis=0)
    pu = pu + rng.normal(size=pu.shape) * sd
    pu = enc.into(box, pu)
    pc = np.repeat(c, per_centre, axis=0)
    for j, allowed in enumerate(box.allowed):
        flip = rng.random(len(pc)) < 0.2
        pc[flip, j] = allowed[rng.integers(len(allowed), size=int(flip.sum()))]
    return pu, pc


def refit_size(n: int, fit_points: int) -> int:
    """How many of ``n`` finished trials (the first, by number) the hyperparameters are fitted
    on: all of them up to ``2 * fit_points``, then the last multiple of ``step`` (the power of
    two in [n/16, n/8)), and never fewer than ``2 * fit_points``. Each grid of steps holds the
    next, larger one, so the answer never decreases as n grows, and changes (a refit) at most
    once per ``step`` trials."""
    if n <= 2 * fit_points:
        return n
    step = 1 << ((n - 1) // 16).bit_length()
    return max(n - n % step, 2 * fit_points)


def _subset_index(y: np.ndarray, cap: int) -> np.ndarray:
    """At most ``cap`` rows: the best half, then the most recent rest, in their order."""
    n = len(y)
    if n <= cap:
        return np.arange(n)
    best = np.argpartition(y, cap // 2 - 1)[: cap // 2]  # O(n), unlike a sort
    # The most recent rest lie among the last ``cap`` rows (at most cap/2 of them are best).
    tail = np.arange(n - cap, n)
    rest = tail[~np.isin(tail, best)][-(cap - cap // 2) :]
    return np.sort(np.concatenate([best, rest]))


@dataclass(frozen=True)
class Model:
    """A fitted GP over the rows ``rows`` of a history; the GP works on the values clipped by
    the warp ``warp`` and standardised (``mean``, ``sd``)."""

    gp: GaussianProcess
    rows: np.ndarray
    mean: float
    sd: float
    warp: str = "none"

    def means(self) -> np.ndarray:
        """The posterior mean at the evaluated points, in the GP's standardised scale."""
        return self.gp.mean_at_data()

    def recommended(self) -> tuple[int, float]:
        """(row, mean): the evaluated point whose posterior mean is best, and that mean in the
        values' own scale (the best lies below the warp's fence, where it is linear)."""
        means = self.means()
        i = int(np.argmin(means))
        return int(self.rows[i]), float(self.mean + means[i] * self.sd)
