"""Learning curves: every report of the listed trials, so a client replaces a trial's curve."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from api.db.models import Trial, TrialReport
from api.services.dashboard.rows import rounded
from caviar.dashboard_schemas import Curves, CurveTrial


def curves(session: Session, study_id: int, numbers: Iterable[int]) -> Curves:
    """Every report of the given trials that have reports, grouped by trial, by step."""
    out = Curves()
    wanted = sorted(set(numbers))
    rows: list[Row[Any]] = []
    for i in range(0, len(wanted), 1000):
        rows.extend(
            session.execute(
                select(
                    Trial.number,
                    TrialReport.step,
                    TrialReport.value,
                    TrialReport.metrics,
                    Trial.state,
                    Trial.prune_reason,
                )
                .join(Trial, Trial.id == TrialReport.trial_id)
                .where(Trial.study_id == study_id, Trial.number.in_(wanted[i : i + 1000]))
                .order_by(Trial.number, TrialReport.step)
            ).all()
        )
    keys = sorted({k for r in rows for k in r[3]})
    out.metrics = {k: [] for k in keys}
    for number, step, value, metrics, state, reason in rows:
        if not out.trials or out.trials[-1].number != number:
            out.trials.append(CurveTrial(number=number, state=state, prune_reason=reason))
        out.trial.append(number)
        out.step.append(step)
        out.value.append(rounded(value))  # type: ignore[arg-type]
        for k in keys:
            out.metrics[k].append(rounded(metrics.get(k)))
    return out
