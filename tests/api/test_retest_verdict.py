"""The verdict's statistics, on their own: Welch's t on the repeats, Bonferroni over the
challengers, the previous judged round as the only baseline, sentences as reasons, and the
stated error rates (false stale ≤ 5% on an unchanged objective, detection of a move)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from api.retests.verdict import ALPHA, Judged, judge, pool, reference, summarize, welch
from caviar.retest_schemas import Origin, RoundResult, Verdict


def result(origin: Origin, values: list[float], x: float = 0.0) -> RoundResult:
    mean, se, n = summarize(values)
    return RoundResult(trial_ids=[], params={"x": x}, origin=origin, mean=mean, se=se, n=n)


def test_summarize_is_mean_and_standard_error() -> None:
    assert summarize([]) == (None, None, 0)
    assert summarize([2.0]) == (2.0, 0.0, 1)
    mean, se, n = summarize([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3) and se == pytest.approx(1.0 / math.sqrt(3))


def test_welch_matches_scipy() -> None:
    from scipy import stats

    a, b = [0.30, 0.34, 0.32, 0.35], [0.25, 0.27, 0.31]
    ra, rb = result("champion", a), result("explore", b)
    test = welch(
        (ra.mean or 0) - (rb.mean or 0),
        [((ra.se or 0) ** 2 * ra.n, ra.n), ((rb.se or 0) ** 2 * rb.n, rb.n)],
    )
    ref = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    assert test is not None and test.p == pytest.approx(ref.pvalue, rel=1e-9)


def test_fresh_when_a_challenger_is_better_only_within_noise() -> None:
    champ = result("champion", [0.30, 0.34, 0.32])
    rival = result("explore", [0.29, 0.33, 0.31], x=1)
    j = judge([champ, rival], None, "minimize")
    assert (j.verdict, j.winner) == ("fresh", 0)
    assert j.reason.startswith("the champion still wins at 0.32 ± 0.012 (n=3)")
    assert "better, but within the noise" in j.reason


def test_stale_when_a_challenger_beats_it_beyond_noise_and_the_reason_is_a_sentence() -> None:
    champ = result("champion", [0.342, 0.351, 0.338])
    other = result("top_k", [0.347, 0.359, 0.350], x=1)
    rival = result("explore", [0.301, 0.296, 0.305], x=0.11)
    j = judge([champ, other, rival], None, "minimize")
    assert (j.verdict, j.winner) == ("stale", 2)
    assert j.reason.startswith(
        "challenger #2 (explore) [x=0.11] scored 0.3007 ± 0.0026 (n=3), better than the "
        "champion's 0.3437 ± 0.0038 (n=3) by more than the noise"
    ), j.reason
    assert "new champion: champion" not in j.reason


def test_bonferroni_over_challengers() -> None:
    """A challenger that one test alone would call better is not enough among many."""
    champ = result("champion", [1.0, 1.1, 0.9])
    rival = result("explore", [0.80, 0.85, 0.75], x=1)
    gap = (champ.mean or 0) - (rival.mean or 0)
    p = welch(gap, [((champ.se or 0) ** 2 * 3, 3), ((rival.se or 0) ** 2 * 3, 3)])
    assert p is not None and ALPHA / 8 < p.p <= ALPHA
    assert judge([champ, rival], None, "minimize").verdict == "stale"
    crowd = [champ, rival, *(result("explore", [1.2, 1.3, 1.25], x=i) for i in range(2, 9))]
    assert judge(crowd, None, "minimize").verdict == "fresh"


def test_a_first_round_never_calls_the_champion_degraded() -> None:
    """Whatever the search trial that made it champion scored, it is no baseline."""
    champ = result("champion", [0.50, 0.51, 0.52])
    j = judge([champ, result("top_k", [0.55, 0.56, 0.54], x=1)], None, "minimize")
    assert j.verdict == "fresh", j.reason


def test_stale_when_the_champion_degraded_since_the_previous_round() -> None:
    before = [result("champion", [0.30, 0.31, 0.29]), result("top_k", [0.33, 0.32, 0.34], x=1)]
    ref = reference([Judged(4, before, "fresh", 0)])
    assert ref is not None and ref.label == "round 4"
    now = [result("champion", [0.40, 0.41, 0.39]), result("top_k", [0.44, 0.43, 0.45], x=1)]
    j = judge(now, ref, "minimize")
    assert (j.verdict, j.winner) == ("stale", 0)
    assert j.reason.startswith(
        "the champion and 1 other re-tested configuration scored worse than in round 4 by 0.105"
    ), j.reason
    assert "the champion 0.4 ± 0.0058 (n=3) against 0.3 ± 0.0058 (n=3) in round 4" in j.reason
    same = [result("champion", [0.31, 0.29, 0.30]), result("top_k", [0.34, 0.32, 0.33], x=1)]
    j = judge(same, ref, "minimize")
    assert j.verdict == "fresh" and "score as they did in round 4" in j.reason


def test_earlier_rounds_are_pooled_back_to_the_latest_stale_verdict() -> None:
    def rnd(number: int, verdict: Verdict, champ: list[float], winner: int = 0) -> Judged:
        rival = result("explore", [9.0, 9.0], x=2)
        return Judged(number, [result("champion", champ), rival], verdict, winner)

    history = [
        rnd(6, "fresh", [1.0, 1.2]),
        rnd(5, "fresh", [1.4, 1.6]),
        rnd(4, "stale", [1.8, 2.0], winner=1),  # the data moved here: nothing older counts
        rnd(3, "fresh", [5.0, 5.0]),
    ]
    ref = reference(history)
    assert ref is not None and ref.label == "rounds 4–6"
    [champ] = ref.results  # explore challengers are not re-run
    assert champ.n == 6 and champ.mean == pytest.approx(1.5)
    whole = result("champion", [1.0, 1.2, 1.4, 1.6, 1.8, 2.0])
    assert champ.se == pytest.approx(whole.se) and pool([champ]) == champ
    assert reference([rnd(2, "stale", [1.0, 1.0], winner=0)]) is None  # a stale round's winner


def test_the_winner_of_a_stale_round_is_no_baseline() -> None:
    """Its mean there was picked for being low: comparing with it is the winner's curse again."""
    rounds = [
        result("champion", [0.5, 0.5, 0.5]),
        result("top_k", [0.4, 0.4, 0.4], x=1),
        result("explore", [0.1, 0.1, 0.1], x=2),
    ]

    def xs(verdict: Verdict, winner: int) -> list[float]:
        ref = reference([Judged(1, rounds, verdict, winner)])
        return [r.params["x"] for r in ref.results] if ref else []

    assert xs("stale", 2) == [0.0, 1.0]
    assert xs("fresh", 0) == [0.0, 1.0]
    assert xs("stale", 1) == [0.0]


