"""The ranking of a study's search results, defined once: best and re-test champions, warm
starts; and which trials a person steered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select

from api.db.models import Study, Trial


def steered() -> ColumnElement[bool]:
    """A trial a person steered: a fork, or a trial that applied a ``set`` command (the flag is
    set then and never cleared). Its value is not what its params give when trained from
    scratch, so what learns from params or runs them again leaves it out: the strategy's
    history, the pruner's peers, re-test champions and verdicts, warm starts, the dashboard's
    parameter importance."""
    return Trial.steered


def best_first(study: Study, *columns: Any, reproducible: bool = False) -> Select[Any]:
    """``columns`` of the study's completed search trials (re-test rounds left out) that have a
    value, best first in the study's direction, ties broken by trial number. ``reproducible``:
    steered trials left out too (see ``steered``)."""
    order = Trial.value.desc() if study.direction == "maximize" else Trial.value.asc()
    query = select(*columns).where(
        Trial.study_id == study.id,
        Trial.state == "completed",
        Trial.value.is_not(None),
        Trial.retest_round_id.is_(None),
    )
    if reproducible:
        query = query.where(~steered())
    return query.order_by(order, Trial.number)
