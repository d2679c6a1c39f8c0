"""What a trial's life needs of its study: the study's row lock and its typed config."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Study
from api.errors import NotFound
from api.trials import lock_timing
from caviar.schemas import StudyCreate

_CACHED = 512
_configs: OrderedDict[int, tuple[dict[str, Any], StudyCreate]] = OrderedDict()
_configs_lock = threading.Lock()


def config_of(study: Study) -> StudyCreate:
    """The study's stored config, typed. Validated once per study and content: a report or a
    tell compares the stored dict with the one it parsed last (microseconds) instead of
    validating the whole config again; a PATCH that changes the config is seen at once."""
    with _configs_lock:
        hit = _configs.get(study.id)
        if hit is not None and hit[0] == study.config:
            _configs.move_to_end(study.id)
            return hit[1]
    parsed = StudyCreate.model_validate(study.config)
    with _configs_lock:
        _configs[study.id] = (study.config, parsed)
        while len(_configs) > _CACHED:
            _configs.popitem(last=False)
    return parsed


def lock(session: Session, study_id: int, operation: str = "other") -> Study:
    """Load a study holding its row lock for the rest of the transaction (timed, from here to
    the commit, into ``caviar_study_lock_held_seconds`` under ``operation``). The first lock a
    transaction takes: the trial's row and a checkpoint's come after it.

    The lock is ``FOR NO KEY UPDATE``: it orders the study's writers, and it lets a row that
    only names the study (a report, an event) be inserted meanwhile, so a transaction that
    holds a trial's row and records an event never waits for the study's holder (which may be
    waiting for that trial's row)."""
    query = select(Study).where(Study.id == study_id).with_for_update(key_share=True)
    # Fresh under the lock, even when the session loaded the study before.
    study = session.scalars(query.execution_options(populate_existing=True)).first()
    if study is None:
        raise NotFound("study", study_id)
    strategy = study.config.get("strategy", {}).get("name", "") if study.config else ""
    lock_timing.locked(session, operation, str(strategy))
    return study
