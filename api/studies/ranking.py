"""The ranking of a study's search results, defined once: best and re-test champions, warm
starts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from api.db.models import Study, Trial


def best_first(study: Study, *columns: Any, reproducible: bool = False) -> Select[Any]:
    """``columns`` of the study's completed search trials (re-test rounds left out) that have a
    value, best first in the study's direction, ties broken by trial number. A trial a person
    stopped early is a partial run and never ranks. ``reproducible``:
    the trials a person steered left out too (see ``Trial.steered``)."""
    order = Trial.value.desc() if study.direction == "maximize" else Trial.value.asc()
    query = select(*columns).where(
        Trial.study_id == study.id,
        Trial.state == "completed",
        Trial.value.is_not(None),
        Trial.retest_round_id.is_(None),
        Trial.stopped_at_step.is_(None),  # a person's stop: a partial run, not a result
    )
    if reproducible:
        query = query.where(~Trial.steered)
    return query.order_by(order, Trial.number)
