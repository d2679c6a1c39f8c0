"""Deleting a study (renaming is a PATCH: see ``retest_schedule.update``).

- ``delete`` removes a study with its regions, re-test rounds, trials and reports. A study
  whose trials may still run (status ``running``) is refused with 409 naming ``status``:
  cancel it first.
"""

from __future__ import annotations

from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from api.db.models import Region, RetestRound, Study, Trial, TrialReport
from api.errors import Conflict


def delete(session: Session, study: Study) -> None:
    if study.status == "running":
        raise Conflict(
            f"study {study.id} is running: cancel it first (POST /api/studies/{study.id}/cancel)",
            field="status",
        )
    for table in (TrialReport, Trial, RetestRound, Region):  # children first: no cascade needed
        session.execute(sql_delete(table).where(table.study_id == study.id))
    session.delete(study)
