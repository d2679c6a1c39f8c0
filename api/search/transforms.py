"""Maps between a hyperparameter's real value and the unit interval [0, 1] on its scale.

Uniform draws in unit space are uniform on the parameter's own scale: log10 for ``log``,
log10(1 − x) for ``reverse_log`` (oriented so that u grows with x). Integers are drawn as cells of
equal width; categoricals as k equal cells, one per choice.
"""

from __future__ import annotations

import math
from typing import Any

from caviar.space import CategoricalParam, FloatParam, IntParam

Param = FloatParam | IntParam | CategoricalParam


def _clip(u: float) -> float:
    return min(max(u, 0.0), 1.0)


def _int_edges(p: IntParam) -> tuple[float, float]:
    """Continuous interval whose cells round to low..high."""
    if p.scale == "log":
        return math.log(p.low - 0.5 if p.low > 0.5 else p.low), math.log(p.high + 0.5)
    return p.low - 0.5, p.high + 0.5


def to_unit(p: Param, value: Any) -> float:
    """Real value → u in [0, 1]. A value past the bounds (a rounded one) counts as the bound."""
    if isinstance(p, CategoricalParam):
        return (p.choices.index(value) + 0.5) / len(p.choices)
    if isinstance(p, IntParam):
        lo, hi = _int_edges(p)
        n = min(max(value, p.low), p.high)
        x = math.log(n) if p.scale == "log" else float(n)
        return _clip((x - lo) / (hi - lo))
    x = min(max(float(value), p.low), p.high)
    if p.scale == "log":
        return _clip((math.log(x) - math.log(p.low)) / (math.log(p.high) - math.log(p.low)))
    if p.scale == "reverse_log":
        top, bottom = math.log(1.0 - p.low), math.log(1.0 - p.high)
        return _clip((top - math.log(1.0 - x)) / (top - bottom))
    return _clip((x - p.low) / (p.high - p.low))


def from_unit(p: Param, u: float) -> Any:
    """u in [0, 1] → real value on the parameter's scale, within its bounds."""
    u = _clip(u)
    if isinstance(p, CategoricalParam):
        return p.choices[min(int(u * len(p.choices)), len(p.choices) - 1)]
    if isinstance(p, IntParam):
        lo, hi = _int_edges(p)
        x = lo + u * (hi - lo)
        x = math.exp(x) if p.scale == "log" else x
        return int(min(max(round(x), p.low), p.high))
    if p.scale == "log":
        x = math.exp(math.log(p.low) + u * (math.log(p.high) - math.log(p.low)))
    elif p.scale == "reverse_log":
        top, bottom = math.log(1.0 - p.low), math.log(1.0 - p.high)
        x = 1.0 - math.exp(top - u * (top - bottom))
    else:
        x = p.low + u * (p.high - p.low)
    return min(max(x, p.low), p.high)
