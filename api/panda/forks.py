"""Forks: a new trial of the same study continuing from another trial's checkpoint with edited
live hyperparameters. A fork is a person's decision: it takes the next trial number but no place
among ``max_trials``, and the study is not finished while it runs."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import Trial, TrialReport
from api.errors import Conflict
from api.panda import checkpoints as checkpoint_service
from api.panda.commands import check_live
from api.studies.scheduling import lock
from api.trials.service import curve, get
from caviar.schemas import ForkCreate


def fork(session: Session, trial_id: int, body: ForkCreate) -> Trial:
    """Create the queued child of ``trial_id`` (dispatch it after commit). 404 when the parent
    has no checkpoint at or before ``step``; 409 when its study is cancelled."""
    parent = get(session, trial_id)
    check_live(body.params)
    study = lock(session, parent.study_id)
    if study.status == "cancelled":
        raise Conflict(f"study {study.id} is cancelled", field="status")
    checkpoint = checkpoint_service.latest(session, trial_id, body.step)
    number = study.trial_count
    study.trial_count += 1
    study.fork_count += 1
    study.status = "running"  # a completed study runs again while its fork does
    child = session.scalars(
        insert(Trial)
        .values(
            study_id=study.id,
            number=number,
            params={**parent.params, **body.params},
            state="queued",
            attempt=1,
            stage=parent.stage,
            region_id=parent.region_id,
            dispatch_count=0,
            dispatched_at=db_now(),
            parent_id=parent.id,
            forked_at_step=checkpoint.step,
            steered=True,
        )
        .returning(Trial)
    ).one()
    checkpoint_service.copy_to(session, checkpoint, child.id, attempt=1)
    start = next((r for r in curve(session, parent.id) if r.step == checkpoint.step), None)
    if start is not None:  # the child's curve starts from the parent's value at the fork
        session.add(
            TrialReport(
                trial_id=child.id,
                attempt=1,
                step=start.step,
                study_id=study.id,
                value=start.value,
                metrics=start.metrics,
            )
        )
    session.flush()
    return child
