"""Learning-rate decay by epoch.

``epoch`` is the 0-based index of the epoch about to run, so the first epoch always uses alpha0.
``decay`` is a rate ≥ 0 and 0 means no decay for every kind, so one search range serves all
kinds:

- ``none``:          alpha = alpha0
- ``inverse_time``:  alpha = alpha0 / (1 + decay·epoch)
- ``exponential``:   alpha = alpha0 · e^(-decay·epoch)
  (the course's alpha0·0.95^epoch is decay = -ln 0.95 ≈ 0.0513)
- ``step``:          alpha = alpha0 · 0.5^⌊decay·epoch⌋  (halve the rate every 1/decay epochs)
"""

from __future__ import annotations

import math
from typing import Literal

DecayKind = Literal["none", "inverse_time", "exponential", "step"]
DECAY_KINDS: tuple[DecayKind, ...] = ("none", "inverse_time", "exponential", "step")


def decayed_learning_rate(alpha0: float, kind: str, decay: float, epoch: int) -> float:
    """The learning rate for 0-based ``epoch`` under the schedule ``kind`` (see module doc)."""
    if kind == "none":
        return alpha0
    if kind == "inverse_time":
        return alpha0 / (1.0 + decay * epoch)
    if kind == "exponential":
        return alpha0 * math.exp(-decay * epoch)
    if kind == "step":
        return alpha0 * 0.5 ** math.floor(decay * epoch)
    raise ValueError(f"lr_decay_kind must be one of {', '.join(DECAY_KINDS)}, not {kind!r}")
