"""The finished trials a study's strategy learns from, kept between requests.

Each api process keeps, per study, the finished trials that have a value and that no person
steered (``learned``) as a ``GrowingTable`` (after a warm start's earlier results, read once),
and the values at the steps a strategy asked for. A request reads only what it lacks (and, in
the same query, the trials in flight):

- ``low`` is the lowest trial number that was not finished at the previous read. A finished
  trial never changes again, so every trial below ``low`` is already held; the read looks at
  the numbers from ``low`` on (the trials in flight and those that finished since, in the usual
  case), and loads params only for the finished ones it does not hold.
- Every replica reads the database itself, so several api processes stay exact; a study that
  was deleted and re-created under the same id is told apart by its creation time.

The cost of a read is the number of trials at or above ``low``: one trial that stays unfinished
for long (a client that asked and vanished before its heartbeat grace ends) keeps ``low`` down
until the reaper requeues or fails it.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    bindparam,
    case,
    exists,
    func,
    null,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased

from api.db.models import Study, Trial, TrialReport
from api.search.base import Observation
from api.search.encoding import SpaceEncoding
from api.search.table import GrowingTable, ObservationTable
from api.search.transforms import to_unit
from api.studies import warm_start
from caviar.schemas import StudyCreate
from caviar.states import IN_FLIGHT, UNFINISHED

SCORED = ("completed", "pruned")  # finished states whose value strategies learn from
_MAX_STUDIES = 64
_IN_LIST = 500  # up to this many new trials are looked up by id, more by study
_SHORT_SPAN = 64  # a range this short at the previous read is read whole (params included)
_FREEZE = 5_000  # a read of this many trials takes them out of the garbage collector's walks


@dataclass(frozen=True, order=True)
class InFlight:
    """A trial queued or running: ``search`` is false for a re-test round's trial."""

    number: int
    params: dict[str, Any] = field(compare=False)
    region_id: int | None = field(compare=False)
    stage: int = field(compare=False)
    search: bool = field(compare=False)


