"""The reconciler: requeues trials whose heartbeat stopped, resends lost messages.

Safe to run in every api replica at once: each change is a conditional UPDATE that reports
whether it won, so two replicas never requeue the same attempt twice.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from api.db.clock import db_now, seconds_since
from api.db.models import Study, Trial
from api.db.session import Database
from api.services.dispatch import Dispatcher
from api.services.scheduling import lock, top_up
from api.services.study_config import config_of

log = logging.getLogger("caviar.reconciler")


@dataclass
class Pass:
    requeued: int = 0
    failed: int = 0
    resent: int = 0


def reap_silent(db: Database, dispatcher: Dispatcher) -> Pass:
    """Running trials silent for longer than their study's grace: back to the queue with the
    next attempt, or failed once ``max_attempts`` is spent."""
    out = Pass()
    with db.read_session() as s:
        silent = s.execute(
            select(Trial.id, Trial.attempt, Trial.study_id, Study.heartbeat_grace)
            .join(Study, Study.id == Trial.study_id)
            .where(
                Trial.state == "running",
                Study.heartbeat_grace.is_not(None),
                seconds_since(Trial.heartbeat_at) > Study.heartbeat_grace,
            )
        ).all()
    for trial_id, attempt, study_id, grace in silent:
        to_send: list[Trial] = []
        with db.session() as s:
            study = lock(s, study_id)
            config = config_of(study)
            exhausted = attempt >= config.max_attempts
            values: dict[str, object] = (
                {
                    "state": "failed",
                    "finished_at": db_now(),
                    "error": f"no heartbeat for {grace:g} s on attempt {attempt} of "
                    f"{config.max_attempts}",
                }
                if exhausted
                else {
                    "state": "queued",
                    "attempt": attempt + 1,
                    "heartbeat_at": None,
                    "started_at": None,
                    "dispatched_at": db_now(),
                    "dispatch_count": 0,
                }
            )
            won = s.execute(
                update(Trial)
                .where(Trial.id == trial_id, Trial.attempt == attempt, Trial.state == "running")
                .values(**values)
            ).rowcount
            if won:
                if exhausted:
                    out.failed += 1
                    to_send = top_up(s, study, config)
                else:
                    out.requeued += 1
                    if config.objective.kind != "external":
                        to_send = [s.get_one(Trial, trial_id)]
            s.commit()
        dispatcher.dispatch(to_send)
    return out


def resend_lost(db: Database, dispatcher: Dispatcher, after: float) -> int:
    """Queued trials of worker-run studies whose message never started: send again.

    The wait doubles with each send, so a long queue is not flooded with duplicates; a
    duplicate is harmless, since starting a trial is a claim that only one message wins.
    """
    with db.read_session() as s:
        rows = s.execute(
            select(Trial, seconds_since(Trial.dispatched_at))
            .join(Study, Study.id == Trial.study_id)
            .where(
                Trial.state == "queued",
                or_(Study.status == "running", Trial.retest_round_id.is_not(None)),
                Study.heartbeat_grace.is_not(None),
            )
        ).all()
    due = [
        t
        for t, age in rows
        if t.dispatched_at is None or age > after * 2 ** max(t.dispatch_count - 1, 0)
    ]
    dispatcher.dispatch(due)
    return len(due)


class Reconciler:
    """Runs a reconcile pass every ``interval`` seconds in a daemon thread."""

    def __init__(self, db: Database, dispatcher: Dispatcher, interval: float, after: float):
        self.db, self.dispatcher, self.interval, self.after = db, dispatcher, interval, after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caviar-reconciler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self) -> Pass:
        result = reap_silent(self.db, self.dispatcher)
        result.resent = resend_lost(self.db, self.dispatcher, self.after)
        return result

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = self.run_once()
                if result.requeued or result.failed or result.resent:
                    log.info("reconciled: %s", result)
            except Exception:
                log.exception("reconcile pass failed; retrying next interval")
