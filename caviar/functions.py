"""Built-in test functions for the ``function`` objective, keyed by name.

Each takes the trial's params (a name → value mapping) and returns the value to minimise.
``quadratic`` is the smoke test J(w) = w² − 10w + 25, minimum 0 at w = 5.
The others read every numeric param, in name order, as the coordinates x₀, x₁, …
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Literal

FunctionName = Literal["quadratic", "sphere", "rosenbrock", "rastrigin", "branin"]


def _coords(params: Mapping[str, object]) -> list[float]:
    xs = [float(v) for _, v in sorted(params.items()) if isinstance(v, int | float)]
    if not xs:
        raise ValueError("this function needs at least one numeric parameter")
    return xs


def quadratic(params: Mapping[str, object]) -> float:
    if "w" not in params:
        raise ValueError("quadratic needs a parameter named 'w'")
    w = float(params["w"])  # type: ignore[arg-type]
    return w * w - 10.0 * w + 25.0


def sphere(params: Mapping[str, object]) -> float:
    return sum(x * x for x in _coords(params))


def rosenbrock(params: Mapping[str, object]) -> float:
    xs = _coords(params)
    if len(xs) < 2:
        raise ValueError("rosenbrock needs at least two numeric parameters")
    return sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2 for a, b in itertools.pairwise(xs))


def rastrigin(params: Mapping[str, object]) -> float:
    xs = _coords(params)
    return 10.0 * len(xs) + sum(x * x - 10.0 * math.cos(2 * math.pi * x) for x in xs)


def branin(params: Mapping[str, object]) -> float:
    xs = _coords(params)
    if len(xs) != 2:
        raise ValueError("branin needs exactly two numeric parameters")
    x1, x2 = xs
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


FUNCTIONS: dict[str, Callable[[Mapping[str, object]], float]] = {
    "quadratic": quadratic,
    "sphere": sphere,
    "rosenbrock": rosenbrock,
    "rastrigin": rastrigin,
    "branin": branin,
}
