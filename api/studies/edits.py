"""Deleting a study (renaming is a PATCH: see ``retest_schedule.update``).

- ``delete`` removes a study with its regions, re-test rounds, trials and everything of its
  trials (reports, events, commands, checkpoints, and the checkpoint blobs no other trial
  shares). A study
  whose trials may still run (status ``running``) is refused with 409 naming ``status``:
  cancel it first.
"""

from __future__ import annotations

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.blobs import drop_orphans
from api.db.models import (
    Checkpoint,
    Region,
    RetestRound,
    Study,
    Trial,
    TrialCommand,
    TrialEvent,
    TrialReport,
)
from api.errors import Conflict
from caviar.states import UNFINISHED


def delete(session: Session, study: Study) -> None:
    if study.status == "running":
        raise Conflict(
            f"study {study.id} is running: cancel it first (POST /api/studies/{study.id}/cancel)",
            field="status",
        )
    busy = session.scalar(
        select(Trial.number)
        .where(Trial.study_id == study.id, Trial.state.in_(UNFINISHED))
        .order_by(Trial.number)
        .limit(1)
    )
    if busy is not None:
        raise Conflict(
            f"trial {busy} of study {study.id} is still unfinished (a re-test round or a paused "
            "trial): wait for it, or cancel the study first",
            field="status",
        )
    trials = select(Trial.id).where(Trial.study_id == study.id).scalar_subquery()
    shas = set(session.scalars(select(Checkpoint.sha256).where(Checkpoint.trial_id.in_(trials))))
    for by_trial in (Checkpoint, TrialCommand):  # children first: no cascade needed
        session.execute(sql_delete(by_trial).where(by_trial.trial_id.in_(trials)))
    for table in (TrialEvent, TrialReport, Trial, RetestRound, Region):
        session.execute(sql_delete(table).where(table.study_id == study.id))
    drop_orphans(session, shas)
    session.delete(study)
