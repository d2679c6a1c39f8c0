"""The configuration a study's strategy recommends, for the study's answer."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Study, Trial
from api.search.base import SearchState
from api.search.coarse_to_fine import CoarseToFineStrategy
from api.search.registry import make_strategy
from api.studies.search_history import HISTORY
from api.studies.warm_start import search_seed
from api.trials.study import config_of
from caviar.schemas import Recommended

_KEPT = 64  # studies whose latest recommendation an api process keeps
_CACHE: OrderedDict[tuple[int, datetime, int], Recommended | None] = OrderedDict()
_LOCK = threading.Lock()


def recommendation(session: Session, study: Study) -> Recommended | None:
    """A coarse_to_fine study's recommended trial (see ``CoarseToFineStrategy.recommend``), its
    expected value in the study's direction; None for other strategies or without a trial.

    The answer is kept per study and finished-trial count (finished trials never change), so a
    study read refits the model only after a trial finished."""
    config = config_of(study)
    strategy = make_strategy(config.strategy)
    if not isinstance(strategy, CoarseToFineStrategy):
        return None
    table = HISTORY.table(session, study, config)
    table = table.where(table.number >= 0)  # a warm start's earlier results are not trials here
    key = (study.id, study.created_at, len(table))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    answer = _recommend(
        session,
        study,
        strategy,
        SearchState(dict(config.space), search_seed(study, config), [], 0, [], table=table),
    )
    with _LOCK:
        _CACHE[key] = answer
        while len(_CACHE) > _KEPT:
            _CACHE.popitem(last=False)
    return answer


def _recommend(
    session: Session, study: Study, strategy: CoarseToFineStrategy, state: SearchState
) -> Recommended | None:
    rec = strategy.recommend(state)
    if rec is None:
        return None
    row = session.execute(
        select(Trial.id, Trial.params).where(Trial.study_id == study.id, Trial.number == rec.number)
    ).first()
    if row is None:
        return None
    sign = -1.0 if study.direction == "maximize" else 1.0
    return Recommended(trial_id=row[0], number=rec.number, params=row[1], mean=sign * rec.mean)
