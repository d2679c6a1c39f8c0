"""Built-in test functions (the ``function`` objective)."""

from __future__ import annotations

import math
from typing import Any

from caviar.functions import FUNCTIONS


def run_function(objective: dict[str, Any], params: dict[str, Any]) -> float:
    value = FUNCTIONS[objective["name"]](params)
    if not math.isfinite(value):
        raise ValueError(f"{objective['name']} is not finite at {params}")
    return value
