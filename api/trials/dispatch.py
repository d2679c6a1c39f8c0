"""Sending trials to the worker fleet through Celery, after their rows are committed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Protocol

from celery import Celery
from kombu.exceptions import ChannelError
from sqlalchemy import update

from api.db.clock import db_now
from api.db.models import RetestRound, Study, Trial
from api.db.session import Database
from caviar.broker import celery_broker_conf
from caviar.schemas import TrialDispatch

log = logging.getLogger("caviar.dispatch")
TASK_NAME = "caviar.run_trial"


class Sender(Protocol):
    """Publishes trial messages. A sender may also offer ``queue_depth() -> int | None``
    (messages waiting in the trial queue, None when the broker cannot say): the reconciler
    uses it to find lost messages quickly."""

    def send(self, message: TrialDispatch) -> None: ...


class CelerySender:
    """Publishes ``caviar.run_trial`` by name: the api never imports the worker's code."""

    def __init__(self, broker_url: str, queue: str, visibility_timeout: int) -> None:
        self.app = Celery("caviar-api", set_as_current=False)
        self.app.conf.update(
            broker_connection_retry_on_startup=True,
            task_send_sent_event=True,  # Flower shows a trial from the moment it is sent
            **celery_broker_conf(broker_url, visibility_timeout),
        )
        self.queue = queue
        self._lock = threading.Lock()

    def send(self, message: TrialDispatch) -> None:
        with self._lock:
            self.app.send_task(
                TASK_NAME,
                kwargs=message.model_dump(mode="json"),
                queue=self.queue,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
            )

    def queue_depth(self) -> int | None:
        """Messages waiting in the queue (not those a worker holds); None if unreachable."""
        try:
            with self._lock, self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
                try:
                    ok = conn.default_channel.queue_declare(queue=self.queue, passive=True)
                except ChannelError:  # Redis drops an empty queue's key: nothing waits
                    return 0
                return int(ok.message_count)
        except Exception:
            log.warning("could not measure the depth of queue %s", self.queue, exc_info=True)
            return None


def message_for(trial: Trial, study: Study, dataset: str | None = None) -> TrialDispatch:
    """``dataset`` ("name@version") replaces a train objective's data (a re-test round's)."""
    objective = dict(study.config["objective"])
    if dataset is not None:
        objective["dataset"] = dataset
    return TrialDispatch(
        trial_id=trial.id,
        attempt=trial.attempt,
        params=trial.params,
        objective=objective,
        seed=(study.seed * 1_000_003 + trial.number) % 2**63,
        heartbeat_every=min(5.0, (study.heartbeat_grace or 20.0) / 4),
        resume=trial.attempt > 1 or trial.parent_id is not None,
    )


class Dispatcher:
    """Sends committed queued trials and counts the sends; a failed send is left to the
    reconciler (its ``dispatched_at`` is cleared)."""

    def __init__(self, db: Database, sender: Sender) -> None:
        self.db = db
        self.sender = sender

    def dispatch(self, trials: Iterable[Trial]) -> None:
        trials = list(trials)
        if not trials:
            return
        sent: list[int] = []
        unsent: list[int] = []
        with self.db.read_session() as s:
            studies = {t.study_id: s.get(Study, t.study_id) for t in trials}
            rounds = {
                t.retest_round_id: s.get(RetestRound, t.retest_round_id)
                for t in trials
                if t.retest_round_id is not None
            }
        for trial in trials:
            study = studies[trial.study_id]
            assert study is not None
            if study.config["objective"]["kind"] == "external":
                continue  # its clients ask for it; a worker could not run it
            try:
                rnd = rounds.get(trial.retest_round_id)
                self.sender.send(message_for(trial, study, rnd.dataset if rnd else None))
                sent.append(trial.id)
            except Exception:
                unsent.append(trial.id)
                log.exception("could not send trial %s; the reconciler will retry", trial.id)
        with self.db.session() as s:
            if sent:
                s.execute(
                    update(Trial)
                    .where(Trial.id.in_(sent))
                    .values(dispatched_at=db_now(), dispatch_count=Trial.dispatch_count + 1)
                )
            if unsent:  # due for the reconciler's next pass
                s.execute(update(Trial).where(Trial.id.in_(unsent)).values(dispatched_at=None))
            s.commit()

    def queue_depth(self) -> int | None:
        """The broker's count of waiting trial messages, when the sender can measure it."""
        measure = getattr(self.sender, "queue_depth", None)
        return measure() if measure is not None else None