@dataclass
class _Entry:
    created_at: datetime
    table: GrowingTable
    low: int = 0
    span: int = -1  # trials at or above ``low`` at the previous read (-1: none yet)
    ids: dict[int, int] = field(default_factory=dict)  # trial id -> number
    added: list[int] = field(default_factory=list)  # trial ids, in the order they were added
    curves: dict[int, tuple[int, dict[int, float]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SearchHistory:
    """Per-study finished trials, read incrementally (see the module docstring)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def table(self, session: Session, study: Study, config: StudyCreate) -> ObservationTable:
        """Every trial of ``study`` a strategy learns from (``learned``), as the database shows
        it now."""
        return self.read(session, study, config)[0]

    def read(
        self, session: Session, study: Study, config: StudyCreate
    ) -> tuple[ObservationTable, list[InFlight]]:
        """``table``, and the study's trials in flight (queued or running) by number, from the
        same read."""
        entry = self._entry(session, study, config)
        with entry.lock:
            flying = self._refresh(session, entry, study, config)
            return entry.table.snapshot(), flying

    def values_at(self, session: Session, study: Study) -> Callable[[int], dict[int, float]]:
        """The held trials' reported values at one step, by number, lower is better."""
        sign = -1.0 if study.direction == "maximize" else 1.0

        def at(step: int) -> dict[int, float]:
            entry = self._entries.get(study.id)  # looked up when asked: after ``table``
            if entry is None:
                return {}
            with entry.lock:
                done, curve = entry.curves.get(step, (0, {}))
                new = entry.added[done:]
                if new:
                    curve = dict(curve)
                    newer = aliased(TrialReport)
                    q = select(TrialReport.trial_id, TrialReport.value).where(
                        TrialReport.study_id == study.id,
                        TrialReport.step == step,
                        # from the latest attempt that reported the step, as the served curve
                        # and the pruner read it: a resumed or requeued trial keeps the values
                        # its earlier attempts reported below its checkpoint
                        ~exists().where(
                            newer.trial_id == TrialReport.trial_id,
                            newer.step == TrialReport.step,
                            newer.attempt > TrialReport.attempt,
                        ),
                    )
                    if len(new) <= _IN_LIST:
                        q = q.where(TrialReport.trial_id.in_(new))
                    for tid, v in session.execute(q):
                        if tid in entry.ids:
                            curve[entry.ids[tid]] = sign * v
                    entry.curves[step] = (len(entry.added), curve)
                return curve

        return at

    def _entry(self, session: Session, study: Study, config: StudyCreate) -> _Entry:
        with self._lock:
            entry = self._entries.get(study.id)
            if entry is None or entry.created_at != study.created_at:
                entry = _Entry(study.created_at, GrowingTable(SpaceEncoding.of(config.space)))
                # A warm start's earlier results come first (numbered -1, -2, …), read once.
                entry.table.add(warm_start.observations(session, config))
                self._entries[study.id] = entry
            self._entries.move_to_end(study.id)
            while len(self._entries) > _MAX_STUDIES:
                self._entries.popitem(last=False)
            return entry

    def _refresh(
        self, session: Session, entry: _Entry, study: Study, config: StudyCreate
    ) -> list[InFlight]:
        # A range of numbers (the (study, number) index); the states are checked here. Every
        # unfinished trial is in it: those below ``entry.low`` had finished at an earlier read.
        # The trials in flight come with what a strategy needs of them, and so do the finished
        # ones when the range was short at the previous read (the usual case): then the new
        # ones need no second query.
        whole = 0 <= entry.span <= _SHORT_SPAN  # a first read loads in bulk (``_load``)
        above = session.execute(_above(whole), {"study": study.id, "low": entry.low}).all()
        entry.span = len(above)
        low = min((r.number for r in above if r.state in UNFINISHED), default=None)
        new = [r for r in above if r.learned and r.id not in entry.ids]
        # Trials below ``low`` are finished now and were read above (or held before).
        entry.low = max(entry.low, study.trial_count if low is None else low)
        in_flight = sorted(
            InFlight(r.number, r[4], r.region_id, r.stage, bool(r[7]))
            for r in above
            if r.state in IN_FLIGHT
        )
        if new:
            if whole:
                sign = -1.0 if study.direction == "maximize" else 1.0
                loaded = [(r.id, _observation(config, sign, *r[1:7], r[8])) for r in new]
                loaded.sort(key=lambda pair: pair[1].number)
            else:
                loaded = _load(session, study, config, [r.id for r in new])
            entry.table.add([o for _, o in loaded])
            for tid, o in loaded:
                entry.ids[tid] = o.number
                entry.added.append(tid)
            if len(loaded) >= _FREEZE:
                # A large history lives long, and a full collection would walk all of it (about
                # 100 ms at 100,000 trials) wherever it falls, in a study's lock too: it is moved
                # out of the collector's reach (with whatever else is alive now, once per read).
                gc.freeze()
        return in_flight


@functools.cache
def _above(whole: bool) -> Select[Any]:
    """The trials of study ``:study`` numbered ``:low`` or more, with what ``_refresh`` needs of
    them (built once: building it costs more than running it)."""
    flying = Trial.state.in_(IN_FLIGHT)
    scored = learned()
    shown = (flying | scored) if whole else flying
    return select(
        Trial.id,
        Trial.number,
        Trial.state,
        Trial.value,
        type_coerce(case((shown, Trial.params)), Trial.params.type),
        Trial.region_id,
        Trial.stage,
        Trial.retest_round_id.is_(None),
        case((scored, _last_step())) if whole else null(),
        scored.label("learned"),
    ).where(Trial.study_id == bindparam("study"), Trial.number >= bindparam("low"))


def learned() -> ColumnElement[bool]:
    """The trials a strategy learns from: finished with a value (completed or pruned), and not
    steered by a person (``Trial.steered``)."""
    return Trial.state.in_(SCORED) & Trial.value.is_not(None) & ~Trial.steered


def _last_step() -> ScalarSelect[Any]:
    """The last step of the trial's served curve: the highest step of its latest attempt that
    reported (the attempt that finished it may have reported nothing)."""
    latest = aliased(TrialReport)
    last_attempt = (
        select(func.max(latest.attempt)).where(latest.trial_id == Trial.id).scalar_subquery()
    )
    return (
        select(func.max(TrialReport.step))
        .where(TrialReport.trial_id == Trial.id, TrialReport.attempt == last_attempt)
        .scalar_subquery()
    )


def _observation(
    config: StudyCreate,
    sign: float,
    number: int,
    state: str,
    value: float,
    params: dict[str, Any],
    region_id: int | None,
    stage: int,
    step: int | None,
) -> Observation:
    return Observation(
        number=number,
        params=params,
        unit={k: to_unit(p, params[k]) for k, p in config.space.items() if k in params},
        value=sign * value,
        region_id=region_id,
        stage=stage,
        pruned=state == "pruned",
        step=step,
    )


def _load(
    session: Session, study: Study, config: StudyCreate, ids: list[int]
) -> list[tuple[int, Observation]]:
    """(trial id, observation) of the trials ``ids``, in number order, each with its last
    reported step.

    A few trials in one query, the step looked up per trial by the reports' primary key; many
    (a first read) in two, the steps grouped over the study's reports."""
    sign = -1.0 if study.direction == "maximize" else 1.0
    columns = (
        Trial.id,
        Trial.number,
        Trial.state,
        Trial.value,
        Trial.params,
        Trial.region_id,
        Trial.stage,
    )
    if len(ids) <= _IN_LIST:
        rows = session.execute(select(*columns, _last_step()).where(Trial.id.in_(ids))).all()
    else:
        wanted = set(ids)
        steps: dict[int, int] = {}
        for trial_id, _, step in session.execute(  # the latest attempt's last step, per trial
            select(TrialReport.trial_id, TrialReport.attempt, func.max(TrialReport.step))
            .where(TrialReport.study_id == study.id)
            .group_by(TrialReport.trial_id, TrialReport.attempt)
            .order_by(TrialReport.trial_id, TrialReport.attempt)
        ):
            steps[trial_id] = step
        rows = [
            (*row, steps.get(row[0]))
            for row in session.execute(
                select(*columns).where(Trial.study_id == study.id, learned())
            )
            if row[0] in wanted
        ]
    return [(r[0], _observation(config, sign, *r[1:8])) for r in sorted(rows, key=lambda r: r[1])]


#: The api process's cache, shared by its request threads.
HISTORY = SearchHistory()
