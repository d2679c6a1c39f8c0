"""What objectives share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caviar.schemas import CommandPublic


@dataclass(frozen=True)
class Run:
    """One attempt of a trial as its worker claimed it. ``resume``: whether a checkpoint may
    exist to continue from; ``commands``: those pending at the claim (None: unknown, poll)."""

    trial_id: int
    attempt: int
    seed: int = 0
    resume: bool = True
    commands: list[CommandPublic] | None = None


class Pruned(Exception):
    """The api told the trial to stop; ``value`` is its last reported value."""

    def __init__(self, value: float | None, reason: dict[str, Any] | None) -> None:
        super().__init__(f"pruned: {reason}")
        self.value, self.reason = value, reason


class Paused(Exception):
    """A person paused the trial: its checkpoint is stored and the api holds it ``paused``."""

    def __init__(self, step: int) -> None:
        super().__init__(f"paused after step {step}")
        self.step = step
