"""Reports and checkpoints of a ``train`` attempt, sent by time rather than by epoch.

A digits trial trains 20 epochs in a tenth of a second; one request per epoch, and a
checkpoint every 5 epochs, cost the service more than the training. So the worker buffers its
epochs' reports and sends them in one ``/reports/batch`` request at most every
:data:`FLUSH_EVERY` seconds, before every checkpoint and at the end; the api judges each step
as if it came alone, so a pruned trial stops at most that long after its prune point. Panda
mode's polls still run every half second inside an epoch, so commands and fencing are as quick
as before.

Checkpoints: an objective's explicit ``checkpoint_every`` is kept exactly. Without it, a
checkpoint is due every :data:`DEFAULT_EVERY` epochs but no sooner than
``CAVIAR_CHECKPOINT_SECONDS`` after the attempt's previous one (or its start), and always at
the end: a killed worker still loses at most one interval, and a tiny run writes one
checkpoint instead of four.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from caviar.client import CaviarError, Client
from caviar.schemas import ReportAnswer
from worker.objectives.base import Pruned
from worker.objectives.steering import Steering

log = logging.getLogger("caviar.worker")

FLUSH_EVERY = 0.5  # seconds between two report requests of one attempt, at most
DEFAULT_EVERY = 5  # epochs between checkpoints when the objective does not say


class CheckpointClock:
    """Says after which epochs a checkpoint is due."""

    def __init__(self, every: int | None, min_seconds: float) -> None:
        self.every = DEFAULT_EVERY if every is None else every
        self.min_seconds = min_seconds if every is None else 0.0
        self._last = time.monotonic()

    def due(self, epoch: int, last_epoch: int) -> bool:
        if epoch >= last_epoch:
            return True
        if not self.every or epoch % self.every:
            return False
        return time.monotonic() - self._last >= self.min_seconds

    def written(self) -> None:
        self._last = time.monotonic()


class Reports:
    """The buffered reports of one attempt. :meth:`flush` sends them with the steering's
    acknowledgements, hands the answer's commands to it, and raises :class:`Pruned`."""

    def __init__(
        self, client: Client, trial_id: int, attempt: int, steering: Steering, every: float
    ) -> None:
        self.client, self.trial_id, self.attempt = client, trial_id, attempt
        self.steering, self.every = steering, every
        self._buffer: list[dict[str, Any]] = []
        self._last = time.monotonic()
        self._batch = True  # False once an older api proved not to have /reports/batch

    def add(self, step: int, value: float, metrics: dict[str, float]) -> None:
        self._buffer.append({"step": step, "value": value, "metrics": metrics})

    def due(self) -> bool:
        return bool(self._buffer) and time.monotonic() - self._last >= self.every

    def flush(self) -> None:
        if not self._buffer:
            return
        acks = self.steering.acks()
        pruned_at, answer = self._send(acks)
        self._buffer.clear()
        self._last = time.monotonic()
        self.steering.sent(len(acks))
        self.steering.polled()
        if answer.prune:
            raise Pruned(pruned_at, answer.reason)
        self.steering.receive(answer.commands)

    def _send(self, acks: list[dict[str, Any]]) -> tuple[float | None, ReportAnswer]:
        """Send the buffer; the value the trial was pruned at (if it was), and the answer."""
        if self._batch:
            try:
                batch = self.client.report_batch(self.trial_id, self.attempt, self._buffer, acks)
            except CaviarError as exc:
                if not _no_such_route(exc):
                    raise
                log.info("the api has no /reports/batch; reporting epoch by epoch")
                self._batch = False
            else:
                values = {r["step"]: r["value"] for r in self._buffer}
                return values.get(batch.step) if batch.step is not None else None, batch
        answer = ReportAnswer(prune=False)
        for i, r in enumerate(self._buffer):
            answer = self.client.report(
                self.trial_id, self.attempt, applied=acks if i == 0 else [], **r
            )
            if answer.prune:
                return r["value"], answer
        return None, answer


def _no_such_route(exc: CaviarError) -> bool:
    """A 404 or 405 from the router itself (an api older than the batch route), not from a
    route that knows no such trial."""
    detail = exc.detail.get("detail") if isinstance(exc.detail, dict) else exc.detail
    return exc.status in (404, 405) and detail in ("Not Found", "Method Not Allowed")
