"""Bounded path and query parameters, shared by the routes (limits from ``caviar.bounds``).

A path id above ``DB_INT_MAX`` or an offset past it is a 422 naming the parameter: it never
reaches the database, whose ``INTEGER`` columns could not hold it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query

from caviar.bounds import DATASET_REF_PATTERN, DB_INT_MAX, MAX_DATASET_VERSION_DIGITS

StudyId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="the study's id")]
TrialId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="the trial's id")]
DatasetRefPath = Annotated[
    str,
    Path(
        pattern=DATASET_REF_PATTERN,
        max_length=128 + 1 + MAX_DATASET_VERSION_DIGITS,
        description="'name' (the latest version) or 'name@version'",
    ),
]
Offset = Annotated[int, Query(ge=0, le=DB_INT_MAX, description="rows to skip")]
ClaimHeader = Annotated[
    str | None,
    Header(
        alias="Caviar-Claim",
        max_length=64,
        description="the claim of the attempt this write belongs to, from /start or ask; "
        "a missing or wrong claim gets 409 and changes nothing",
    ),
]
