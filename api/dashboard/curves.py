"""Learning curves of the listed trials, whole, so a client replaces a trial's curve."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from api.dashboard.rows import rounded
from api.db.models import Trial, TrialCommand, TrialReport
from api.trials.service import continued_curve
from caviar.dashboard_schemas import CurveCommand, Curves, CurveTrial


def curves(session: Session, study_id: int, numbers: Iterable[int]) -> Curves:
    """The learning curves of the given trials that have reports, grouped by trial, by step:
    each one as ``GET /api/trials/{id}/reports`` serves it (``continued_curve``)."""
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
                    TrialReport.attempt,
                )
                .join(Trial, Trial.id == TrialReport.trial_id)
                .where(Trial.study_id == study_id, Trial.number.in_(wanted[i : i + 1000]))
                .order_by(Trial.number, TrialReport.step)
            ).all()
        )
    by_trial: dict[int, list[Row[Any]]] = {}
    for r in rows:
        by_trial.setdefault(r[0], []).append(r)
    rows = [
        r
        for number in sorted(by_trial)
        for r in continued_curve(by_trial[number], lambda r: r[6], lambda r: r[1])
    ]
    keys = sorted({k for r in rows for k in r[3]})
    out.metrics = {k: [] for k in keys}
    marks = interventions(session, study_id, sorted(by_trial))
    for number, step, value, metrics, state, reason, _ in rows:
        if not out.trials or out.trials[-1].number != number:
            out.trials.append(
                CurveTrial(
                    number=number,
                    state=state,
                    prune_reason=reason,
                    interventions=marks.get(number, []),
                )
            )
        out.trial.append(number)
        out.step.append(step)
        out.value.append(rounded(value))  # type: ignore[arg-type]
        for k in keys:
            out.metrics[k].append(rounded(metrics.get(k)))
    return out


def interventions(
    session: Session, study_id: int, numbers: list[int]
) -> dict[int, list[CurveCommand]]:
    """The applied commands of the given trials, by trial number, in the order of their steps."""
    out: dict[int, list[CurveCommand]] = {}
    for i in range(0, len(numbers), 1000):
        rows = session.execute(
            select(
                Trial.number,
                TrialCommand.applied_step,
                TrialCommand.action,
                TrialCommand.params,
                TrialCommand.note,
            )
            .join(Trial, Trial.id == TrialCommand.trial_id)
            .where(
                Trial.study_id == study_id,
                Trial.number.in_(numbers[i : i + 1000]),
                TrialCommand.state == "applied",
                TrialCommand.applied_step.is_not(None),
            )
            .order_by(Trial.number, TrialCommand.applied_step, TrialCommand.id)
        ).all()
        for number, step, action, params, note in rows:
            out.setdefault(number, []).append(
                CurveCommand(step=step, action=action, params=params or {}, note=note)
            )
    return out
