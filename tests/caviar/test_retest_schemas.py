"""Durations and the retest schedule's bounds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from caviar.retest_schemas import RetestConfig, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("10m", 600), ("6h", 21_600), ("7d", 604_800), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert RetestConfig(every=text).every_seconds == seconds


@pytest.mark.parametrize("text", ["", "7", "-5s", "0s", "0.5s", "367d", "7 days", "1e3s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
    with pytest.raises(ValidationError) as err:
        RetestConfig(every=text)
    assert err.value.errors()[0]["loc"] == ("every",)


def test_bounds() -> None:
    for bad in ({"top_k": 0}, {"repeats": 11}, {"explore": -1}, {"when": "soon"}):
        with pytest.raises(ValidationError):
            RetestConfig.model_validate(bad)
    assert RetestConfig().every_seconds is None
