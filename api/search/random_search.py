"""Random search: every trial draws every hyperparameter afresh, uniformly on its scale."""

from __future__ import annotations

import numpy as np

from api.search.base import BaseStrategy, SearchState, Suggestion
from api.search.transforms import from_unit


class RandomStrategy(BaseStrategy):
    """Trial n's params depend only on (seed, n): reproducible whatever the order of asks."""

    needs_history = False

    def suggest(self, state: SearchState, numbers: list[int]) -> list[Suggestion]:
        region = state.regions[-1] if state.regions else None
        assert region is not None, "a study always has its stage-0 region"
        out = []
        for n in numbers:
            rng = np.random.default_rng([state.seed, n])
            u = rng.random(len(state.space))
            params = {
                name: from_unit(p, float(x))
                for (name, p), x in zip(state.space.items(), u, strict=True)
            }
            out.append(Suggestion(number=n, params=params, region=region))
        return out
