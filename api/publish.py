"""Rows → wire schemas."""

from __future__ import annotations

from api.db.models import Trial, TrialReport
from caviar.schemas import ReportPublic, TrialPublic


def trial_public(t: Trial) -> TrialPublic:
    return TrialPublic(
        id=t.id,
        study_id=t.study_id,
        number=t.number,
        params=t.params,
        state=t.state,  # type: ignore[arg-type]
        attempt=t.attempt,
        value=t.value,
        stage=t.stage,
        region_id=t.region_id,
        error=t.error,
        prune_reason=t.prune_reason,
        retest_round=t.retest_round_id,
        created_at=t.created_at,
        started_at=t.started_at,
        finished_at=t.finished_at,
        parent_id=t.parent_id,
        forked_at_step=t.forked_at_step,
        steered=t.steered,
    )


def report_public(r: TrialReport) -> ReportPublic:
    return ReportPublic(
        trial_id=r.trial_id, attempt=r.attempt, step=r.step, value=r.value, metrics=r.metrics
    )
