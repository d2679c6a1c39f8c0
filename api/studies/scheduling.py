"""Creating trials: number allocation, strategy suggestions, the in-flight top-up, completion.

Every function here but ``plan`` runs inside a write transaction that holds the study row's lock
(``lock``), so trial numbers are unique and the in-flight count is exact under concurrent
requests. ``plan`` reads without the lock; its suggestions are used only if they still hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import Region, Study, Trial
from api.errors import NotFound
from api.observability import locks
from api.search.base import Observation, PendingTrial, RegionView, SearchState, Suggestion
from api.search.registry import make_strategy
from api.search.transforms import to_unit
from api.studies import regions as region_service
from api.studies.search_history import HISTORY
from api.trials.study import config_of
from caviar.schemas import StudyCreate
from caviar.states import IN_FLIGHT


def lock(session: Session, study_id: int, operation: str = "other") -> Study:
    """Load a study holding its row lock for the rest of the transaction (timed, from here to
    the commit, into ``caviar_study_lock_held_seconds`` under ``operation``)."""
    query = select(Study).where(Study.id == study_id).with_for_update()
    # Fresh under the lock, even when the session loaded the study before.
    study = session.scalars(query.execution_options(populate_existing=True)).first()
    if study is None:
        raise NotFound("study", study_id)
    strategy = study.config.get("strategy", {}).get("name", "") if study.config else ""
    locks.locked(session, operation, str(strategy))
    return study


def in_flight(session: Session, study_id: int) -> int:
    """Search trials queued or running (re-test rounds' trials are not counted)."""
    return (
        session.scalar(
            select(func.count()).where(
                Trial.study_id == study_id,
                Trial.state.in_(IN_FLIGHT),
                Trial.retest_round_id.is_(None),
            )
        )
        or 0
    )


def search_trials(study: Study) -> int:
    """Trials the search created: what ``max_trials`` bounds (re-test trials and a person's
    forks excluded)."""
    return study.trial_count - study.retest_trials - study.fork_count


def paused_count(session: Session, study_id: int) -> int:
    """Paused trials: a study with one is not finished, though nothing of it runs."""
    query = select(func.count()).where(Trial.study_id == study_id, Trial.state == "paused")
    return session.scalar(query) or 0


def observations(session: Session, study: Study, config: StudyCreate) -> list[Observation]:
    """What the strategy learns from: a warm start's earlier results (numbered -1, -2, …), then
    the study's finished trials that have a value and that no person steered, by number (see
    ``search_history``)."""
    return list(HISTORY.table(session, study, config).rows)


@dataclass(frozen=True)
class Plan:
    """Suggestions for the next trials, computed from a read of the study without its lock."""

    trial_count: int
    regions: tuple[int | None, ...]  # the stored regions they were drafted against
    suggestions: list[Suggestion]


def _suggest(
    session: Session, study: Study, config: StudyCreate, numbers: list[int]
) -> tuple[list[RegionView], list[Suggestion]]:
    space = dict(config.space)
    strategy = make_strategy(config.strategy)
    history = strategy.needs_history
    regions = region_service.VIEWS.views(session, study.id, study.created_at)
    table, flying = HISTORY.read(session, study, config) if history else (None, [])
    search = SearchState(
        space=space,
        seed=study.seed,
        observations=[],
        in_flight=sum(1 for t in flying if t.search),
        regions=list(regions),
        pending=[
            PendingTrial(
                number=t.number,
                unit={k: to_unit(p, t.params[k]) for k, p in space.items() if k in t.params},
                region_id=t.region_id,
                stage=t.stage,
            )
            for t in flying
        ],
        values_at=HISTORY.values_at(session, study) if history else None,
        table=table,
    )
    return regions, strategy.suggest(search, numbers)


def plan(session: Session, study: Study, config: StudyCreate, count: int) -> Plan:
    """What ``create_trials`` would suggest for ``count`` trials now, without taking the lock.

    The heavy part of an ask (reading the history, fitting the model) runs here, in a read
    transaction; ``create_trials`` then only checks that no trial and no region was created
    meanwhile. Trials that finished meanwhile were pending when the plan was made: the answer is
    the one the same ask would have got just before them."""
    numbers = list(range(study.trial_count, study.trial_count + count))
    regions, suggestions = _suggest(session, study, config, numbers)
    return Plan(study.trial_count, tuple(r.id for r in regions), suggestions)


def create_trials(
    session: Session,
    study: Study,
    config: StudyCreate,
    count: int,
    *,
    state: str,
    plan: Plan | None = None,
) -> list[Trial]:
    """Create ``count`` trials with the next numbers, params from the study's strategy (from
    ``plan`` when it still holds)."""
    if count <= 0:
        return []
    space = dict(config.space)
    numbers = list(range(study.trial_count, study.trial_count + count))
    fresh = (
        plan is not None
        and plan.trial_count == study.trial_count
        and [s.number for s in plan.suggestions] == numbers
        and plan.regions == tuple(region_service.region_ids(session, study.id))
    )
    if plan is not None and fresh:
        suggestions = plan.suggestions
    else:
        suggestions = _suggest(session, study, config, numbers)[1]
    study.trial_count += count
    for s in suggestions:
        if s.region.id is None:
            ids = dict(
                session.execute(
                    select(Trial.number, Trial.id).where(
                        Trial.study_id == study.id, Trial.number.in_(s.region.defining_trials)
                    )
                ).all()
            )
            region_service.store_region(
                session,
                study.id,
                space,
                s.region,
                [ids[n] for n in s.region.defining_trials if n in ids],
            )
    # One INSERT … RETURNING: the rows come back whole, database-clock timestamps included,
    # so nothing is lazily loaded (and no transaction reopened) after the request commits.
    stamps = (
        {"started_at": db_now(), "heartbeat_at": db_now()}
        if state == "running"
        else {"dispatched_at": db_now()}  # sent right after commit
    )
    rows = [
        {
            "study_id": study.id,
            "number": s.number,
            "params": s.params,
            "state": state,
            "attempt": 1,
            "stage": s.region.stage,
            "region_id": s.region.id,
            "dispatch_count": 0,
        }
        for s in suggestions
    ]
    created = session.scalars(insert(Trial).values(**stamps).returning(Trial), rows).all()
    return sorted(created, key=lambda t: t.number)


def top_up(session: Session, study: Study, config: StudyCreate | None = None) -> list[Trial]:
    """Keep up to ``parallelism`` trials in flight until ``max_trials``; mark completion.

    Returns the new queued trials, to be dispatched after commit. External studies get no
    new trials here (their clients ask), but complete the same way.
    """
    if study.status != "running":
        return []
    config = config or config_of(study)
    external = config.objective.kind == "external"
    if external and search_trials(study) < config.max_trials:
        return []  # its clients will ask for more
    flying = in_flight(session, study.id)
    new: list[Trial] = []
    if not external:
        room = min(config.parallelism - flying, config.max_trials - search_trials(study))
        new = create_trials(session, study, config, room, state="queued")
        flying += len(new)
    if (
        flying == 0
        and search_trials(study) >= config.max_trials
        and not paused_count(session, study.id)
    ):
        study.status = "completed"
    return new


def region_of(session: Session, region_id: int | None) -> Region | None:
    return session.get(Region, region_id) if region_id is not None else None
