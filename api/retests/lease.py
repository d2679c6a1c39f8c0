"""The re-test scheduler: one api process at a time closes finished rounds and fires due ones.

Every api process runs this loop; a lease row decides which one acts. Taking or renewing the
lease is a conditional UPDATE judged by the database's clock (the holder renews it, anyone takes
it once it is ``ttl`` seconds old). Firing a round is itself guarded under the study's row lock
(due on the database clock, no unfinished round), so even two holders could not fire one twice.
A study whose rounds were missed while every api was down is simply due: it gets one round,
and its next one is ``every`` after that.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.clock import db_now, seconds_since
from api.db.models import SchedulerLease, Study, Trial
from api.db.session import Database
from api.errors import Conflict
from api.retests import rounds as retest_rounds
from api.studies.retest_schedule import completed_search_trials, next_due
from api.trials.dispatch import Dispatcher
from api.trials.study import config_of, lock

log = logging.getLogger("caviar.retest")
LEASE = "retest"


def hold_lease(db: Database, holder: str, ttl: float) -> bool:
    """Take or renew the scheduler lease; True when ``holder`` has it now."""
    with db.session() as s:
        won = s.execute(
            update(SchedulerLease)
            .where(
                SchedulerLease.name == LEASE,
                or_(
                    SchedulerLease.holder == holder, seconds_since(SchedulerLease.renewed_at) > ttl
                ),
            )
            .values(holder=holder, renewed_at=db_now())
        ).rowcount
        if not won and s.get(SchedulerLease, LEASE) is None:
            try:
                s.execute(
                    insert(SchedulerLease).values(name=LEASE, holder=holder, renewed_at=db_now())
                )
                won = 1
            except IntegrityError:
                s.rollback()
                return False
        s.commit()
        return bool(won)


def close_rounds(db: Database) -> int:
    with db.read_session() as s:
        ids = retest_rounds.finishable(s)
    closed = 0
    for round_id in ids:
        with db.session() as s:
            closed += retest_rounds.close(s, round_id)
            s.commit()
    return closed


def _fire(s: Session, study_id: int) -> list[Trial]:
    """Fire one due study's round; returns its trials to dispatch."""
    study = lock(s, study_id)
    due = s.scalar(
        select(Study.id).where(
            Study.id == study_id,
            Study.retest_next_at.is_not(None),
            seconds_since(Study.retest_next_at) >= 0,
        )
    )
    if due is None or retest_rounds.running_round(s, study_id) is not None:
        return []  # not due (another process fired it), or the previous round still runs
    if study.status == "cancelled":
        study.retest_next_at = None  # a cancelled study is not re-tested
        return []
    study.retest_next_at = next_due(s, config_of(study).retest)
    if completed_search_trials(s, study_id) == 0:
        return []  # nothing to re-test yet: try again at the next due time
    try:
        _, trials = retest_rounds.start(s, study_id, "schedule")
    except Conflict:
        return []
    return trials


def fire_due(db: Database, dispatcher: Dispatcher) -> int:
    """Start a round in every study whose schedule is due; returns how many started."""
    with db.read_session() as s:
        ids = list(
            s.scalars(
                select(Study.id).where(
                    Study.retest_next_at.is_not(None), seconds_since(Study.retest_next_at) >= 0
                )
            )
        )
    fired = 0
    for study_id in ids:
        with db.session() as s:
            before = retest_rounds.running_round(s, study_id)
            trials = _fire(s, study_id)
            started = before is None and retest_rounds.running_round(s, study_id) is not None
            s.commit()
        fired += started
        dispatcher.dispatch(trials)
    return fired


class RetestScheduler:
    """Runs a scheduler pass every ``interval`` seconds in a daemon thread of each api."""

    def __init__(self, db: Database, dispatcher: Dispatcher, interval: float) -> None:
        self.db, self.dispatcher, self.interval = db, dispatcher, interval
        self.ttl = max(3.0, 5 * interval)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caviar-retest", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self) -> tuple[int, int]:
        """(rounds closed, rounds fired) by this process; (0, 0) without the lease."""
        if not hold_lease(self.db, self.holder, self.ttl):
            return 0, 0
        return close_rounds(self.db), fire_due(self.db, self.dispatcher)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                closed, fired = self.run_once()
                if closed or fired:
                    log.info("re-tests: %d rounds closed, %d fired", closed, fired)
            except Exception:
                log.exception("re-test pass failed; retrying next interval")
