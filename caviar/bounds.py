"""Bounded types of the REST contract: every integer, string and collection has a limit.

One place for the limits, so the checks and the published OpenAPI document agree: each bound is
a JSON Schema keyword (``minimum``, ``maximum``, ``maxLength``, ``pattern``, ``maxItems``,
``maxProperties``), and a request that the schema accepts is not rejected for its size.

- Ids, numbers, steps, attempts, offsets and cursors fit the database's 32-bit ``INTEGER``
  columns (``DB_INT_MAX``); a larger value is a 422 naming the field, never a database error.
- Floats are finite and at most ``MAX_ABS_FLOAT`` in magnitude, so a width, a sum or a mean of two
  of them stays finite (±1e308 would overflow ``high - low`` to infinity).
- Integers of a search space are at most ``MAX_ABS_INT`` (2**53) in magnitude, exact as floats.
- ``MAX_TRIALS_PER_REQUEST`` (256) caps ``parallelism`` and ``ask``'s ``count``: no request
  creates more than 256 trials at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

DB_INT_MAX = 2**31 - 1
MAX_ABS_FLOAT = 1e300
MAX_ABS_INT = 2**53
MAX_TRIALS_PER_REQUEST = 256
MAX_CHOICES = 256
MAX_CHOICE_LENGTH = 256
MAX_METRICS = 32
MAX_REPORTS_PER_BATCH = 1000
MAX_FIXED = 64
MAX_PARAMS = 64
MAX_NAME_LENGTH = 200
MAX_HEARTBEAT_GRACE = 7 * 24 * 3600.0
MAX_DATASET_VERSION_DIGITS = 9  # 999,999,999 < DB_INT_MAX


def _not_bool(value: Any) -> Any:
    """JSON's ``true`` and ``false`` are not integers (pydantic would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError("Input should be a valid integer, not a boolean")
    return value


NotBool = BeforeValidator(_not_bool)
Id = Annotated[int, Field(ge=1, le=DB_INT_MAX, description="a stored id"), NotBool]
Offset = Annotated[int, Field(ge=0, le=DB_INT_MAX), NotBool]
Step = Annotated[int, Field(ge=0, le=DB_INT_MAX), NotBool]
Attempt = Annotated[int, Field(ge=1, le=DB_INT_MAX), NotBool]
BoundedFloat = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS_FLOAT, le=MAX_ABS_FLOAT)]
SpaceInt = Annotated[int, Field(ge=-MAX_ABS_INT, le=MAX_ABS_INT)]

KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*$"
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=KEY_PATTERN)]
"""A hyperparameter, metric or ``fixed`` name: an identifier, dots allowed."""

NO_NUL = r"^[^\x00]*$"
"""Free text never holds NUL: PostgreSQL's text and JSON columns cannot store it."""
MetricName = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NO_NUL)]
"""A study's name: any text of 1 to 200 characters (no NUL)."""
ErrorText = Annotated[str, Field(max_length=10_000, pattern=NO_NUL)]

DATASET_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$"
DATASET_REF_PATTERN = (
    r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}(@[0-9]{1," + str(MAX_DATASET_VERSION_DIGITS) + r"})?$"
)
DatasetRef = Annotated[
    str,
    Field(
        pattern=DATASET_REF_PATTERN,
        max_length=128 + 1 + MAX_DATASET_VERSION_DIGITS,
        description="a dataset: 'name' (its latest version) or 'name@version'",
    ),
]

Choice = (
    Annotated[str, Field(max_length=MAX_CHOICE_LENGTH, pattern=NO_NUL)]
    | bool
    | SpaceInt
    | BoundedFloat
)
"""One categorical choice or ``fixed`` value: a short string, a boolean or a bounded number."""


def keys_by_pattern(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of a ``dict[Key, V]`` field: pydantic publishes the key pattern as
    ``patternProperties``, which lets any other key through; state it as ``propertyNames``
    instead, and the values' schema as ``additionalProperties``, so the schema is as strict as
    the check."""
    patterns = schema.pop("patternProperties", None)
    if patterns:
        ((pattern, value),) = patterns.items()
        schema.setdefault("propertyNames", {})["pattern"] = pattern
        schema["additionalProperties"] = value
