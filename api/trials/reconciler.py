"""The reconciler: requeues trials whose heartbeat stopped, resends lost messages.

Safe to run in every api replica at once: each change is a conditional UPDATE that reports
whether it won, so two replicas never requeue the same attempt twice. Requeues, failures and
resends are recorded as trial events (``trial_events``) with their reasons.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select

from api.db.clock import seconds_since
from api.db.models import Study, Trial, TrialEvent
from api.db.session import Database
from api.fleet import liveness
from api.trials import hooks, lifecycle
from api.trials.dispatch import Dispatcher
from api.trials.study import config_of, lock

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
            won = lifecycle.requeue_silent(
                s, trial_id, attempt, grace, last_try=exhausted, reason=reason, worker=worker
            )
            if won and exhausted:
                out.failed += 1
                to_send = hooks.refill(s, study)
            elif won:
                out.requeued += 1
                if config.objective.kind != "external":
                    to_send = [s.get_one(Trial, trial_id)]
            s.commit()
        dispatcher.dispatch(to_send)
    return out


def _went_offline(offline: list[liveness.Heard], age: float) -> str:
    """What explains the resend of a message sent ``age`` seconds ago: the workers, online when
    it was sent, that went offline since (a worker that stops keeps the message it took)."""
    gone = [w.worker for w in offline if w.silent_for <= age + w.window]
    if not gone:
        return "; no worker went offline since it was sent"
    names = ", ".join(gone[:3]) + (f" and {len(gone) - 3} more" if len(gone) > 3 else "")
    holder = "likely holding it" if len(gone) == 1 else "one of them likely holding it"
    return f"; {names} went offline since it was sent, {holder}"


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

    When the depth cannot be measured, the slow path remains: a queued trial whose message has
    not started after ``after`` seconds is sent again, the wait doubling with each send. While
    it can be, a trial that merely waits its turn is never resent, however long it waits (a
    shortfall hidden by stale duplicates shows once workers have drained them).
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
                    Study.status != "cancelled",
                    or_(Study.status == "running", Trial.retest_round_id.is_not(None)),
                )
                .order_by(Trial.dispatched_at, Trial.id)
            ).all()
        queued = [
            (t, age) for t, study, age in rows if config_of(study).objective.kind != "external"
        ]
        unsent = [t for t, _ in queued if t.dispatched_at is None]
        sent = [(t, age) for t, age in queued if t.dispatched_at is not None]
        missing: list[Trial] = []
        depth = dispatcher.queue_depth()
        # Waiting is not lost: while the depth is measured, only a shortfall resends.
        overdue = [
            t
            for t, age in sent
            if depth is None and age > self.after * 2 ** max(t.dispatch_count - 1, 0)
        ]
        shortfall = 0 if depth is None else max(len(sent) - depth, 0)
        if shortfall and self._shortfall:
            missing = [t for t, _ in sent][: min(shortfall, self._shortfall)]
        self._shortfall = shortfall
        why = {t.id: "its message was never sent (the broker was unreachable)" for t in unsent}
        for t in overdue:
            wait = self.after * 2 ** max(t.dispatch_count - 1, 0)
            why[t.id] = f"its message was not delivered in {wait:g} s"
        for t in missing:
            why[t.id] = (
                f"its message was missing: the broker queue held {depth} messages for "
                f"{len(sent)} queued trials on two passes in a row"
            )
        due = [t for t, _ in queued if t.id in why]
        if not due:
            return 0
        ages = dict(sent)
        with db.session() as s:
            offline = liveness.heard(s, offline_only=True)
            for t in overdue + missing:
                why[t.id] += _went_offline(offline, ages[t])
            lifecycle.resent(s, due, why)
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
