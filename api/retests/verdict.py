"""The verdict of a re-test round: a statistical test on the repeats, with a stated error rate.

Values are compared oriented so that lower is better. Every configuration of a round ran
``repeats`` times with fresh seeds on the same data and budget; the verdict only ever compares
such fresh runs, never the single search trial that made a configuration the champion (that
draw was the best of many noisy ones, so it is biased: the winner's curse).

Two questions, each a one-sided Welch t-test (unequal variances, Welch–Satterthwaite degrees
of freedom), together at a family-wise false-alarm rate of ``ALPHA`` = 5%:

1. **Does a challenger beat the champion within this round?** Each other configuration of the
   round (the rest of the top_k and the explore challengers) against the champion; with ``m`` of
   them, each is tested at ``α/m`` (Bonferroni, which for "does any of them win" is what Holm's
   method decides too).
2. **Did the re-tested configurations get worse since the earlier judged rounds?** The
   configurations this round shares with the judged rounds before it (the champion and the
   rest of the top_k, re-run in each) are compared with their own means there, pooled over up
   to ``HISTORY`` rounds back but never past the latest ``stale`` verdict (the data may have
   moved then): the test is on the average of their differences, so a drift of the data that
   lifts them all is seen with the strength of all their repeats. A configuration that a
   ``stale`` verdict picked as its winner is left out of that round: its mean there was
   selected for being low.

A study's first round has no judged round before it: only question 1 is asked, at the whole α.
Otherwise each question gets α/2. Under an unchanged objective (and normal noise) at most α of
rounds therefore say ``stale``; ``bench/bench_retest.py`` measures the rate on simulated and on
trainer objectives, and how often a move of the objective is caught.

A configuration that ran once has no noise estimate of its own; it is compared using the other
side's variance. With one run on both sides there is nothing to tell noise from a change, and
the verdict is ``fresh`` saying so ("too few repeats to tell"). Runs that agree exactly (a
deterministic objective) have no noise: any difference beyond float round-off counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.special import stdtr

from caviar.retest_schemas import RoundResult, Verdict

ALPHA = 0.05  # the false-stale rate the verdict is built for (family-wise, per round)
HISTORY = 4  # judged rounds back that a round compares with (none before a stale verdict)

# Differences below this (relative) are float round-off, never a change.
_ROUNDOFF = 1e-9


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict | None
    winner: int | None  # index into the round's results: the champion after this round
    reason: str


@dataclass(frozen=True)
class Comparison:
    """One one-sided test: ``gap`` > 0 means worse for the champion (oriented)."""

    gap: float
    se: float
    df: float
    p: float


def summarize(values: list[float]) -> tuple[float | None, float | None, int]:
    """(mean, standard error of the mean, n); the standard error is 0 for one value."""
    n = len(values)
    if n == 0:
        return None, None, 0
    mean = math.fsum(values) / n
    if n == 1:
        return mean, 0.0, 1
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n), n


def _var(r: RoundResult) -> float:
    """The sample variance of a configuration's repeats (0 with a single run)."""
    return (r.se or 0.0) ** 2 * r.n


def _tolerance(*values: float) -> float:
    return _ROUNDOFF * max(1.0, *(abs(v) for v in values))


def welch(
    gap: float, parts: Sequence[tuple[float, int]], scale: float = 1.0, tol: float = 0.0
) -> Comparison | None:
    """One-sided test of ``gap`` > 0. ``parts``: (sample variance, n) of each mean that enters
    ``gap`` with weight ``scale``. A part with n = 1 borrows the largest variance of the others
    (and adds no degrees of freedom). Without any spread (runs that agree exactly) a ``gap``
    beyond ``tol`` counts. None when no part has n ≥ 2 (too few repeats to tell)."""
    known = [v for v, n in parts if n >= 2]
    if not known:
        return None
    borrowed = max(known)
    terms = [(scale**2) * (v if n >= 2 else borrowed) / n for v, n in parts]
    se = math.sqrt(math.fsum(terms))
    denom = math.fsum(t**2 / (n - 1) for t, (_, n) in zip(terms, parts, strict=True) if n >= 2)
    df = (math.fsum(terms) ** 2 / denom) if denom > 0 else math.inf
    if se == 0.0:
        return Comparison(gap, 0.0, math.inf, 0.0 if gap > tol else 1.0)
    p = float(stdtr(max(df, 1.0), -gap / se))  # Student t survival: P(T > gap / se)
    return Comparison(gap, se, df, p)


