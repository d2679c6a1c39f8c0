"""Rows → wire schemas."""

from __future__ import annotations

from api.db.models import Trial, TrialCommand, TrialReport
from caviar.schemas import CommandPublic, ReportPublic, TrialPublic


def trial_public(t: Trial, *, claim: bool = False) -> TrialPublic:
    """``claim``: the answer goes to the trial's claimer (``/start``, ``ask``), and only then
    carries the attempt's secret."""
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
        note=t.note,
        stopped_at_step=t.stopped_at_step,
        claim=t.claim if claim else None,
    )


def report_public(r: TrialReport) -> ReportPublic:
    return ReportPublic(
        trial_id=r.trial_id, attempt=r.attempt, step=r.step, value=r.value, metrics=r.metrics
    )


def command_public(c: TrialCommand) -> CommandPublic:
    return CommandPublic(
        id=c.id,
        trial_id=c.trial_id,
        action=c.action,  # type: ignore[arg-type]
        params=c.params,
        note=c.note,
        author=c.author,
        state=c.state,  # type: ignore[arg-type]
        created_at=c.created_at,
        applied_at=c.applied_at,
        applied_step=c.applied_step,
        reason=c.reason,
    )
