"""Wire schemas of re-testing: the schedule, rounds, warm starts and the study PATCH body."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from caviar.bounds import Name, NotBool

RoundTrigger = Literal["schedule", "new_data", "manual"]
RoundState = Literal["running", "finished"]
Verdict = Literal["fresh", "stale"]
Origin = Literal["champion", "top_k", "explore"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
MIN_EVERY_SECONDS = 1.0
MAX_EVERY_SECONDS = 366 * 86_400.0


def parse_duration(text: str) -> float:
    """ "45s", "10m", "6h", "7d", "2w" → seconds, within [1 s, 366 d]; ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: write a positive number and a unit (s, m, h, d, w), "
            'e.g. "45s", "6h", "7d"'
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not MIN_EVERY_SECONDS <= seconds <= MAX_EVERY_SECONDS:
        raise ValueError(f"{text!r} is {seconds:g} s; a schedule runs every 1 s to 366 d")
    return seconds


class RetestConfig(BaseModel):
    """A study's re-test schedule. Without ``every`` rounds start only on new data or by hand."""

    model_config = ConfigDict(extra="forbid")

    every: str | None = Field(
        default=None, max_length=32, pattern=_DURATION.pattern, examples=["7d", "6h", "45s"]
    )
    on_new_data: bool = False
    top_k: Annotated[int, NotBool] = Field(default=3, ge=1, le=20)
    repeats: Annotated[int, NotBool] = Field(default=3, ge=1, le=10)
    explore: Annotated[int, NotBool] = Field(default=2, ge=0, le=20)

    @field_validator("every")
    @classmethod
    def _every_is_a_duration(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    @property
    def every_seconds(self) -> float | None:
        return parse_duration(self.every) if self.every is not None else None


class WarmStart(BaseModel):
    """Start a new study from an earlier one's best configurations and observations."""

    model_config = ConfigDict(extra="forbid")

    study_id: Annotated[int, NotBool] = Field(ge=1, le=2**31 - 1)
    top_k: Annotated[int, NotBool] = Field(default=5, ge=1, le=100)


class WarmStartReport(BaseModel):
    """What a warm start kept and dropped from the earlier study."""

    study_id: int
    configurations: int = Field(description="earlier best configurations evaluated first")
    observations: int = Field(description="earlier results the strategy starts from")
    dropped_params: list[str] = Field(description="earlier params the new space lacks")
    dropped_configurations: int = Field(description="configurations that did not fit the space")
    notes: list[str] = Field(default_factory=list)


class StudyUpdate(BaseModel):
    """PATCH body: only the fields present change; ``retest: null`` removes the schedule."""

    model_config = ConfigDict(extra="forbid")

    # Absent leaves the name; null is not a name (the schema says so: no ``null`` in it).
    name: Name | SkipJsonSchema[None] = None
    retest: RetestConfig | None = None


class RoundResult(BaseModel):
    """One configuration of a round: its trials and their mean ± standard error."""

    trial_ids: list[int]
    params: dict[str, Any]
    origin: Origin
    mean: float | None = None
    se: float | None = None
    n: int = 0


class RoundPublic(BaseModel):
    id: int
    study_id: int
    number: int
    trigger: RoundTrigger
    dataset: str | None = Field(description='"name@version" the round ran on (train studies)')
    state: RoundState
    created_at: datetime
    finished_at: datetime | None
    results: list[RoundResult]
    baseline: float | None = Field(
        default=None,
        description="the champion's mean in the previous judged round (null in a study's "
        "first round: the search trial that made it champion is never compared with)",
    )
    verdict: Verdict | None
    reason: str | None
    champion: RoundResult | None = Field(
        default=None,
        description="the champion after this round: the old one when fresh, the winner when stale",
    )


class RoundsPublic(BaseModel):
    data: list[RoundPublic]
    count: int