@dataclass(frozen=True)
class Judged:
    """A judged round as a later round sees it."""

    number: int
    results: Sequence[RoundResult]
    verdict: Verdict | None
    winner: int | None  # index into ``results`` of the champion after that round


@dataclass(frozen=True)
class Reference:
    """The earlier means a round's configurations are compared with, and where they come from
    ("round 4", "rounds 2–4")."""

    results: list[RoundResult]
    label: str


def pool(parts: Sequence[RoundResult]) -> RoundResult:
    """One configuration's results of several rounds as one sample: mean, standard error, n."""
    n = sum(r.n for r in parts)
    mean = math.fsum(r.n * (r.mean or 0.0) for r in parts) / n
    ss = math.fsum((r.n - 1) * _var(r) + r.n * ((r.mean or 0.0) - mean) ** 2 for r in parts)
    se = math.sqrt(ss / (n - 1) / n) if n > 1 else 0.0
    first = parts[0]
    return RoundResult(
        trial_ids=[], params=first.params, origin=first.origin, mean=mean, se=se, n=n
    )


def reference(history: Sequence[Judged]) -> Reference | None:
    """What a new round may compare with, from the judged rounds before it (newest first): the
    champion's and the top_k's results of up to ``HISTORY`` rounds back, but none before the
    latest ``stale`` verdict (the data may have moved then), pooled per configuration. Explore
    challengers are not re-run; the winner of a ``stale`` verdict is left out (its mean there
    was picked for being low). None when nothing is left (a study's first round)."""
    pooled: dict[tuple[tuple[str, str], ...], list[RoundResult]] = {}
    used: list[int] = []
    for judged in list(history)[:HISTORY]:
        if judged.verdict is None:
            continue
        kept = [
            r
            for i, r in enumerate(judged.results)
            if r.origin != "explore"
            and r.n > 0
            and r.mean is not None
            and not (judged.verdict == "stale" and i == judged.winner)
        ]
        if kept:
            used.append(judged.number)
        for r in kept:
            pooled.setdefault(_key(r.params), []).append(r)
        if judged.verdict == "stale":
            break
    if not pooled:
        return None
    used.sort()
    if len(used) == 1:
        label = f"round {used[0]}"
    elif used == list(range(used[0], used[-1] + 1)):
        label = f"rounds {used[0]}–{used[-1]}"
    else:
        label = "rounds " + ", ".join(map(str, used))
    return Reference([pool(parts) for parts in pooled.values()], label)


def _name(r: RoundResult, index: int) -> str:
    if index == 0:
        return "the champion"
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(r.params.items()))
    return f"challenger #{index} ({r.origin}) [{shown}]"


def _fmt(v: object) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _score(r: RoundResult) -> str:
    return f"{r.mean:.4g} ± {r.se or 0.0:.2g} (n={r.n})"


