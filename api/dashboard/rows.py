"""Trial rows as plot columns: the selected columns, 6-significant-digit floats."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from api.db.models import Trial
from caviar.dashboard_schemas import TrialColumns


def rounded(x: float | None) -> float | None:
    """Round a float to 6 significant digits (plot data); ints and None pass through."""
    if x is None or not isinstance(x, float) or not math.isfinite(x):
        return x
    return float(f"{x:.6g}")


def columns(rows: Iterable[Row[Any]], names: Sequence[str]) -> TrialColumns:
    """Rows of ``FULL`` (number, id, state, value, stage, params, prune_reason, steered) →
    columns (``steered`` stays server-side)."""
    cols = TrialColumns(params={n: [] for n in names})
    for number, id_, state, value, stage, params, reason, _steered in rows:
        cols.number.append(number)
        cols.id.append(id_)
        cols.state.append(state)
        cols.value.append(rounded(value))
        cols.stage.append(stage)
        for n in names:
            v = params.get(n)
            cols.params[n].append(rounded(v) if isinstance(v, float) else v)
        cols.prune_reason.append(reason)
    return cols


FULL = (
    Trial.number,
    Trial.id,
    Trial.state,
    Trial.value,
    Trial.stage,
    Trial.params,
    Trial.prune_reason,
    Trial.steered,
)


def full_rows(session: Session, study_id: int, numbers: list[int]) -> list[Row[Any]]:
    rows: list[Row[Any]] = []
    for i in range(0, len(numbers), 1000):
        chunk = numbers[i : i + 1000]
        rows.extend(
            session.execute(
                select(*FULL).where(Trial.study_id == study_id, Trial.number.in_(chunk))
            ).all()
        )
    rows.sort(key=lambda r: r[0])
    return rows
