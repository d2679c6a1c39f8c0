"""Wire schemas of the fleet page: the workers, the broker's queue, recent requeues."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class TrialRef(BaseModel):
    id: int
    study_id: int
    number: int
    attempt: int


class WorkerPublic(BaseModel):
    """One worker process, as trials name it when it claims them (``name@host:pid``); online
    ones are listed first."""

    worker: str
    host: str | None
    current_trial: TrialRef | None
    last_heard: datetime | None
    finished: int = Field(description="Trials finished (completed, pruned, failed) by it")
    online: bool = Field(
        description="Heard of within its window; a worker is heard of only through the "
        "trials it runs, so one idle for longer shows offline until it takes its next trial"
    )
    window: float = Field(
        description="Seconds of silence after which it is offline: the longest heartbeat "
        "grace among the studies it worked for"
    )
    running: int = Field(
        default=0,
        description="Trials it trains now: more than one when it trains them fused as one network",
    )


class TrialEventPublic(BaseModel):
    trial_id: int
    study_id: int
    number: int
    attempt: int
    kind: str
    reason: str
    worker: str | None
    created_at: datetime


class FleetPublic(BaseModel):
    workers: list[WorkerPublic]
    queue: str | None
    queue_depth: int | None = Field(description="Trial messages waiting; null if unknown")
    requeues: list[TrialEventPublic] = Field(
        description="Recent requeues and resends, newest first"
    )
