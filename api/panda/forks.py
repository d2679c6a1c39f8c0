"""Forks: a new trial of the same study continuing from another trial's checkpoint with edited
live hyperparameters. A fork is a person's decision: it takes the next trial number but no place
among ``max_trials``, and the study is not finished while it runs.

The fork trains at exactly the params it records: its edits reach its trainer as ``set``
commands waiting for its first mini-batch, so they win over the live values that the parent's
checkpoint carries (a ``set`` the parent applied), even where an edit restores the parent's
original value.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.clock import db_now
from api.db.models import Trial, TrialCommand, TrialReport
from api.errors import Conflict
from api.panda import checkpoints as checkpoint_service
from api.panda.commands import check_live
from api.trials import lifecycle
from api.trials.service import curve, get
from api.trials.study import lock
from caviar.schemas import ForkCreate


def fork(session: Session, trial_id: int, body: ForkCreate) -> Trial:
    """Create the queued child of ``trial_id`` (dispatch it after commit). 404 when the parent
    has no checkpoint at or before ``step``; 409 when its study is cancelled.

    Locks in the trial life's order: the study, then the parent's row (so the parent's own
    checkpoint writes, which prune its old checkpoints, wait), then the checkpoint's blob."""
    parent = get(session, trial_id)
    check_live(body.params)
    study = lock(session, parent.study_id)
    if study.status == "cancelled":
        raise Conflict(f"study {study.id} is cancelled", field="status")
    session.execute(select(Trial.id).where(Trial.id == trial_id).with_for_update(key_share=True))
    checkpoint = checkpoint_service.latest(session, trial_id, body.step)
    study.status = "running"  # a completed study runs again while its fork does
    (child,) = lifecycle.create(
        session,
        study,
        [
            lifecycle.NewTrial(
                params={**parent.params, **body.params},
                stage=parent.stage,
                region_id=parent.region_id,
                kind="fork",
                parent_id=parent.id,
                forked_at_step=checkpoint.step,
                note=body.note,
            )
        ],
    )
    checkpoint_service.copy_to(session, checkpoint, child.id, attempt=1)
    if body.params:
        session.add(
            TrialCommand(
                created_at=db_now(),
                trial_id=child.id,
                action="set",
                params=body.params,
                note=f"the edits of the fork of trial {parent.id}",
                author=None,
                state="pending",
            )
        )
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
