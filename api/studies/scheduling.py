"""Creating trials: number allocation, strategy suggestions, the in-flight top-up, completion.

Every function here but ``plan`` runs inside a write transaction that holds the study row's lock
(``lock``), so trial numbers are unique and the in-flight count is exact under concurrent
requests. ``plan`` reads without the lock; its suggestions are used only if they still hold
(``plan_holds``, the off-lock write's conflict rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import Region, Study, Trial
from api.errors import Conflict
from api.search.base import Observation, PendingTrial, RegionView, SearchState, Suggestion
from api.search.registry import make_strategy
from api.search.transforms import to_unit
from api.studies import regions as region_service
from api.studies import warm_start
from api.studies.search_history import HISTORY
from api.trials import hooks, lifecycle
from api.trials.study import config_of, lock
from caviar.schemas import StudyCreate
from caviar.states import IN_FLIGHT, UNFINISHED


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
        seed=warm_start.search_seed(study, config),
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


class StalePlan(Exception):
    """The plan no longer holds (``plan_holds``): the caller rolls back and plans again."""


def plan_holds(session: Session, study: Study, plan: Plan, numbers: list[int]) -> bool:
    """The off-lock write's conflict rule, checked under the study's lock: a plan's first
    ``len(numbers)`` suggestions may be written as the trials ``numbers`` when no trial and no
    region of the study was created since its snapshot (the study's ``trial_count`` and its
    region ids are those the plan read; every trial, fork, re-test trial and warm start raises
    ``trial_count``, and a region is stored only with a trial that uses it).

    So two plans from one snapshot never both write: the first raises ``trial_count``, the
    second fails here, and no region is drafted twice and no point is suggested without the
    other's trials as pending. What the rule accepts is bounded staleness: trials that finished
    since the snapshot were in flight in it, so the plan fantasised their values instead of
    learning them: at most the study's in-flight count of results, as with any batch."""
    return (
        plan.trial_count == study.trial_count
        and len(numbers) <= len(plan.suggestions)
        and [s.number for s in plan.suggestions[: len(numbers)]] == numbers
        and plan.regions == tuple(region_service.region_ids(session, study.id))
    )


def create_trials(
    session: Session,
    study: Study,
    config: StudyCreate,
    count: int,
    *,
    running: bool = False,
    plan: Plan | None = None,
    strict: bool = False,
) -> list[Trial]:
    """Create ``count`` trials with the next numbers, params from the study's strategy (from
    ``plan`` when it still holds); ``running``: handed out at once (``ask``). ``strict``: raise
    ``StalePlan`` instead of computing the suggestions here, under the lock, when there is no
    plan or it no longer holds."""
    if count <= 0:
        return []
    space = dict(config.space)
    numbers = list(range(study.trial_count, study.trial_count + count))
    if plan is not None and plan_holds(session, study, plan, numbers):
        suggestions = plan.suggestions[:count]
    elif strict:
        raise StalePlan(study.id)
    else:
        suggestions = _suggest(session, study, config, numbers)[1]
    for s in suggestions:
        if s.region.id is None:
            ids = dict(
                session.execute(
                    select(Trial.number, Trial.id).where(
                        Trial.study_id == study.id, Trial.number.in_(s.region.defining_numbers)
                    )
                ).all()
            )
            region_service.store_region(
                session,
                study.id,
                space,
                s.region,
                [ids[n] for n in s.region.defining_numbers if n in ids],
            )
    new = [
        lifecycle.NewTrial(params=s.params, stage=s.region.stage, region_id=s.region.id)
        for s in suggestions
    ]
    return lifecycle.create(session, study, new, running=running)


@hooks.on_finish
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
        new = create_trials(session, study, config, room)
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


def plan_ask(session: Session, study_id: int, count: int) -> Plan | None:
    """The suggestions ``ask`` would make for its new trials, computed in a read transaction
    without the study's lock (None when it would make none or refuse)."""
    study = session.get(Study, study_id)
    if study is None or study.status != "running":
        return None
    config = config_of(study)
    if config.objective.kind != "external":
        return None
    queued = session.scalar(
        select(func.count()).where(Trial.study_id == study_id, Trial.state == "queued")
    )
    room = min(count - min(queued or 0, count), config.max_trials - search_trials(study))
    return plan(session, study, config, room) if room > 0 else None


def ask(
    session: Session,
    study_id: int,
    count: int,
    ahead: Plan | None = None,
    *,
    strict: bool = False,
) -> list[Trial]:
    """Hand out up to ``count`` running trials of an external study, each with its claim:
    waiting ones (requeued, resumed) first.

    A study that is no longer running hands out only a re-test round's requeued trials, and
    otherwise an empty list (not an error), so a client's ``while trials := ask(...)`` loop
    ends cleanly when the study completes. ``ahead`` (from ``plan_ask``) saves the suggestion
    work under the lock when it still holds; ``strict``: raise ``StalePlan`` (after writes
    the caller rolls back) rather than compute suggestions under the lock.
    """
    study = lock(session, study_id, "ask")
    config = config_of(study)
    if config.objective.kind != "external":
        raise Conflict(
            f"study {study_id} has a {config.objective.kind!r} objective, run by Caviar's "
            "workers; ask is for studies whose objective is 'external'",
            field="objective.kind",
        )
    # Found by state and sorted here: ORDER BY number would let SQLite walk the whole study.
    queued = session.scalars(
        select(Trial).where(Trial.study_id == study_id, Trial.state == "queued")
    ).all()
    waiting = sorted(queued, key=lambda t: t.number)[:count]
    if study.status != "running" and not waiting:  # a re-test round may run on any study
        return []
    requeued = lifecycle.hand_out(session, waiting)
    room = min(count - len(requeued), config.max_trials - search_trials(study))
    room = room if study.status == "running" else 0
    fresh = create_trials(session, study, config, room, running=True, plan=ahead, strict=strict)
    return requeued + fresh


@hooks.before_finish
def read_history(session: Session, trial_id: int) -> None:
    """A worker-run study's tell suggests its next trials under the study's lock: bring the
    api's kept history of the trial's study up to date first, in a read session (a process's
    first read of a large study's history takes seconds; under the lock the tell then reads only
    the newest trials)."""
    study = session.scalar(select(Study).join(Trial).where(Trial.id == trial_id))
    if study is None or study.status != "running":
        return
    if (study.config or {}).get("objective", {}).get("kind") == "external":
        return  # its tell suggests nothing: no config to validate on this hot path
    config = config_of(study)
    if make_strategy(config.strategy).needs_history:
        HISTORY.read(session, study, config)


#: Seconds an ``ask`` that found nothing tells its client to wait before asking again.
RETRY_AFTER = 2.0


def retry_after(session: Session, study_id: int) -> float | None:
    """``RETRY_AFTER`` while the study (or a re-test round of it) still has unfinished trials,
    paused, queued or in flight, that a client may get later; None once nothing is left."""
    study = session.get(Study, study_id)
    if study is None or study.status == "cancelled":
        return None
    unfinished = session.scalar(
        select(func.count()).where(Trial.study_id == study_id, Trial.state.in_(UNFINISHED))
    )
    return RETRY_AFTER if unfinished or study.status == "running" else None
