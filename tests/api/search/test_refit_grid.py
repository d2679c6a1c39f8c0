"""The GP's hyperparameters are refitted on a stable grid: rarely, and never backwards."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from api.search import gaussian_process, region_samplers
from api.search.region_samplers import GPRegionSampler, History, refit_size


def test_the_fitted_prefix_never_shrinks_and_moves_at_most_once_per_step() -> None:
    fit_points = 100
    sizes = [refit_size(n, fit_points) for n in range(1, 70_000)]
    assert sizes[: 2 * fit_points] == list(range(1, 2 * fit_points + 1))  # all, up to 2·fit
    assert all(a <= b for a, b in itertools.pairwise(sizes))
    assert all(m <= n for n, m in enumerate(sizes, start=1))
    changes = [n for n in range(2 * fit_points + 1, len(sizes) + 1) if sizes[n - 1] != sizes[n - 2]]
    for before, n in itertools.pairwise(changes):
        assert n - before >= n / 16, (before, n)  # a refit at most once per n/16 trials
    for n in range(2 * fit_points + 1, len(sizes) + 1):
        assert n - sizes[n - 1] < n / 8  # and the fitted prefix is never more than n/8 behind


def test_a_sampler_refits_once_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    fits: list[int] = []
    real = gaussian_process.fit_hyperparameters

    def counted(u: np.ndarray, c: np.ndarray, y: np.ndarray, restarts: int = 2):  # type: ignore[no-untyped-def]
        fits.append(len(y))
        return real(u, c, y, restarts)

    monkeypatch.setattr(gaussian_process, "fit_hyperparameters", counted)
    monkeypatch.setattr(gaussian_process, "_CACHE", type(gaussian_process._CACHE)())
    rng = np.random.default_rng(0)
    u = rng.random((1200, 2))
    y = ((u - 0.3) ** 2).sum(1)
    none = np.zeros((1200, 0), int)
    sampler = GPRegionSampler(fit_points=20, value_warp="tukey")  # one fit per refit
    for n in range(600, 1200, 7):
        sampler.fit(History(u[:n], none[:n], y[:n], np.zeros((0, 2)), np.zeros((0, 0), int)))
    grid = {refit_size(n, 20) for n in range(600, 1200, 7)}
    assert len(fits) == len(grid) < 12
    assert region_samplers.refit_size(1000, 20) == 960
