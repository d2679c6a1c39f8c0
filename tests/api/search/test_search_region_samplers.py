"""The model-based region sampler: fantasies are capped, whatever the parallelism."""

from __future__ import annotations

import numpy as np

from api.search.base import whole_space
from api.search.encoding import SpaceEncoding
from api.search.region_samplers import GPRegionSampler, History, choose_warp, fence, sobol_points
from caviar.space import FloatParam

SPACE = {n: FloatParam(type="float", low=0.0, high=1.0) for n in ("a", "b", "c")}
ENC = SpaceEncoding.of(SPACE)


def history(n: int, running: int) -> History:
    rng = np.random.default_rng(0)
    u = rng.random((n, 3))
    y = ((u - 0.3) ** 2).sum(1)
    return History(
        u, np.zeros((n, 0), int), y, rng.random((running, 3)), np.zeros((running, 0), int)
    )


_NONE = (np.zeros((0, 3)), np.zeros((0, 0), dtype=int))


def test_a_batch_past_the_fantasy_cap_is_filled_with_sobol_points() -> None:
    box = ENC.box(whole_space(SPACE))
    sampler = GPRegionSampler(max_fantasies=4)
    numbers = list(range(30, 40))
    u, _ = sampler.sample(ENC, box, numbers, history(30, 50), seed=1, start=0)
    assert u.shape == (10, 3)
    su, _ = sobol_points(ENC, box, numbers[4:], 1, 0)
    assert np.allclose(u[4:], su)  # past the cap: space-filling points
    assert len({tuple(np.round(r, 9)) for r in u[:4]}) == 4  # the model's picks spread out


def test_many_running_trials_cost_no_more_than_the_cap() -> None:
    box = ENC.box(whole_space(SPACE))
    few = GPRegionSampler(max_fantasies=8).sample(ENC, box, [30], history(30, 8), 1, 0)
    # Only the 8 most recent of 200 running trials are fantasised: the same answer as with them.
    h = history(30, 8)
    many = History(
        h.u,
        h.c,
        h.y,
        np.vstack([np.random.default_rng(5).random((192, 3)), h.pu]),
        np.zeros((200, 0), int),
    )
    again = GPRegionSampler(max_fantasies=8).sample(ENC, box, [30], many, 1, 0)
    assert np.allclose(few[0], again[0])


def _training_like(seed: int, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Validation losses of a made-up training run: a smooth basin in the learning rate, and
    past a cliff the runs diverge to losses 100 to 1,000 times larger."""
    rng = np.random.default_rng(seed)
    u = rng.random((n, 3))
    calm = 0.1 + 2 * (u[:, 0] - 0.6) ** 2 + 0.3 * u[:, 1]
    return u, np.where(u[:, 0] > 0.7, 10.0 + 100 * rng.random(n), calm)


def test_the_warp_clips_diverged_runs_tightly_and_a_smooth_bowl_only_at_tukey_s_fence() -> None:
    none = np.zeros((40, 0), dtype=int)
    for seed in range(5):
        u, loss = _training_like(seed)
        assert choose_warp(u, none, loss)[0] == "tight", seed
        bowl = ((u - 0.3) ** 2).sum(1)
        assert choose_warp(u, none, bowl)[0] == "tukey", seed
        assert np.mean(bowl > fence(bowl, "tukey")) <= 0.05  # at most a corner or two


def test_a_clipped_model_recommends_in_the_values_own_units() -> None:
    """Below the fence the warp is linear: the recommended mean is on the scale of the values."""
    u, loss = _training_like(1)
    model = GPRegionSampler().fit(History(u, np.zeros((40, 0), int), loss, *_NONE))
    row, mean = model.recommended()
    assert model.warp == "tight"
    assert loss[row] < np.quantile(loss, 0.2)
    assert abs(mean - loss[row]) < 0.1