def _key(params: dict[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _shift(
    results: Sequence[RoundResult], previous: Sequence[RoundResult], sign: float
) -> tuple[Comparison | None, list[tuple[int, RoundResult]]]:
    """The test of question 2 and the pairs it used (index in ``results``, previous result)."""
    before = {_key(r.params): r for r in previous if r.n > 0 and r.mean is not None}
    pairs = [
        (i, before[_key(r.params)])
        for i, r in enumerate(results)
        if r.origin != "explore" and r.n > 0 and _key(r.params) in before
    ]
    if not pairs:
        return None, []
    k = len(pairs)
    gap = math.fsum(sign * ((results[i].mean or 0.0) - (p.mean or 0.0)) for i, p in pairs) / k
    parts = [(_var(results[i]), results[i].n) for i, _ in pairs] + [
        (_var(p), p.n) for _, p in pairs
    ]
    tol = max(_tolerance(results[i].mean or 0.0, p.mean or 0.0) for i, p in pairs)
    return welch(gap, parts, scale=1.0 / k, tol=tol), pairs


def judge(results: list[RoundResult], previous: Reference | None, direction: str) -> Judgement:
    """``results[0]`` is the champion. ``previous``: what the earlier judged rounds left to
    compare with (see ``reference``), None in a study's first round. See the module docstring."""
    sign = -1.0 if direction == "maximize" else 1.0
    done = [i for i, r in enumerate(results) if r.n > 0 and r.mean is not None]
    if not done:
        return Judgement(None, None, "no trial of the round completed, so there is no verdict")

    def oriented(i: int) -> float:
        return sign * (results[i].mean or 0.0)

    best = min(done, key=oriented)
    champ = results[0]
    if 0 not in done:
        return Judgement(
            "stale",
            best,
            f"the champion failed in every repeat; {_name(results[best], best)} scored "
            f"{_score(results[best])} and takes its place",
        )
    shift, pairs = _shift(results, previous.results, sign) if previous else (None, [])
    alpha_rivals = ALPHA / 2 if shift is not None else ALPHA
    rivals = [i for i in done if i != 0]
    tests: dict[int, Comparison] = {}
    for i in rivals:
        gap = oriented(0) - oriented(i)
        test = welch(
            gap,
            [(_var(champ), champ.n), (_var(results[i]), results[i].n)],
            tol=_tolerance(champ.mean or 0.0, results[i].mean or 0.0),
        )
        if test is not None:
            tests[i] = test
    beaten = [i for i, t in tests.items() if t.p <= alpha_rivals / len(rivals)]
    if beaten:
        top = min(beaten, key=oriented)
        return Judgement(
            "stale",
            top,
            f"{_name(results[top], top)} scored {_score(results[top])}, better than the "
            f"champion's {_score(champ)} by more than the noise "
            f"(one-sided Welch t-test, p = {tests[top].p:.2g} against "
            f"{alpha_rivals:.3g}/{len(rivals)})",
        )
    if shift is not None and shift.p <= ALPHA / 2:
        when = previous.label if previous is not None else "earlier rounds"
        champ_then = next((p for i, p in pairs if i == 0), None)
        whom = "the champion" if champ_then is not None else "the re-tested configurations"
        others = len(pairs) - (1 if champ_then is not None else 0)
        if champ_then is not None and others:
            whom += f" and {others} other re-tested configuration{'s' if others > 1 else ''}"
        detail = (
            f": the champion {_score(champ)} against {_score(champ_then)} in {when}"
            if champ_then is not None
            else ""
        )
        follow = (
            f"; {_name(results[best], best)} scored best this round"
            if best != 0
            else "; no challenger did better this round"
        )
        return Judgement(
            "stale",
            best,
            f"{whom} scored worse than in {when} by {shift.gap:.3g} on average, more than the "
            f"noise (one-sided Welch t-test, p = {shift.p:.2g} against {ALPHA / 2:.3g})"
            f"{detail}{follow}",
        )
    if not rivals and shift is None:
        return Judgement(
            "fresh",
            0,
            f"the champion scored {_score(champ)}; with no challenger and nothing from an "
            "earlier round to compare with, nothing says it lost its place",
        )
    if not tests and shift is None:
        return Judgement(
            "fresh",
            0,
            f"too few repeats to tell: the champion scored {_score(champ)} and every "
            "configuration ran once, so noise cannot be told from a change (set repeats to 2 "
            "or more)",
        )
    margin = ""
    if rivals:
        top = min(rivals, key=oriented)
        how = "better, but within the noise" if oriented(top) < oriented(0) else "no better"
        margin = (
            f"; the best challenger, {_name(results[top], top)}, scored {_score(results[top])}, "
            f"{how}"
        )
    steady = ""
    if shift is not None:
        when = previous.label if previous is not None else "earlier rounds"
        steady = f", and the re-tested configurations score as they did in {when}"
    return Judgement("fresh", 0, f"the champion still wins at {_score(champ)}{margin}{steady}")
