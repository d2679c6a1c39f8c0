"""What a study read and a tell keep in the api process: the recommendation, kept between reads
and made again once a trial finished; a worker-run study's history, read before a tell takes
the study's lock."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from api.db.migrate import upgrade
from api.db.models import Region, Study, Trial
from api.db.session import Database
from api.search.base import Recommendation, SearchState
from api.search.coarse_to_fine import CoarseToFineStrategy
from api.studies import scheduling
from api.studies import service as study_service
from api.studies.recommendation import recommendation
from api.studies.search_history import SearchHistory
from api.trials import hooks
from caviar.schemas import StudyCreate
from tests.services import backend

CONFIG = {
    "name": "kept",
    "objective": {"kind": "external"},
    "space": {"w": {"type": "float", "low": 0.0, "high": 1.0}},
    "strategy": {"name": "coarse_to_fine"},
    "max_trials": 100,
}


def finish(db: Database, sid: int, numbers: range) -> None:
    """Completed trials with value (w − 0.3)², w = number / 40."""
    with db.session() as s:
        region = s.scalar(select(Region.id).where(Region.study_id == sid))
        rows = [
            {
                "study_id": sid,
                "number": n,
                "params": {"w": n / 40},
                "state": "completed",
                "attempt": 1,
                "value": (n / 40 - 0.3) ** 2,
                "stage": 0,
                "region_id": region,
                "dispatch_count": 0,
            }
            for n in numbers
        ]
        s.execute(insert(Trial), rows)
        study = s.get_one(Study, sid)
        study.trial_count = max(numbers) + 1
        s.commit()


def test_the_recommendation_is_kept_until_a_trial_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    recommend = CoarseToFineStrategy.recommend

    def counted(self: CoarseToFineStrategy, state: SearchState) -> Recommendation | None:
        calls.append(1)
        return recommend(self, state)

    monkeypatch.setattr(CoarseToFineStrategy, "recommend", counted)
    with backend("sqlite", tmp_path) as be:
        upgrade(be.database_url)
        db = Database(be.database_url)
        try:
            with db.session() as s:
                study, _ = study_service.create(s, StudyCreate.model_validate(CONFIG))
                s.commit()
                sid = study.id
            finish(db, sid, range(0, 20))
            with db.read_session() as s:
                first = recommendation(s, s.get_one(Study, sid))
                assert recommendation(s, s.get_one(Study, sid)) == first
            assert first is not None and first.number == 12 and len(calls) == 1
            finish(db, sid, range(20, 30))
            with db.read_session() as s:
                assert recommendation(s, s.get_one(Study, sid)) is not None
            assert len(calls) == 2
        finally:
            db.dispose()


@pytest.mark.parametrize("kind", ["function", "external"])
def test_a_tell_brings_a_worker_run_studys_history_up_to_date_before_its_lock(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = SearchHistory()  # this process's kept histories, fresh
    monkeypatch.setattr(scheduling, "HISTORY", history)
    objective = {"kind": "function", "name": "quadratic"} if kind == "function" else {"kind": kind}
    with backend("sqlite", tmp_path) as be:
        upgrade(be.database_url)
        db = Database(be.database_url)
        try:
            with db.session() as s:
                config = StudyCreate.model_validate({**CONFIG, "objective": objective})
                study, _ = study_service.create(s, config)
                s.commit()
                sid = study.id
            finish(db, sid, range(100, 130))
            with db.read_session() as s:
                trial_id = s.scalar(select(Trial.id).where(Trial.study_id == sid).limit(1))
                assert trial_id is not None
                hooks.prepare(s, trial_id)  # what the tell route does before its write
            kept = history._entries.get(sid)
            if kind == "external":  # its clients ask: a tell suggests nothing
                assert kept is None
            else:
                assert kept is not None and kept.table.n == 30
        finally:
            db.dispose()
