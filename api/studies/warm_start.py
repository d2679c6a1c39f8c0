"""Warm starts: a new study begins from an earlier one's best configurations and results.

``warm_start: {study_id, top_k}`` queues the earlier study's ``top_k`` best distinct
configurations as the new study's first trials (its completed trials by final value, then, to
fill ``top_k``, its pruned ones by their value at the step all of them reached), and hands
every earlier result that fits the new space to the strategy as extra observations (numbered
-1, -2, … so they never clash with the study's own trials), so coarse_to_fine zooms from
what the earlier study learned.

Another space: earlier params the new space lacks are dropped; new params the earlier study
lacked are filled with their centre; a configuration with a value outside the new bounds or
choices is dropped. The study's ``warm_start_report`` says what was kept and dropped.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Region, Study, Trial, TrialReport
from api.errors import FieldError
from api.search.base import Observation
from api.search.transforms import Param, from_unit, to_unit
from api.studies.ranking import best_first
from api.trials import lifecycle
from caviar.retest_schemas import WarmStartReport
from caviar.schemas import StudyCreate
from caviar.space import CategoricalParam, IntParam

OBSERVATION_LIMIT = 5000


def _fits(p: Param, value: Any) -> bool:
    if isinstance(p, CategoricalParam):
        return value in p.choices
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(p, IntParam) and value != int(value):
        return False
    return p.low <= value <= p.high


def _translate(space: dict[str, Param], params: dict[str, Any]) -> dict[str, Any] | None:
    """Earlier params in the new space (missing ones at their centre); None if one doesn't fit."""
    out: dict[str, Any] = {}
    for name, p in space.items():
        if name not in params:
            out[name] = from_unit(p, 0.5)
        elif _fits(p, params[name]):
            out[name] = int(params[name]) if isinstance(p, IntParam) else params[name]
        else:
            return None
    return out


def _earlier(session: Session, config: StudyCreate) -> Study:
    assert config.warm_start is not None
    earlier = session.get(Study, config.warm_start.study_id)
    if earlier is None:
        raise FieldError(
            ("warm_start", "study_id"), f"study {config.warm_start.study_id} not found"
        )
    return earlier


def _completed(session: Session, earlier: Study, limit: int) -> list[tuple[dict[str, Any], float]]:
    query = best_first(earlier, Trial.params, Trial.value, reproducible=True)
    rows = session.execute(query.limit(limit)).all()
    return [(p, v) for p, v in rows]


def _pruned_at_common_step(
    session: Session, earlier: Study
) -> tuple[int | None, list[dict[str, Any]]]:
    """The earlier study's pruned search trials (none a person steered), best first by their
    value at the one step all of them reached (the lowest of their last steps: ASHA's first
    rung), each step's value from the latest attempt that reported it; and that step."""
    rows = session.execute(
        select(Trial.id, Trial.params, TrialReport.attempt, TrialReport.step, TrialReport.value)
        .join(TrialReport, TrialReport.trial_id == Trial.id)
        .where(
            Trial.study_id == earlier.id,
            Trial.state == "pruned",
            ~Trial.steered,
            Trial.retest_round_id.is_(None),
        )
    ).all()
    params: dict[int, dict[str, Any]] = {}
    curves: dict[int, dict[int, tuple[int, float]]] = {}
    for trial_id, p, attempt, step, value in rows:
        params[trial_id] = p
        curve = curves.setdefault(trial_id, {})
        if step not in curve or curve[step][0] < attempt:
            curve[step] = (attempt, value)
    if not curves:
        return None, []
    step = min(max(curve) for curve in curves.values())
    sign = -1.0 if earlier.direction == "maximize" else 1.0
    ranked = sorted(
        (sign * curve[step][1], trial_id) for trial_id, curve in curves.items() if step in curve
    )
    return step, [params[trial_id] for _, trial_id in ranked]


def first_trials(
    session: Session, study: Study, config: StudyCreate, region: Region
) -> list[Trial]:
    """Queue the earlier study's best configurations as trials 0, 1, …; store the report."""
    if config.warm_start is None:
        return []
    earlier = _earlier(session, config)
    space = dict(config.space)
    old_space = earlier.config.get("space", {})
    completed = [params for params, _ in _completed(session, earlier, OBSERVATION_LIMIT)]
    step, pruned = _pruned_at_common_step(session, earlier)
    top_k = config.warm_start.top_k
    chosen: list[dict[str, Any]] = []
    kept = {"completed": 0, "pruned": 0}
    seen: set[str] = set()
    dropped = 0
    candidates = [*(("completed", p) for p in completed), *(("pruned", p) for p in pruned)]
    for origin, params in candidates:
        if len(chosen) >= min(top_k, config.max_trials):
            break
        key = repr(sorted(params.items()))
        if key in seen:
            continue
        seen.add(key)
        fitted = _translate(space, params)
        if fitted is None:
            dropped += 1
        else:
            chosen.append(fitted)
            kept[origin] += 1
    notes = [f"kept {kept['completed']} completed configurations, best final value first"]
    if kept["pruned"]:
        notes.append(
            f"filled {kept['pruned']} from pruned trials, ranked by their value at step {step} "
            "(the step every pruned trial reached)"
        )
    if dropped:
        notes.append(f"dropped {dropped} configurations that do not fit this space")
    if len(chosen) < top_k:
        notes.append(
            f"{len(chosen)} of the {top_k} asked for: study {earlier.id} has no more distinct "
            "configurations that a person did not steer"
        )
    notes += [
        f"{n} is new: earlier configurations take its centre" for n in space if n not in old_space
    ]
    if earlier.direction != config.direction:
        notes.append(
            f"study {earlier.id} was {earlier.direction}d: its results guide the strategy as "
            "they were ranked there"
        )
    study.warm_start_report = WarmStartReport(
        study_id=earlier.id,
        configurations=len(chosen),
        observations=len(observations(session, config)),
        dropped_params=sorted(n for n in old_space if n not in space),
        dropped_configurations=dropped,
        notes=notes,
    ).model_dump()
    if not chosen:
        return []
    new = [
        lifecycle.NewTrial(params=params, stage=region.stage, region_id=region.id)
        for params in chosen
    ]
    return lifecycle.create(session, study, new)


def observations(session: Session, config: StudyCreate) -> list[Observation]:
    """The earlier study's results that fit this study's space, lower is better."""
    if config.warm_start is None:
        return []
    earlier = session.get(Study, config.warm_start.study_id)
    if earlier is None:
        return []
    space = dict(config.space)
    sign = -1.0 if earlier.direction == "maximize" else 1.0
    out = []
    for params, value in _completed(session, earlier, OBSERVATION_LIMIT):
        fitted = _translate(space, params)
        if fitted is None:
            continue
        out.append(
            Observation(
                number=-1 - len(out),
                params=fitted,
                unit={k: to_unit(p, fitted[k]) for k, p in space.items()},
                value=sign * value,
                region_id=None,
                stage=0,
            )
        )
    return out


def search_seed(study: Study, config: StudyCreate) -> int:
    """The seed of the study's own draws. A warm-started study draws from a stream of its own
    (its seed mixed with the earlier study's id), so it never replays the earlier study's draws
    even under the same seed: its first trials are the earlier best, the rest are new."""
    if config.warm_start is None:
        return study.seed
    return (study.seed * 1_000_003 + config.warm_start.study_id * 7919 + 17) % 2**63
