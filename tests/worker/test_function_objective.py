"""The function objective refuses a value the api would refuse: not finite or past ±1e300."""

from __future__ import annotations

import pytest

from caviar.bounds import MAX_ABS_FLOAT
from worker.objectives.function import run_function


def test_a_value_within_the_bounds_is_returned() -> None:
    assert run_function({"name": "quadratic"}, {"w": 5.0}) == 0.0


@pytest.mark.parametrize("x", [1e152, 1e200])
def test_a_value_past_the_bounds_fails_the_trial(x: float) -> None:
    with pytest.raises(ValueError, match="not finite, or beyond"):
        run_function({"name": "sphere"}, {"x": x})
    assert x * x > MAX_ABS_FLOAT
