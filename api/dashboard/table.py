"""The trials table: filtered, sorted and paged on the server (a study may hold 100,000
trials)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import Study, Trial
from api.errors import FieldError
from api.publish import trial_public
from api.trials.study import config_of
from caviar.schemas import TrialsPublic
from caviar.space import CategoricalParam

SORT_KEYS = ("number", "value", "state", "stage")


def _sort_key(study: Study, sort: str) -> Any:
    space = dict(config_of(study).space)
    if sort in SORT_KEYS:
        return getattr(Trial, sort)
    name = sort.removeprefix("params.")
    if sort.startswith("params.") and name in space:
        element = Trial.params[name]
        categorical = isinstance(space[name], CategoricalParam)
        return element.as_string() if categorical else element.as_float()
    known = ", ".join([*SORT_KEYS, *(f"params.{n}" for n in space)])
    raise FieldError(("sort",), f"unknown sort key {sort!r}; known: {known}", "query")


def check_sort(study: Study, sort: str) -> None:
    """Raise the 422 ``FieldError`` of an unknown sort key."""
    _sort_key(study, sort)


def table_query(study: Study, sort: str, desc: bool, states: list[str], stages: list[int]) -> Any:
    q = select(Trial).where(Trial.study_id == study.id)
    if states:
        q = q.where(Trial.state.in_(states))
    if stages:
        q = q.where(Trial.stage.in_(stages))
    key = _sort_key(study, sort)
    key = key.desc() if desc else key.asc()
    return q.order_by(key.nulls_last(), Trial.number)


def table(
    session: Session,
    study: Study,
    *,
    sort: str = "number",
    desc: bool = False,
    states: list[str],
    stages: list[int],
    offset: int = 0,
    limit: int = 50,
) -> TrialsPublic:
    """One page of the study's trials, filtered by state and stage; ``count`` is the total
    number of trials that pass the filters."""
    q = table_query(study, sort, desc, states, stages)
    count = session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    rows = session.scalars(q.offset(offset).limit(limit))
    return TrialsPublic(data=[trial_public(t) for t in rows], count=count)