def test_too_few_repeats_to_tell_is_fresh_and_says_so() -> None:
    j = judge([result("champion", [0.5]), result("explore", [0.1], x=1)], None, "minimize")
    assert j.verdict == "fresh" and j.reason.startswith("too few repeats to tell"), j.reason


def test_a_deterministic_objective_counts_any_difference() -> None:
    champ = result("champion", [0.5, 0.5])
    assert judge([champ, result("explore", [0.49, 0.49], x=1)], None, "minimize").winner == 1
    assert judge([champ, result("explore", [0.5, 0.5], x=1)], None, "minimize").verdict == "fresh"


def test_maximize_flips_the_comparisons() -> None:
    champ = result("champion", [0.80, 0.81, 0.82])
    rival = result("explore", [0.95, 0.96, 0.94], x=1)
    assert judge([champ, rival], None, "maximize").winner == 1
    assert judge([champ, rival], None, "minimize").verdict == "fresh"
    before = reference([Judged(1, [result("champion", [0.90, 0.91, 0.92])], "fresh", 0)])
    assert judge([champ], before, "maximize").verdict == "stale"
    assert judge([champ], before, "minimize").verdict == "fresh"


def test_no_result_no_verdict_and_a_failed_champion_is_stale() -> None:
    assert judge([result("champion", [])], None, "minimize").verdict is None
    j = judge([result("champion", []), result("top_k", [1.0], x=1)], None, "minimize")
    assert (j.verdict, j.winner) == ("stale", 1) and "failed in every repeat" in j.reason


def _simulate(rng: np.random.Generator, move: float, rounds: int) -> float:
    """Share of stale verdicts: champion and 2 top_k (true means 0, 0.1σ, 0.2σ), 2 challengers
    (true 0.5σ, 1σ), 3 repeats of σ = 1; round 2 compares with round 1, after ``move``."""
    stale = 0
    true = [0.0, 0.1, 0.2, 0.5, 1.0]
    origins: list[Origin] = ["champion", "top_k", "top_k", "explore", "explore"]

    def one(shift: float) -> list[RoundResult]:
        return [
            result(o, list(rng.normal(m + (shift if o != "explore" else 0.0), 1.0, 3)), x=i)
            for i, (o, m) in enumerate(zip(origins, true, strict=True))
        ]

    for _ in range(rounds):
        first = one(0.0)
        j1 = judge(first, None, "minimize")
        j2 = judge(one(move), reference([Judged(1, first, j1.verdict, j1.winner)]), "minimize")
        stale += j2.verdict == "stale"
    return stale / rounds


def test_false_stale_rate_is_at_most_alpha_on_an_unchanged_objective() -> None:
    assert _simulate(np.random.default_rng(1), 0.0, 1500) <= ALPHA + 0.01


def test_a_move_of_twice_the_noise_is_caught_nine_times_in_ten() -> None:
    assert _simulate(np.random.default_rng(2), 2.0, 600) >= 0.9
