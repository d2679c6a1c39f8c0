"""The reconciler: requeues trials whose heartbeat stopped, resends lost messages.

Safe to run in every api replica at once: each change is a conditional UPDATE that reports
whether it won, so two replicas never requeue the same attempt twice. Requeues, failures and
resends are recorded as trial events (``trial_events``) with their reasons.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, update

from api.db.clock import db_now, seconds_since
from api.db.models import Study, Trial, TrialEvent
from api.db.session import Database
from api.panda.commands import close_pending, reopen_unsaved
from api.studies.scheduling import lock, top_up
from api.trials import events, fence
from api.trials.dispatch import Dispatcher
from api.trials.study import config_of

log = logging.getLogger("caviar.reconciler")


@dataclass
class Pass:
    requeued: int = 0
    failed: int = 0
    resent: int = 0


def reap_silent(db: Database, dispatcher: Dispatcher) -> Pass:
    """Running trials silent for longer than their study's grace: back to the queue with the
    next attempt, or failed once ``max_attempts`` is spent.

    The UPDATE re-checks the silence on the database's clock, so a heartbeat that lands
    between the read and the write keeps its attempt: a live worker is never fenced off.
    Only worker-run trials are sent to Celery; an external one waits for ``ask``.
    """
    out = Pass()
    with db.read_session() as s:
        silent = s.execute(
            select(Trial.id, Trial.attempt, Trial.study_id, Trial.worker, Study.heartbeat_grace)
            .join(Study, Study.id == Trial.study_id)
            .where(
                Trial.state == "running",
                Study.heartbeat_grace.is_not(None),
                seconds_since(Trial.heartbeat_at) > Study.heartbeat_grace,
            )
        ).all()
    for trial_id, attempt, study_id, worker, grace in silent:
        to_send: list[Trial] = []
        with db.session() as s:
            study = lock(s, study_id)
            config = config_of(study)
            # Attempts lost to silence so far (a pause → resume takes an attempt, not a try).
            silent_before = s.scalar(
                select(func.count()).where(
                    TrialEvent.trial_id == trial_id, TrialEvent.kind == "requeued"
                )
            )
            tries = (silent_before or 0) + 1
            exhausted = tries >= config.max_attempts
            reason = (
                f"no heartbeat for {grace:g} s on attempt {attempt} "
                f"(silent {tries} of {config.max_attempts} tries)"
            )
            values: dict[str, object] = (
                {"state": "failed", "finished_at": db_now(), "error": reason}
                if exhausted
                else fence.next_attempt(attempt)
            )
            won = s.execute(
                update(Trial)
                .where(
                    Trial.id == trial_id,
                    Trial.attempt == attempt,
                    Trial.state == "running",
                    seconds_since(Trial.heartbeat_at) > grace,
                )
                .values(**values)
            ).rowcount
            if won:
                kind = "failed" if exhausted else "requeued"
                events.record(
                    s,
                    trial_id=trial_id,
                    study_id=study_id,
                    attempt=attempt,
                    kind=kind,
                    reason=reason,
                    worker=worker,
                )
                if exhausted:
                    out.failed += 1
                    close_pending(s, trial_id, f"the trial failed first: {reason}")
                    to_send = top_up(s, study, config)
                else:
                    out.requeued += 1
                    reopen_unsaved(s, trial_id)
                    if config.objective.kind != "external":
                        to_send = [s.get_one(Trial, trial_id)]
            s.commit()
        dispatcher.dispatch(to_send)
    return out


@dataclass
class LostMessages:
    """Finds queued trials whose broker message is gone, and sends them again.

    The design. Every queued trial of a running worker-run study was dispatched: its message
    waits in the broker queue, or a worker holds it on its way to ``/start``. So the broker's
    queue depth (a passive ``queue_declare``'s ``message_count``, for Redis and the SQL
    transport alike) should be at least the number of those trials. When it is lower — a Redis
    restarted empty, a lost publish — the difference is how many messages are missing. A
    shortfall is believed only when two consecutive passes see it (a worker holding a message
    for a moment makes a brief one), and then that many trials are sent again, those sent
    longest ago first. Trials merely waiting their turn have their messages counted in the
    depth, so they are never resent. A duplicate is harmless: starting a trial is a claim
    that only one message wins.

    When the depth cannot be measured, and for a shortfall hidden by stale duplicates in the
    queue, the slow path remains: a queued trial whose message has not started after
    ``after`` seconds is sent again, the wait doubling with each send.
    """

    after: float
    _shortfall: int = field(default=0)

    def run(self, db: Database, dispatcher: Dispatcher) -> int:
        with db.read_session() as s:
            rows = s.execute(
                select(Trial, Study, seconds_since(Trial.dispatched_at))
                .join(Study, Study.id == Trial.study_id)
                .where(
                    Trial.state == "queued",
                    or_(Study.status == "running", Trial.retest_round_id.is_not(None)),
                )
                .order_by(Trial.dispatched_at, Trial.id)
            ).all()
        queued = [
            (t, age) for t, study, age in rows if config_of(study).objective.kind != "external"
        ]
        unsent = [t for t, _ in queued if t.dispatched_at is None]
        sent = [(t, age) for t, age in queued if t.dispatched_at is not None]
        overdue = [t for t, age in sent if age > self.after * 2 ** max(t.dispatch_count - 1, 0)]
        missing: list[Trial] = []
        depth = dispatcher.queue_depth()
        shortfall = 0 if depth is None else max(len(sent) - depth, 0)
        if shortfall and self._shortfall:
            missing = [t for t, _ in sent][: min(shortfall, self._shortfall)]
        self._shortfall = shortfall
        why = {t.id: "its message was never sent (the broker was unreachable)" for t in unsent}
        for t in overdue:
            why[t.id] = f"its message had not started after {self.after:g} s"
        for t in missing:
            why[t.id] = (
                f"the broker queue held {depth} messages for {len(sent)} queued trials: "
                "its message was lost (a broker restart?)"
            )
        due = [t for t, _ in queued if t.id in why]
        if not due:
            return 0
        with db.session() as s:
            for t in due:
                events.record(
                    s,
                    trial_id=t.id,
                    study_id=t.study_id,
                    attempt=t.attempt,
                    kind="resent",
                    reason=why[t.id],
                )
            s.commit()
        dispatcher.dispatch(due)
        return len(due)


class Reconciler:
    """Runs a reconcile pass every ``interval`` seconds in a daemon thread."""

    def __init__(self, db: Database, dispatcher: Dispatcher, interval: float, after: float):
        self.db, self.dispatcher, self.interval = db, dispatcher, interval
        self.lost = LostMessages(after)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caviar-reconciler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self) -> Pass:
        result = reap_silent(self.db, self.dispatcher)
        result.resent = self.lost.run(self.db, self.dispatcher)
        return result

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = self.run_once()
                if result.requeued or result.failed or result.resent:
                    log.info("reconciled: %s", result)
            except Exception:
                log.exception("reconcile pass failed; retrying next interval")
