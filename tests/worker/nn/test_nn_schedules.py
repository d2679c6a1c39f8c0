"""Learning-rate decay schedules."""

from __future__ import annotations

import math

import pytest

from worker.nn.schedules import DECAY_KINDS, decayed_learning_rate


def test_first_epoch_uses_the_initial_rate() -> None:
    for kind in DECAY_KINDS:
        assert decayed_learning_rate(0.1, kind, 0.5, 0) == 0.1


def test_zero_decay_never_decays() -> None:
    for kind in DECAY_KINDS:
        assert decayed_learning_rate(0.1, kind, 0.0, 30) == 0.1


def test_textbook_forms() -> None:
    assert decayed_learning_rate(0.2, "none", 1.0, 5) == 0.2
    assert decayed_learning_rate(0.2, "inverse_time", 1.0, 3) == pytest.approx(0.05)
    assert decayed_learning_rate(0.2, "exponential", -math.log(0.95), 3) == pytest.approx(
        0.2 * 0.95**3
    )
    # halve every 1/0.25 = 4 epochs
    rates = [decayed_learning_rate(0.2, "step", 0.25, epoch) for epoch in range(9)]
    assert rates == pytest.approx([0.2] * 4 + [0.1] * 4 + [0.05])


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="cosine"):
        decayed_learning_rate(0.1, "cosine", 0.1, 1)
