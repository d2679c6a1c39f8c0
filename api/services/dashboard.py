"""Plot data for the web dashboard: a snapshot of a study, then updates past a cursor.

Contracts:
- ``snapshot`` reads counts, the cursor, the in-flight numbers and the best-so-far line with
  aggregate queries, and the params of at most about ``max_points`` finished trials: the best
  tenth (completed) and an even spread by number (every k-th) of the others.
- ``updates(after, watch)`` returns trials with number > ``after`` (at most ``limit``) and the
  watched numbers, keeps the finished ones in ``trials`` and the others in ``pending``. A client
  that polls with the returned cursor and pending list sees every trial finish exactly once.
- Curves carry every report of the trials they list, so a client replaces a trial's curve.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, get_args

from pydantic import BaseModel
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from api.db.models import Study, Trial, TrialReport
from api.errors import FieldError
from api.search.grid_sampler import distinct_values as grid_distinct_values
from api.search.transforms import to_unit
from api.services.publish import trial_public
from api.services.study_config import config_of
from caviar import search_config as cfg
from caviar.dashboard_schemas import (
    BestSoFar,
    Curves,
    CurveTrial,
    DashboardOptions,
    DashboardSnapshot,
    DashboardUpdates,
    DistinctValues,
    ObjectiveOptions,
    TrialColumns,
)
from caviar.functions import FunctionName
from caviar.schemas import FINISHED_STATES, StudyCreate, TrialsPublic
from caviar.space import CategoricalParam
from caviar.trainer_params import BUILTIN_DATASETS, TRAINER_PARAMS, Metric

IN_FLIGHT = ("queued", "running")
MAX_WATCH = 2000
MAX_POINTS = 1500  # plot points of a large study: enough to see, cheap to draw


def _r(x: float | None) -> float | None:
    """Round a float to 6 significant digits (plot data); ints and None pass through."""
    if x is None or not isinstance(x, float) or not math.isfinite(x):
        return x
    return float(f"{x:.6g}")


def _columns(rows: Iterable[Row[Any]], names: Sequence[str]) -> TrialColumns:
    """Rows of (number, id, state, value, stage, params, prune_reason) → columns."""
    cols = TrialColumns(params={n: [] for n in names})
    for number, id_, state, value, stage, params, reason in rows:
        cols.number.append(number)
        cols.id.append(id_)
        cols.state.append(state)
        cols.value.append(_r(value))
        cols.stage.append(stage)
        for n in names:
            v = params.get(n)
            cols.params[n].append(_r(v) if isinstance(v, float) else v)
        cols.prune_reason.append(reason)
    return cols


_FULL = (
    Trial.number,
    Trial.id,
    Trial.state,
    Trial.value,
    Trial.stage,
    Trial.params,
    Trial.prune_reason,
)


def _full_rows(session: Session, study_id: int, numbers: list[int]) -> list[Row[Any]]:
    rows: list[Row[Any]] = []
    for i in range(0, len(numbers), 1000):
        chunk = numbers[i : i + 1000]
        rows.extend(
            session.execute(
                select(*_FULL).where(Trial.study_id == study_id, Trial.number.in_(chunk))
            ).all()
        )
    rows.sort(key=lambda r: r[0])
    return rows


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
        out.value.append(_r(value))  # type: ignore[arg-type]
        for k in keys:
            out.metrics[k].append(_r(metrics.get(k)))
    return out


def importance(
    space: dict[str, Any], params: dict[str, list[Any]], values: list[float]
) -> dict[str, float]:
    """Per hyperparameter, η²: the share of the variance of the objective's rank explained by
    the hyperparameter's bin (10 equal-count bins on its own scale; one bin per choice).
    A cheap, model-free stand-in for functional ANOVA; 0 with fewer than 8 values."""
    n = len(values)
    if n < 8:
        return {name: 0.0 for name in space}
    order = sorted(range(n), key=lambda i: values[i])
    rank = [0.0] * n
    for r, i in enumerate(order):
        rank[i] = r / (n - 1)
    mean = sum(rank) / n
    total = sum((x - mean) ** 2 for x in rank) or 1.0
    out: dict[str, float] = {}
    for name, p in space.items():
        column = params[name]
        if isinstance(p, CategoricalParam):
            keys = [p.choices.index(v) if v in p.choices else -1 for v in column]
        else:
            units = [to_unit(p, v) for v in column]
            by_unit = sorted(range(n), key=lambda i: units[i])
            keys = [0] * n
            for pos, i in enumerate(by_unit):
                keys[i] = pos * 10 // n
        groups: dict[int, list[float]] = {}
        for k, x in zip(keys, rank, strict=True):
            groups.setdefault(k, []).append(x)
        between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
        out[name] = round(between / total, 4)
    return out


def default_pair(names: list[str], scores: dict[str, float]) -> list[str]:
    """The two hyperparameters with the highest importance (space order breaks ties)."""
    ranked = sorted(names, key=lambda n: (-scores.get(n, 0.0), names.index(n)))
    return ranked[:2]


def best_so_far(session: Session, study: Study) -> BestSoFar:
    """The completed trials (by number) that improved on every earlier one: a window query."""
    maximize = study.direction == "maximize"
    agg = func.max if maximize else func.min
    earlier = agg(Trial.value).over(order_by=Trial.number, rows=(None, -1)).label("earlier")
    inner = (
        select(Trial.number, Trial.value, earlier)
        .where(Trial.study_id == study.id, Trial.state == "completed", Trial.value.is_not(None))
        .subquery()
    )
    better = inner.c.value > inner.c.earlier if maximize else inner.c.value < inner.c.earlier
    rows = session.execute(
        select(inner.c.number, inner.c.value)
        .where(inner.c.earlier.is_(None) | better)
        .order_by(inner.c.number)
    ).all()
    return BestSoFar(number=[r[0] for r in rows], value=[_r(r[1]) for r in rows])  # type: ignore[misc]


def _numbers(session: Session, q: Any) -> list[int]:
    return list(session.scalars(q))


def snapshot(
    session: Session, study: Study, *, max_points: int = MAX_POINTS, max_curves: int = 200
) -> DashboardSnapshot:
    """Counts, cursor and best-so-far come from indexed aggregate queries; only the sampled
    trials' params are read, so a 100,000-trial study costs a few narrow queries."""
    config = config_of(study)
    space = dict(config.space)
    names = list(space)
    ours = Trial.study_id == study.id
    best_first = Trial.value.desc() if study.direction == "maximize" else Trial.value.asc()
    counts = dict(
        session.execute(select(Trial.state, func.count()).where(ours).group_by(Trial.state)).all()
    )
    total = sum(counts.values())
    finished = sum(counts.get(s, 0) for s in FINISHED_STATES)
    cursor = session.scalar(select(func.max(Trial.number)).where(ours))
    # (no ORDER BY: it would make SQLite walk the number index instead of the state index)
    pending = sorted(
        _numbers(session, select(Trial.number).where(ours, Trial.state.in_(IN_FLIGHT)))
    )
    valued = Trial.state.in_(FINISHED_STATES) & Trial.value.is_not(None)
    n_valued = session.scalar(select(func.count()).where(ours, valued)) or 0
    completed = (Trial.state == "completed") & Trial.value.is_not(None)

    sampled = n_valued > max_points
    if sampled:
        top = _numbers(
            session,
            select(Trial.number)
            .where(ours, completed)
            .order_by(best_first)
            .limit(max_points // 10),
        )
        # every k-th number: looked up by the (study, number) index, no scan
        stride = math.ceil(((cursor or 0) + 1) / (max_points - len(top)))
        spread = range(stride // 2, (cursor or 0) + 1, stride)
        chosen = sorted(set(top) | set(spread))
        rows = [r for r in _full_rows(session, study.id, chosen) if r[2] in FINISHED_STATES]
    else:
        rows = session.execute(
            select(*_FULL).where(ours, Trial.state.in_(FINISHED_STATES)).order_by(Trial.number)
        ).all()
    cols = _columns(rows, names)

    done = [i for i, s in enumerate(cols.state) if s == "completed" and cols.value[i] is not None]
    scores = importance(
        space,
        {n: [cols.params[n][i] for i in done] for n in names},
        [cols.value[i] for i in done],  # type: ignore[misc]
    )

    # Learning curves: the best, the newest finished, the in-flight, and a spread of the pruned.
    if total <= max_curves:
        picked = set(_numbers(session, select(Trial.number).where(ours)))
    else:
        picked = set(
            _numbers(
                session, select(Trial.number).where(ours, completed).order_by(best_first).limit(20)
            )
        )
        picked |= set(
            _numbers(
                session,
                select(Trial.number)
                .where(ours, Trial.state.in_(FINISHED_STATES))
                .order_by(Trial.number.desc())
                .limit(100),
            )
        )
        picked |= set(pending[:50])
        every = max(1, math.ceil(counts.get("pruned", 0) / 30))
        picked |= set(
            _numbers(
                session,
                select(Trial.number)
                .where(ours, Trial.state == "pruned", Trial.number % every == 0)
                .limit(30),
            )
        )
    return DashboardSnapshot(
        study_id=study.id,
        total=total,
        finished=finished,
        cursor=-1 if cursor is None else cursor,
        pending=pending,
        sampled=sampled,
        trials=cols,
        best=best_so_far(session, study),
        curves=curves(session, study.id, picked),
        importance=scores,
        pair=default_pair(names, scores),
    )


def updates(
    session: Session,
    study: Study,
    after: int,
    watch: list[int],
    *,
    limit: int = 2000,
    max_curves: int = 200,
) -> DashboardUpdates:
    names = list(config_of(study).space)
    new = session.execute(
        select(*_FULL)
        .where(Trial.study_id == study.id, Trial.number > after)
        .order_by(Trial.number)
        .limit(limit + 1)
    ).all()
    more = len(new) > limit
    new = new[:limit]
    watched = [n for n in watch[:MAX_WATCH] if n <= after]
    rows = sorted(list(new) + _full_rows(session, study.id, watched), key=lambda r: r[0])
    done = [r for r in rows if r[2] in FINISHED_STATES]
    pending = [r[0] for r in rows if r[2] in IN_FLIGHT] + watch[MAX_WATCH:]
    recent = sorted(rows, key=lambda r: -r[0])[:max_curves]
    return DashboardUpdates(
        cursor=new[-1][0] if new else after,
        more=more,
        pending=pending,
        trials=_columns(done, names),
        curves=curves(session, study.id, (r[0] for r in recent)),
    )


# The trials table: filtered, sorted and paged on the server (a study may hold 100,000 trials).

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
    raise FieldError(("sort",), f"unknown sort key {sort!r}; known: {known}")


def check_sort(study: Study, sort: str) -> None:
    """Raise the 422 ``FieldError`` of an unknown sort key."""
    _sort_key(study, sort)


def _table_query(study: Study, sort: str, desc: bool, states: list[str], stages: list[int]) -> Any:
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
    q = _table_query(study, sort, desc, states, stages)
    count = session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    rows = session.scalars(q.offset(offset).limit(limit))
    return TrialsPublic(data=[trial_public(t) for t in rows], count=count)


def csv_lines(
    session: Session,
    study: Study,
    *,
    sort: str = "number",
    desc: bool = False,
    states: list[str],
    stages: list[int],
) -> Iterator[str]:
    """The filtered trials as CSV (header first), streamed in batches of 1,000 rows."""
    names = list(config_of(study).space)
    q = _table_query(study, sort, desc, states, stages)
    head = ["number", "id", "state", "stage", "value", *names, "attempt", "error"]
    head += ["prune_reason", "started_at", "finished_at"]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(head)
    for t in session.scalars(q.execution_options(yield_per=1000)):
        reason = json.dumps(t.prune_reason, sort_keys=True) if t.prune_reason else ""
        out.writerow(
            [t.number, t.id, t.state, t.stage, "" if t.value is None else repr(t.value)]
            + [t.params.get(n, "") for n in names]
            + [t.attempt, t.error or "", reason, _iso(t.started_at), _iso(t.finished_at)]
        )
        if buf.tell() > 64_000:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _iso(t: datetime | None) -> str:
    return t.isoformat() if t else ""


# The new-study form's choices, from the contract's own definitions.


def options() -> DashboardOptions:
    def schemas(models: Iterable[type[BaseModel]]) -> dict[str, dict[str, Any]]:
        out = {}
        for m in models:
            schema = m.model_json_schema()
            schema["properties"].pop("name", None)
            out[_tag(m)] = schema
        return out

    return DashboardOptions(
        objective=ObjectiveOptions(
            functions=list(get_args(FunctionName)),
            datasets=list(BUILTIN_DATASETS),
            metrics=list(get_args(Metric)),
            trainer_params={
                name: {"default": d, "kind": kind, "allowed": list(a) if a else None}
                for name, (d, kind, a) in TRAINER_PARAMS.items()
            },
        ),
        strategies=schemas([cfg.RandomStrategy, cfg.GridStrategy, cfg.CoarseToFineStrategy]),
        pruners=schemas([cfg.NoPruner, cfg.MedianPruner, cfg.AshaPruner]),
        defaults={
            name: f.default
            for name, f in StudyCreate.model_fields.items()
            if f.default is not None and isinstance(f.default, int | float | str)
        },
    )


def _tag(model: type[BaseModel]) -> str:
    return str(get_args(model.model_fields["name"].annotation)[0])


def distinct_values(study: Study) -> DistinctValues:
    """Distinct values per hyperparameter for the study's budget (``max_trials``): the study's
    grid (or, for other strategies, the largest grid that fits the budget) against random.
    A study's config never changes, so the answer is cached."""
    return _distinct(study.seed, json.dumps(study.config, sort_keys=True))


@lru_cache(maxsize=256)
def _distinct(seed: int, config_json: str) -> DistinctValues:
    config = StudyCreate.model_validate_json(config_json)
    trials = config.max_trials
    space = dict(config.space)
    if isinstance(config.strategy, cfg.GridStrategy):
        k = config.strategy.points_per_param
    else:
        cells = math.prod(len(p.choices) for p in space.values() if isinstance(p, CategoricalParam))
        numeric = sum(not isinstance(p, CategoricalParam) for p in space.values()) or 1
        k = max(2, int(round((max(trials, 1) / cells) ** (1 / numeric), 9)))
    return DistinctValues(
        trials=trials,
        points_per_param=k,
        params=grid_distinct_values(space, trials, k, seed),
    )
