"""The worker fleet's Celery app.

acks_late with prefetch 1: a message is acknowledged only when its trial is done, so a worker
that dies mid-trial leaves the message to be delivered again (and the claim on /start fences
the duplicate). Time limits sit below the broker's visibility timeout.
"""

from __future__ import annotations

import signal

from celery import Celery
from celery.signals import worker_process_init
from kombu import Queue

from caviar.broker import celery_broker_conf
from caviar.settings import Settings

settings = Settings()

app = Celery("caviar", include=["worker.tasks"])
app.conf.update(
    **celery_broker_conf(settings.resolved_broker_url, settings.task_time_limit + 600),
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_queues=[Queue(settings.trial_queue)],
    task_default_queue=settings.trial_queue,
    task_create_missing_queues=False,
    task_soft_time_limit=settings.task_soft_time_limit,
    task_time_limit=settings.task_time_limit,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    # Task events (received, started, succeeded, failed) go to the broker, so Flower shows the
    # fleet: `caviar flower` with the same CAVIAR_BROKER_URL (Redis or RabbitMQ: the SQL
    # broker carries no events).
    worker_send_task_events=True,
    # Celery 6 changes this default to True. A running trial is fenced by its claim and its
    # heartbeats, not by its broker message: it keeps training through a broker blip and
    # tells the api when done; cancelling it would throw the work away for nothing.
    worker_cancel_long_running_tasks_on_connection_loss=False,
)
if app.conf.broker_transport == "caviar.broker:SQLTransport":
    # The same broker, consumed with short waits, so that a worker stops at once when told.
    app.conf.broker_transport = "worker.transport:SQLTransport"


@worker_process_init.connect
def _leave_quit_to_the_main_process(**_: object) -> None:
    """A pool process ignores SIGQUIT, as Celery has it ignore SIGINT. Ctrl+\\ in a terminal
    (or a signal sent to the whole process group) reaches every process at once; a pool process
    that died of it while holding the pool's queue lock left the main process waiting for that
    lock at exit, forever. The main process's cold shutdown stops its pool itself."""
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)
