"""Built-in test functions (the ``function`` objective)."""

from __future__ import annotations

import math
from typing import Any

from caviar.bounds import MAX_ABS_FLOAT
from caviar.functions import FUNCTIONS


def run_function(objective: dict[str, Any], params: dict[str, Any]) -> float:
    value = FUNCTIONS[objective["name"]](params)
    if not math.isfinite(value) or abs(value) > MAX_ABS_FLOAT:  # the api takes values within
        raise ValueError(
            f"{objective['name']} is {value} at {params}: not finite, or beyond ±{MAX_ABS_FLOAT:g}"
        )
    return value
