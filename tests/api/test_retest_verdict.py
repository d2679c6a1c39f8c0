"""The verdict's arithmetic: fresh within noise, stale when a challenger beats the champion by
more than noise or the champion degraded; either direction."""

from __future__ import annotations

import math

import pytest

from api.retests.verdict import judge, summarize
from caviar.retest_schemas import Origin, RoundResult


def result(origin: Origin, values: list[float], x: float = 0.0) -> RoundResult:
    mean, se, n = summarize(values)
    return RoundResult(trial_ids=[], params={"x": x}, origin=origin, mean=mean, se=se, n=n)


def test_summarize_is_mean_and_standard_error() -> None:
    assert summarize([]) == (None, None, 0)
    assert summarize([2.0]) == (2.0, 0.0, 1)
    mean, se, n = summarize([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3) and se == pytest.approx(1.0 / math.sqrt(3))


def test_fresh_when_a_challenger_is_better_only_within_noise() -> None:
    champ = result("champion", [0.30, 0.34, 0.32])
    rival = result("explore", [0.29, 0.33, 0.31], x=1)
    j = judge([champ, rival], baseline=0.32, direction="minimize")
    assert (j.verdict, j.winner) == ("fresh", 0) and "beyond noise" in j.reason
    assert j.reason.startswith("the champion still wins")


def test_stale_when_a_challenger_beats_it_beyond_noise() -> None:
    champ = result("champion", [0.342, 0.351, 0.338])
    other = result("top_k", [0.347, 0.359, 0.350], x=1)
    rival = result("explore", [0.301, 0.296, 0.305], x=2)
    j = judge([champ, other, rival], baseline=0.34, direction="minimize")
    assert (j.verdict, j.winner) == ("stale", 2)
    assert "challenger #2 (explore)" in j.reason and "> noise" in j.reason


def test_stale_when_the_champion_degraded() -> None:
    champ = result("champion", [0.50, 0.51, 0.52])
    j = judge([champ], baseline=0.30, direction="minimize")
    assert (j.verdict, j.winner) == ("stale", 0) and "degraded" in j.reason
    assert judge([champ], baseline=0.51, direction="minimize").verdict == "fresh"


def test_maximize_flips_the_comparisons() -> None:
    champ = result("champion", [0.80, 0.81, 0.82])
    rival = result("explore", [0.95, 0.96, 0.94], x=1)
    assert judge([champ, rival], baseline=0.81, direction="maximize").winner == 1
    assert judge([champ, rival], baseline=0.81, direction="minimize").verdict == "fresh"
    assert judge([champ], baseline=0.90, direction="maximize").verdict == "stale"


def test_no_result_no_verdict_and_a_failed_champion_is_stale() -> None:
    assert judge([result("champion", [])], baseline=1.0, direction="minimize").verdict is None
    j = judge([result("champion", []), result("top_k", [1.0], x=1)], None, "minimize")
    assert (j.verdict, j.winner) == ("stale", 1) and "failed in every repeat" in j.reason
