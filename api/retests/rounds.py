"""Re-test rounds: start one (its trials are ordinary trials with ``retest_round_id`` set),
close it with a verdict once every trial has finished, and the views built on them.

A round runs the champion and the rest of the top_k ``repeats`` times each with fresh seeds
(a trial's dispatch seed follows its number), next to ``explore`` challengers drawn alternately
in the latest region and across the whole space, each also run ``repeats`` times. Round trials
never count against ``max_trials`` and never keep a study from completing.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from api.datasets import service as dataset_service
from api.db.clock import db_now
from api.db.models import RetestRound, Study, Trial
from api.errors import Conflict
from api.retests.verdict import HISTORY, Judged, judge, reference, summarize
from api.search.base import RegionView
from api.search.transforms import from_unit
from api.studies import regions as region_service
from api.studies.champion import latest_verdict
from api.studies.ranking import best_first
from api.studies.retest_schedule import uploaded_dataset_name
from api.trials import lifecycle
from api.trials.study import config_of, lock
from caviar.retest_schemas import Origin, RetestConfig, RoundPublic, RoundResult, RoundTrigger
from caviar.space import CategoricalParam
from caviar.states import UNFINISHED


def running_round(session: Session, study_id: int) -> RetestRound | None:
    return session.scalars(
        select(RetestRound).where(RetestRound.study_id == study_id, RetestRound.state == "running")
    ).first()


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _ranked(
    session: Session, study: Study, top_k: int
) -> tuple[list[dict[str, Any]], float | None]:
    """The champion then the next best distinct configurations; the champion's mean in the
    previous judged round (None before any: a search trial's single value is never a baseline,
    it was picked for being low)."""
    query = best_first(study, Trial.params, Trial.value, reproducible=True)
    rows = session.execute(query.limit(top_k * 20)).all()
    previous = latest_verdict(session, study.id)
    configs: list[dict[str, Any]] = []
    baseline: float | None = None
    if previous is not None and previous.champion is not None:
        configs.append(previous.champion["params"])
        baseline = previous.champion["mean"]
    seen = {_key(p) for p in configs}
    for params, _ in rows:
        if len(configs) >= top_k:
            break
        if _key(params) not in seen:
            seen.add(_key(params))
            configs.append(params)
    return configs, baseline


def _history(session: Session, rnd: RetestRound) -> list[Judged]:
    """The judged rounds of the same study before ``rnd``, newest first (``verdict.HISTORY``)."""
    rows = session.scalars(
        select(RetestRound)
        .where(
            RetestRound.study_id == rnd.study_id,
            RetestRound.number < rnd.number,
            RetestRound.verdict.is_not(None),
        )
        .order_by(RetestRound.number.desc())
        .limit(HISTORY)
    ).all()
    history = []
    for r in rows:
        results = [RoundResult.model_validate(x) for x in r.results]
        won = r.champion["trial_ids"] if r.champion else None
        winner = next((i for i, x in enumerate(results) if x.trial_ids == won), None)
        history.append(Judged(r.number, results, r.verdict, winner))  # type: ignore[arg-type]
    return history


def _draw(study: Study, region: RegionView, rng: np.random.Generator) -> dict[str, Any]:
    space = dict(config_of(study).space)
    params: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, CategoricalParam):
            choices = region.choices.get(name) or list(p.choices)
            params[name] = choices[int(rng.integers(len(choices)))]
        else:
            lo, hi = region.unit_bounds.get(name, (0.0, 1.0))
            params[name] = from_unit(p, float(rng.uniform(lo, hi)))
    return params


def start(
    session: Session, study_id: int, trigger: RoundTrigger
) -> tuple[RetestRound, list[Trial]]:
    """Start a round now (409 while the study's previous round runs, or with nothing to re-test).
    Returns the round and its trials to dispatch after commit (none for external studies)."""
    study = lock(session, study_id)
    if study.status == "cancelled":
        raise Conflict(f"study {study_id} is cancelled: it is not re-tested", field="status")
    previous = running_round(session, study_id)
    if previous is not None:
        raise Conflict(
            f"round {previous.number} of study {study_id} is still running; a new one starts "
            "after it finishes",
            field="retests",
        )
    config = config_of(study)
    retest = config.retest or RetestConfig()
    configs, baseline = _ranked(session, study, retest.top_k)
    if not configs:
        raise Conflict(
            f"study {study_id} has no completed trial that no person steered to re-test",
            field="retests",
        )
    number = (
        session.scalar(select(func.max(RetestRound.number)).where(RetestRound.study_id == study_id))
        or 0
    ) + 1
    views = region_service.load_views(session, study_id)
    rng = np.random.default_rng([study.seed, number, 7])
    groups: list[tuple[dict[str, Any], Origin, RegionView | None]] = [
        (p, "champion" if i == 0 else "top_k", None) for i, p in enumerate(configs)
    ]
    for i in range(retest.explore):
        region = views[-1] if i % 2 == 0 else views[0]
        groups.append((_draw(study, region, rng), "explore", region))
    name = uploaded_dataset_name(config)
    dataset = None
    if name is not None:
        latest = dataset_service.latest_version(session, name)
        dataset = f"{latest.name}@{latest.version}" if latest else None
    rnd = RetestRound(
        study_id=study_id,
        number=number,
        trigger=trigger,
        dataset=dataset,
        state="running",
        results=[],
        baseline=baseline,
    )
    session.add(rnd)
    session.flush()
    trials = lifecycle.create(
        session,
        study,
        [
            lifecycle.NewTrial(
                params=params,
                stage=region.stage if region else 0,
                region_id=region.id if region else None,
                kind="retest",
                retest_round_id=rnd.id,
            )
            for params, _, region in groups
            for _ in range(retest.repeats)
        ],
    )
    results, at = [], 0
    for params, origin, _ in groups:
        ids = [t.id for t in trials[at : at + retest.repeats]]
        at += retest.repeats
        results.append(RoundResult(trial_ids=ids, params=params, origin=origin).model_dump())
    rnd.results = results
    external = config.objective.kind == "external"
    return rnd, ([] if external else trials)


def finishable(session: Session) -> list[int]:
    """Running rounds none of whose trials is unfinished (queued, running or paused)."""
    busy = exists().where(Trial.retest_round_id == RetestRound.id, Trial.state.in_(UNFINISHED))
    return list(
        session.scalars(select(RetestRound.id).where(RetestRound.state == "running", ~busy))
    )


def close(session: Session, round_id: int) -> bool:
    """Judge a round whose trials have all finished; store the verdict and flag the study.
    False when another process closed it first or a trial is still in flight."""
    rnd = session.get(RetestRound, round_id)
    if rnd is None or rnd.state != "running":
        return False
    study = lock(session, rnd.study_id)
    trials = {
        t.id: t for t in session.scalars(select(Trial).where(Trial.retest_round_id == round_id))
    }
    if any(t.state in UNFINISHED for t in trials.values()):
        return False
    results: list[RoundResult] = []
    for raw in rnd.results:
        r = RoundResult.model_validate(raw)
        values = [
            trials[i].value
            for i in r.trial_ids
            if trials[i].state == "completed"
            and trials[i].value is not None
            and not trials[i].steered  # a person's experiment is no repeat of the params
        ]
        r.mean, r.se, r.n = summarize([v for v in values if v is not None])
        results.append(r)
    judgement = judge(results, reference(_history(session, rnd)), study.direction)
    champion: dict[str, Any] | None = None
    if judgement.winner is not None:
        won = results[judgement.winner]
        sign = -1.0 if study.direction == "maximize" else 1.0
        done = [
            trials[i]
            for i in won.trial_ids
            if trials[i].state == "completed"
            and trials[i].value is not None
            and not trials[i].steered
        ]
        pick = min(done, key=lambda t: (sign * (t.value or 0.0), t.number))
        champion = {**won.model_dump(), "trial_id": pick.id, "trial_number": pick.number}
    won_update = session.execute(
        update(RetestRound)
        .where(RetestRound.id == round_id, RetestRound.state == "running")
        .values(
            state="finished",
            finished_at=db_now(),
            results=[r.model_dump() for r in results],
            champion=champion,
            verdict=judgement.verdict,
            reason=judgement.reason,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won_update:
        return False
    if judgement.verdict is not None:
        study.stale = judgement.verdict == "stale"
        study.stale_reason = judgement.reason if study.stale else None
    return True


def protected(session: Session, trial: Trial) -> bool:
    """True for a re-test trial of the champion or the top_k: pruning never cuts those."""
    rnd = session.get(RetestRound, trial.retest_round_id) if trial.retest_round_id else None
    if rnd is None:
        return False
    return any(trial.id in r["trial_ids"] and r["origin"] != "explore" for r in rnd.results)


def public(r: RetestRound) -> RoundPublic:
    return RoundPublic(
        id=r.id,
        study_id=r.study_id,
        number=r.number,
        trigger=r.trigger,  # type: ignore[arg-type]
        dataset=r.dataset,
        state=r.state,  # type: ignore[arg-type]
        created_at=r.created_at,
        finished_at=r.finished_at,
        results=[RoundResult.model_validate(x) for x in r.results],
        baseline=r.baseline,
        verdict=r.verdict,  # type: ignore[arg-type]
        reason=r.reason,
        champion=RoundResult.model_validate(r.champion) if r.champion else None,
    )


def list_rounds(
    session: Session, study_id: int, offset: int, limit: int
) -> tuple[list[RetestRound], int]:
    count = session.scalar(select(func.count()).where(RetestRound.study_id == study_id)) or 0
    rows = session.scalars(
        select(RetestRound)
        .where(RetestRound.study_id == study_id)
        .order_by(RetestRound.number.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), count


@dataset_service.on_new_version
def on_new_version(session: Session, dataset_name: str) -> list[Trial]:
    """A new version of ``dataset_name`` was stored: start a ``new_data`` round in each study
    that asked for it. A study whose round still runs gets its next round as soon as that one
    finishes (its due time becomes now)."""
    to_send: list[Trial] = []
    rows = session.execute(select(Study.id, Study.config).where(Study.status != "cancelled"))
    for study_id, raw in rows.all():
        retest = raw.get("retest") or {}
        if not retest.get("on_new_data"):
            continue
        config = config_of(session.get_one(Study, study_id))
        if uploaded_dataset_name(config) != dataset_name:
            continue
        if running_round(session, study_id) is not None:
            session.execute(
                update(Study).where(Study.id == study_id).values(retest_next_at=db_now())
            )
            continue
        try:
            _, trials = start(session, study_id, "new_data")
        except Conflict:
            continue
        to_send += trials
    return to_send
