"""The verdict of a re-test round: pure arithmetic on the repeats' values.

Values are compared oriented so that lower is better. Noise between two configurations is two
standard errors of their difference, ``2·sqrt(se_a² + se_b²)``; a difference counts only when it
is larger than that. With one repeat there is no noise estimate: any difference counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from caviar.retest_schemas import RoundResult, Verdict

# Differences below this (relative) are float round-off, never a change.
_ROUNDOFF = 1e-9


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict | None
    winner: int | None  # index into the round's results: the new champion
    reason: str


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


def _noise(a: RoundResult, b: RoundResult) -> float:
    return 2.0 * math.hypot(a.se or 0.0, b.se or 0.0)


def _tolerance(*values: float) -> float:
    return _ROUNDOFF * max(1.0, *(abs(v) for v in values))


def _name(r: RoundResult, index: int) -> str:
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(r.params.items()))
    return f"{'champion' if index == 0 else f'challenger #{index} ({r.origin})'} [{shown}]"


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _score(r: RoundResult) -> str:
    return f"{r.mean:.4g} ± {r.se or 0.0:.2g} (n={r.n})"


def judge(results: list[RoundResult], baseline: float | None, direction: str) -> Judgement:
    """``results[0]`` is the champion. Stale when a challenger beats it by more than noise, or
    when its own mean is worse than ``baseline`` by more than two of its standard errors."""
    sign = -1.0 if direction == "maximize" else 1.0
    done = [i for i, r in enumerate(results) if r.n > 0]
    if not done:
        return Judgement(None, None, "no re-test trial completed: no verdict")

    def oriented(i: int) -> float:
        return sign * (results[i].mean or 0.0)

    best = min(done, key=oriented)
    champ = results[0]
    if champ.n == 0:
        return Judgement(
            "stale",
            best,
            f"the champion failed in every repeat; new champion: {_name(results[best], best)} "
            f"at {_score(results[best])}",
        )
    rivals = [i for i in done if i != 0]
    if rivals:
        top = min(rivals, key=oriented)
        rival = results[top]
        gap = oriented(0) - oriented(top)
        noise = _noise(champ, rival)
        if gap > noise + _tolerance(champ.mean or 0.0, rival.mean or 0.0):
            return Judgement(
                "stale",
                top,
                f"{_name(rival, top)} scored {_score(rival)}, beating the champion's "
                f"{_score(champ)} by {gap:.3g} > noise {noise:.3g}",
            )
    if baseline is not None:
        drop = oriented(0) - sign * baseline
        noise = 2.0 * (champ.se or 0.0)
        if drop > noise + _tolerance(champ.mean or 0.0, baseline):
            return Judgement(
                "stale",
                best,
                f"the champion degraded: {_score(champ)} against {baseline:.4g} recorded, worse "
                f"by {drop:.3g} > noise {noise:.3g}; new champion: {_name(results[best], best)}",
            )
    margin = ""
    if rivals:
        top = min(rivals, key=oriented)
        margin = f"; no challenger beats it beyond noise (best: {_score(results[top])})"
    return Judgement("fresh", 0, f"the champion still wins at {_score(champ)}{margin}")
