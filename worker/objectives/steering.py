"""Panda mode in the worker: a person's commands reach the trainer between mini-batches.

Commands arrive in the claim's answer, in report answers and, inside a long epoch, through a
poll of the api every :data:`POLL_EVERY` seconds. The trainer applies them before its next
mini-batch and acknowledges them before the one after (a poll), with the step whose report
first shows them.
"""

from __future__ import annotations

import time
from typing import Any

from caviar.client import Client, Conflict
from caviar.schemas import CommandPublic
from worker import heartbeat
from worker.nn import checkpoint
from worker.nn.training import Trainer

POLL_EVERY = 0.5  # seconds between polls inside an epoch


class PauseRequested(Exception):
    """A ``pause`` command reached the trainer; ``state`` is its checkpoint, taken before the
    next mini-batch, and ``step`` the number of epochs done."""

    def __init__(self, command_id: int, state: bytes, step: int) -> None:
        super().__init__(f"pause requested by command {command_id}")
        self.command_id, self.state, self.step = command_id, state, step


class Steering:
    """The trainer's ``on_batch`` hook for one attempt of one trial."""

    def __init__(self, client: Client, trial_id: int, attempt: int) -> None:
        self.client, self.trial_id, self.attempt = client, trial_id, attempt
        self._inbox: list[CommandPublic] = []
        self._seen: set[int] = set()
        self._acks: list[dict[str, Any]] = []
        self._last_poll = float("-inf")

    def receive(self, commands: list[CommandPublic]) -> None:
        """Commands from a report answer: applied before the next mini-batch."""
        self._inbox.extend(c for c in commands if c.id not in self._seen)

    def acks(self) -> list[dict[str, Any]]:
        """Acknowledgements to send; call :meth:`sent` once the api has them."""
        return list(self._acks)

    def sent(self, count: int) -> None:
        del self._acks[:count]

    def polled(self) -> None:
        """A report's answer just brought the commands: the next poll can wait."""
        self._last_poll = time.monotonic()

    def on_batch(self, trainer: Trainer) -> None:
        heartbeat.check()  # a refused heartbeat fenced this attempt off: stop here
        # Poll every POLL_EVERY seconds, and right after applying commands to acknowledge them.
        if self._acks or time.monotonic() - self._last_poll >= POLL_EVERY:
            acks = self.acks()
            answer = self.client.poll(self.trial_id, self.attempt, acks)
            self.sent(len(acks))
            self._last_poll = time.monotonic()
            if answer.state != "running" or answer.attempt != self.attempt:
                raise Conflict(
                    409,
                    {
                        "detail": f"trial {self.trial_id} is {answer.state} at attempt "
                        f"{answer.attempt}; attempt {self.attempt} stops",
                        "field": "state",
                    },
                )
            self.receive(answer.commands)
        inbox, self._inbox = self._inbox, []
        for command in inbox:
            if command.id in self._seen:
                continue
            self._seen.add(command.id)
            self._apply(command, trainer)

    def _apply(self, command: CommandPublic, trainer: Trainer) -> None:
        step = trainer.epochs_done + 1  # the first report that shows the change
        if command.action == "set":
            try:
                trainer.apply_overrides(command.params)
            except ValueError as exc:
                self._acks.append({"id": command.id, "step": step, "error": str(exc)})
            else:
                self._acks.append({"id": command.id, "step": step})
        elif command.action == "pause":
            state = checkpoint.dumps(trainer.state())
            raise PauseRequested(command.id, state, trainer.epochs_done)
