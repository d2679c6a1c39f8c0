"""Search-space schemas: float, int and categorical hyperparameters on their own scale.

Scales:
- ``linear``: uniform in [low, high].
- ``log``: uniform in log10 between low and high (needs low > 0). Learning rates live here.
- ``reverse_log``: 1 - x is uniform in log10 (needs high < 1). Momentum β in [0.9, 0.999] lives
  here, because sensitivity grows as β nears 1. Floats only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from caviar.bounds import (
    MAX_CHOICES,
    MAX_PARAMS,
    BoundedFloat,
    Choice,
    Key,
    SpaceInt,
    keys_by_pattern,
)

Scale = Literal["linear", "log", "reverse_log"]


class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _when_scale(scale: str, bound: str, rule: dict[str, float]) -> dict[str, Any]:
    """JSON Schema of a scale's rule on one bound, so the published schema states it too."""
    return {
        "if": {"properties": {"scale": {"const": scale}}, "required": ["scale"]},
        "then": {"properties": {bound: rule}},
    }


LOG_LOW = _when_scale("log", "low", {"exclusiveMinimum": 0})
REVERSE_LOG_HIGH = _when_scale("reverse_log", "high", {"exclusiveMaximum": 1})


class FloatParam(_Param):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"allOf": [LOG_LOW, REVERSE_LOG_HIGH]}
    )

    type: Literal["float"]
    scale: Scale = "linear"
    low: BoundedFloat
    high: BoundedFloat

    @field_validator("low")
    @classmethod
    def _low_fits_scale(cls, low: float, info: ValidationInfo) -> float:
        if info.data.get("scale") == "log" and low <= 0:
            raise ValueError("a log scale needs low > 0")
        return low

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, high: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and not high > low:
            raise ValueError(f"high must be greater than low ({low})")
        if info.data.get("scale") == "reverse_log" and high >= 1:
            raise ValueError("a reverse_log scale draws 1 - x on a log scale and needs high < 1")
        return high


class IntParam(_Param):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"allOf": [LOG_LOW]})

    type: Literal["int"]
    scale: Literal["linear", "log"] = "linear"
    low: SpaceInt
    high: SpaceInt

    @field_validator("low")
    @classmethod
    def _low_fits_scale(cls, low: int, info: ValidationInfo) -> int:
        if info.data.get("scale") == "log" and low <= 0:
            raise ValueError("a log scale needs low > 0")
        return low

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, high: int, info: ValidationInfo) -> int:
        low = info.data.get("low")
        if low is not None and not high > low:
            raise ValueError(f"high must be greater than low ({low})")
        return high


class CategoricalParam(_Param):
    type: Literal["categorical"]
    choices: list[Choice] = Field(
        min_length=1, max_length=MAX_CHOICES, json_schema_extra={"uniqueItems": True}
    )

    @field_validator("choices")
    @classmethod
    def _distinct(cls, choices: list[Choice]) -> list[Choice]:
        if len({(type(c).__name__, c) for c in choices}) != len(choices):
            raise ValueError("choices must be distinct")
        return choices


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]
ParamName = Key
Space = Annotated[
    dict[ParamName, Param],
    Field(min_length=1, max_length=MAX_PARAMS, json_schema_extra=keys_by_pattern),
]
