"""Prometheus metrics of one api process.

Counted here: request latencies by route template, method and status, and how long requests
hold a study's lock (``locks``), and the process's CPU time and memory (Prometheus's standard
``process_*`` metrics). Collected from the
database and the broker when Prometheus scrapes: trials by state, trial events by kind
(requeues, resends), when each worker was last heard, and the queue depth, so every replica
reports the same fleet-wide numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from api.db.models import Trial
from api.fleet import service as fleet
from api.studies.asking import PLANS
from api.trials.events import EVENT_KINDS
from api.trials.lock_timing import LOCK_HELD
from caviar.states import TRIAL_STATES

log = logging.getLogger("caviar.metrics")


class FleetCollector(Collector):
    """Reads the database and the broker of ``state`` (the app's state) at scrape time."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        db = getattr(self.state, "db", None)
        if db is None:  # not started yet
            return
        trials = GaugeMetricFamily("caviar_trials", "Trials by state", labels=["state"])
        with db.read_session() as s:
            counts = dict(s.execute(select(Trial.state, func.count()).group_by(Trial.state)).all())
        for state in TRIAL_STATES:
            trials.add_metric([state], counts.get(state, 0))
        yield trials
        with db.read_session() as s:
            events = fleet.event_counts(s)
            workers = fleet.workers(s)
        counters = CounterMetricFamily(
            "caviar_trial_events",
            "Trial events by kind: claimed, requeued, resent (a lost message sent again), "
            "failed, paused, resumed, stopped",
            labels=["kind"],
        )
        for kind in EVENT_KINDS:
            counters.add_metric([kind], events.get(kind, 0))
        yield counters
        heard = GaugeMetricFamily(
            "caviar_worker_last_heard_timestamp_seconds",
            "When each worker process was last heard of (heartbeat, report or tell), Unix time",
            labels=["worker", "host"],
        )
        for w in workers:
            if w.last_heard is not None:
                heard.add_metric([w.worker, w.host or ""], w.last_heard.timestamp())
        yield heard
        dispatcher = getattr(self.state, "dispatcher", None)
        depth = dispatcher.queue_depth() if dispatcher is not None else None
        if depth is not None:
            queue = GaugeMetricFamily(
                "caviar_queue_depth", "Trial messages waiting in the broker", labels=["queue"]
            )
            queue.add_metric([getattr(dispatcher.sender, "queue", "")], depth)
            yield queue


class ApiMetrics:
    """The registry that ``/metrics`` serves, with the request histogram."""

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "caviar_http_request_duration_seconds",
            "Time to answer a request, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.registry.register(LOCK_HELD)
        self.registry.register(PLANS)
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total and its kin
        self.registry.register(FleetCollector(state))
