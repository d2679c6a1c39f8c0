"""A fleet under fault: single-process workers that can be killed and replaced, and the trial
events the api logged. Shared by the fault tests and ``bench/bench_faults.py``."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import sqlalchemy as sa

from tests.services import Backend, Process, worker_process

QUICK_EPOCH = {"hidden_units": 32, "batch_size": 32}  # a fraction of a second on digits


class Fleet:
    """Single-process workers, each replaceable by a fresh one; all stopped at the end."""

    def __init__(self, be: Backend, url: str, stack: ExitStack) -> None:
        self.be, self.url, self.stack = be, url, stack
        self.workers: list[Process] = []

    def add(self) -> Process:
        worker = self.stack.enter_context(worker_process(self.be, self.url, concurrency=1))
        self.workers.append(worker)
        return worker

    def training(self) -> Process | None:
        """A worker whose latest api call started a trial or reported its epochs (at most every
        0.5 s, in batches): busy training a trial."""
        for w in self.workers:
            calls = [line for line in w.output().splitlines() if "HTTP Request" in line]
            busy = calls and ("/reports" in calls[-1] or "/start " in calls[-1])
            if busy and w.proc.poll() is None:
                return w
        return None

    def replace(self, worker: Process) -> None:
        """Kills ``worker`` (SIGKILL: no goodbye to the api) and starts a fresh one."""
        worker.stop(signal.SIGKILL)
        self.workers.remove(worker)
        self.add()


@contextmanager
def fleet_of(be: Backend, url: str, count: int) -> Iterator[Fleet]:
    with ExitStack() as stack:
        fleet = Fleet(be, url, stack)
        for _ in range(count):
            fleet.add()
        yield fleet


def events(db: sa.Engine, study_id: int) -> list[tuple[int, int, str, str]]:
    """The study's trial events in order: (trial_id, attempt, kind, reason)."""
    with db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT trial_id, attempt, kind, reason FROM trial_events "
                "WHERE study_id = :s ORDER BY id"
            ),
            {"s": study_id},
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]
