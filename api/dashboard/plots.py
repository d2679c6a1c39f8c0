"""Plot data for the web dashboard: a snapshot of a study, then updates past a cursor.

Contracts:
- ``snapshot`` reads counts, the cursor, the in-flight numbers and the best-so-far line with
  aggregate queries, and the params of at most about ``max_points`` finished trials: the best
  tenth (completed) and an even spread by number (every k-th) of the others.
- ``updates(after, watch)`` returns trials with number > ``after`` (at most ``limit``) and the
  watched numbers, keeps the finished ones in ``trials`` and the others in ``pending``. A client
  that polls with the returned cursor and pending list sees every trial finish exactly once.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.dashboard.curves import curves
from api.dashboard.importance import default_pair, importance, per_configuration
from api.dashboard.rows import FULL, columns, full_rows, rounded
from api.db.models import Study, Trial
from api.trials.study import config_of
from caviar.dashboard_schemas import BestSoFar, DashboardSnapshot, DashboardUpdates
from caviar.states import FINISHED_STATES, UNFINISHED

MAX_WATCH = 2000
MAX_POINTS = 1500  # plot points of a large study: enough to see, cheap to draw


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
    return BestSoFar(number=[r[0] for r in rows], value=[rounded(r[1]) for r in rows])  # type: ignore[misc]


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
        _numbers(session, select(Trial.number).where(ours, Trial.state.in_(UNFINISHED)))
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
        rows = [r for r in full_rows(session, study.id, chosen) if r[2] in FINISHED_STATES]
    else:
        rows = session.execute(
            select(*FULL).where(ours, Trial.state.in_(FINISHED_STATES)).order_by(Trial.number)
        ).all()
    cols = columns(rows, names)

    done = [i for i, s in enumerate(cols.state) if s == "completed" and cols.value[i] is not None]
    # A trial a person steered says nothing about its params: importance leaves it out.
    steered = {r.number for r in rows if r.steered}
    done = [i for i in done if cols.number[i] not in steered]
    # Each configuration counts once: a re-test round's repeats do not outweigh the search.
    scores = importance(
        space,
        *per_configuration(
            list(names),
            {n: [cols.params[n][i] for i in done] for n in names},
            [cols.value[i] for i in done],  # type: ignore[misc]
        ),
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
        select(*FULL)
        .where(Trial.study_id == study.id, Trial.number > after)
        .order_by(Trial.number)
        .limit(limit + 1)
    ).all()
    more = len(new) > limit
    new = new[:limit]
    watched = [n for n in watch[:MAX_WATCH] if n <= after]
    rows = sorted(list(new) + full_rows(session, study.id, watched), key=lambda r: r[0])
    done = [r for r in rows if r[2] in FINISHED_STATES]
    pending = [r[0] for r in rows if r[2] in UNFINISHED] + watch[MAX_WATCH:]
    recent = sorted(rows, key=lambda r: -r[0])[:max_curves]
    return DashboardUpdates(
        cursor=new[-1][0] if new else after,
        more=more,
        pending=pending,
        trials=columns(done, names),
        curves=curves(session, study.id, (r[0] for r in recent)),
    )
