"""Concurrent asks of one study in one api process, served as one batch at a time.

Contract: ``Batches.run(key, count, serve)`` returns the caller's share of one ``serve`` call.
Callers that arrive while a batch of the same key is being served wait, and the oldest of them
then serves all the waiting ones together, in its own thread with its own ``serve`` (so with its
own request's database sessions): ``serve(counts)`` gets each ticket's count, in arrival order,
and returns one result per ticket. An exception from ``serve`` is raised in every caller of
that batch. Nothing is kept once a batch has answered: a crash loses no more than the requests
in flight.

Why: an ask of a model-based strategy costs most in its suggestions, which are computed from a
snapshot of the study without its lock and written only if no trial or region was created
since (``scheduling.plan_holds``). Asks computing side by side from the same snapshot would all
but one fail that check; one batch computes the suggestions of all of them at once (batch-aware,
the model fitted once) and writes them in one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

#: Trials one batch asks for at most; later tickets wait for the next batch.
MAX_BATCH = 64


@dataclass(eq=False)
class _Ticket(Generic[T]):
    count: int
    serve: Callable[[list[int]], list[T]]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    result: T | None = None
    error: BaseException | None = None


@dataclass
class _Queue(Generic[T]):
    waiting: list[_Ticket[T]] = field(default_factory=list)


class Batches(Generic[T]):
    """Per-key queues of waiting tickets; at most one batch per key is served at a time."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self._queues: dict[Hashable, _Queue[T]] = {}
        self._lock = threading.Lock()
        self._max = max_batch

    def run(self, key: Hashable, count: int, serve: Callable[[list[int]], list[T]]) -> T:
        """The caller's result of the batch it joined (see the module docstring)."""
        ticket: _Ticket[T] = _Ticket(count, serve)
        with self._lock:
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = _Queue()
                ticket.lead = True
            queue.waiting.append(ticket)
        if not ticket.lead:
            ticket.done.wait()
        if ticket.lead:  # first in, or handed the lead by the batch before
            self._serve(key, ticket)
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _serve(self, key: Hashable, me: _Ticket[T]) -> None:
        with self._lock:
            queue = self._queues[key]
            batch, total = [], 0
            for t in queue.waiting:  # ``me`` is the oldest waiting ticket
                if batch and total + t.count > self._max:
                    break
                batch.append(t)
                total += t.count
            del queue.waiting[: len(batch)]
        try:
            results = me.serve([t.count for t in batch])
            if len(results) != len(batch):
                raise RuntimeError("serve returned a result count unlike its tickets'")
            for t, r in zip(batch, results, strict=True):
                t.result = r
        except BaseException as exc:
            for t in batch:
                t.error = exc
        finally:
            with self._lock:
                successor = queue.waiting[0] if queue.waiting else None
                if successor is None:
                    del self._queues[key]
                else:
                    successor.lead = True
            for t in batch:
                if t is not me:
                    t.done.set()
            if successor is not None:
                successor.done.set()

    def waiting(self, key: Hashable) -> int:
        """Tickets of ``key`` waiting for a batch (tests)."""
        with self._lock:
            queue = self._queues.get(key)
            return len(queue.waiting) if queue else 0
