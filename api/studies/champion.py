"""A study's champion: the configuration its latest judged re-test round kept or crowned.

Read here, beside the study's other views, from the rounds that ``api.retests`` judges (the
study's ``best`` stays its best search trial).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import RetestRound
from caviar.schemas import Best


def latest_verdict(session: Session, study_id: int) -> RetestRound | None:
    """The latest finished round that named a champion."""
    return session.scalars(
        select(RetestRound)
        .where(RetestRound.study_id == study_id, RetestRound.champion.is_not(None))
        .order_by(RetestRound.number.desc())
        .limit(1)
    ).first()


def latest_champion(session: Session, study_id: int) -> Best | None:
    """The study's champion by the latest judged round: the configuration that round kept or
    crowned, with the mean of its repeats there (the study's ``best`` stays its best search
    trial)."""
    r = latest_verdict(session, study_id)
    if r is None or r.champion is None:
        return None
    c = r.champion
    return Best(
        trial_id=c["trial_id"], number=c["trial_number"], value=c["mean"], params=c["params"]
    )
