"""The trial states, defined once: every module, the database constraint and the wire schemas
take them from here.

queued → running → completed | pruned | failed | cancelled, and running ⇄ paused (a paused trial
holds a checkpoint and no worker; resuming queues it with the next attempt). A finished trial
never changes again.
"""

from __future__ import annotations

from typing import Literal, get_args

TrialState = Literal["queued", "running", "paused", "completed", "pruned", "failed", "cancelled"]
TRIAL_STATES: tuple[TrialState, ...] = get_args(TrialState)
FINISHED_STATES: tuple[TrialState, ...] = ("completed", "pruned", "failed", "cancelled")
IN_FLIGHT: tuple[TrialState, ...] = ("queued", "running")  # waiting for or holding a worker
UNFINISHED: tuple[TrialState, ...] = ("queued", "running", "paused")  # may still change
TellState = Literal["completed", "pruned", "failed"]


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """``column IN ('a', 'b')``: a CHECK constraint's text for a list of states."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
