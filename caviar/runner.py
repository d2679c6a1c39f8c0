"""The loop helper for a training script of your own: ask, report, babysitting and tell, done.

Two ways in, after the two that users already know::

    # Optuna's study.optimize, W&B's wandb.agent: Caviar calls your function once per trial.
    client.optimize(study_id, train)          # train(trial) -> final value (or None)

    # the same, as a loop over the trials this process gets
    for trial in client.run(study_id):
        with trial:
            ...                               # train, trial.report(step, value) each epoch

Inside, a :class:`Trial` offers what Optuna's trial does and what babysitting needs:

- ``trial.params``: the trial's hyperparameters, in real units.
- ``trial.report(step, value, metrics=None)``: Optuna's ``report`` and ``should_prune`` in one
  call. When the pruner cuts the trial, the trial is told ``pruned`` and :class:`Pruned` is
  raised; when the trial is no longer this process's (a person stopped it, the study was
  cancelled, or its attempt was handed to someone else) :class:`Stopped` is raised. Raising,
  rather than answering a flag, means a script that forgets to check cannot keep training a
  trial that is over, and ``with trial:`` / ``optimize`` take both as a normal end.
- ``trial.live(name)``: the hyperparameter's current value. It starts at the trial's params
  (or, on a resumed or forked trial, at the values its checkpoint carries) and follows the
  ``set`` commands a person sends. A command is applied when the script next calls ``live``,
  ``should_pause``, ``poll`` or ``report``, and acknowledged with the step of the first report
  after that (the first that shows the change). A ``set`` of a name the script has not read
  through ``live`` by then is refused instead ("this trainer does not change l2 while
  training"), so the command log never claims a change the training ignored. A method rather
  than ``trial.learning_rate``: a misspelt name is a ``KeyError``, not a silent attribute.
- ``trial.should_pause()``: whether a person asked to pause. It asks the api itself when the
  api was last heard more than :data:`POLL_EVERY` seconds ago, so calling it every mini-batch
  is cheap and a pause reaches a long epoch within about half a second. ``trial.poll()`` asks
  now.
- ``trial.pause(state)``: stores ``state`` (your bytes: weights, optimizer, position) as the
  trial's checkpoint, with the live values, tells the api the trial paused, and raises
  :class:`Paused`. A ``resume`` queues the trial again, and ``ask`` hands it to this process or
  another one.
- ``trial.restore()``: the bytes that ``pause`` stored, on a resumed or forked trial (a fork
  starts from its parent's checkpoint); None on a fresh one. ``trial.start_step`` is the step
  they were taken at (0 on a fresh trial): continue from there.
- The end. ``trial.complete(value)`` tells the final value. Without it, a body that ends
  normally completes the trial with the value ``optimize``'s function returned, else with the
  value of its latest report; a trial with neither is failed ("ended without a value"). Under
  ``with trial:`` (and in ``optimize``) an exception fails the trial with its traceback and is
  raised again (Optuna's rule; ``optimize(..., catch=(ValueError,))`` goes on to the next
  trial instead); :class:`Pruned`, :class:`Stopped` and :class:`Paused` end the body quietly.
  A ``KeyboardInterrupt`` fails the trial too, rather than leave it running with nobody on it.
  Without ``with``, the loop still finishes a trial whose body ended normally, when it asks
  for the next one, but cannot see an exception that leaves the loop.

Heartbeats and claims are handled inside. While a trial is held, a daemon thread beats every
``heartbeat_every`` seconds (5 by default; reports and polls beat too), so a study's
``heartbeat_grace`` never takes a trial from a script in a long epoch; the beat's answer also
brings the pending commands. Every write sends the attempt's claim.

The loop ends only when the study is finished. While it runs and nothing can be handed out
(trials paused, queued for a resume elsewhere, or in flight in other processes), ``ask``
answers ``retry_after`` and the loop sleeps that long and asks again, so a trial resumed an
hour later is still picked up, and a study is never left ``running`` with nobody to run it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

import httpx

from caviar.client import CaviarError, Conflict
from caviar.schemas import CommandPublic, TrialPublic

if TYPE_CHECKING:
    from caviar.client import Client

log = logging.getLogger("caviar.runner")

#: Seconds between the api contacts that ``should_pause`` makes by itself.
POLL_EVERY = 0.5
#: Seconds between heartbeats while a trial is held.
HEARTBEAT_EVERY = 5.0
#: The first bytes of a checkpoint that ``pause`` stored: an envelope with the live values.
MAGIC = b"caviar-runner/1\n"

_MISSING: Any = object()


class TrialEnded(Exception):
    """The trial is over for this process; ``with trial:`` and ``optimize`` end it quietly."""


class Pruned(TrialEnded):
    """The pruner cut the trial at this report; it has been told ``pruned``."""


class Stopped(TrialEnded):
    """The trial is no longer this process's: a person stopped it (it is completed at its
    latest report), its study was cancelled, or its attempt was handed to someone else."""


class Paused(TrialEnded):
    """The trial paused: its checkpoint is stored, and a ``resume`` queues it again."""


def wrap(state: bytes, live: dict[str, Any]) -> bytes:
    """A checkpoint's bytes: :data:`MAGIC`, the live values as JSON, then ``state``."""
    head = json.dumps({"live": live}).encode()
    return MAGIC + len(head).to_bytes(4, "big") + head + state


def unwrap(raw: bytes) -> tuple[bytes, dict[str, Any]]:
    """``(state, live)`` of a checkpoint written by :func:`wrap`; bytes written otherwise are
    returned whole, with no live values."""
    if not raw.startswith(MAGIC):
        return raw, {}
    at = len(MAGIC)
    size = int.from_bytes(raw[at : at + 4], "big")
    head = json.loads(raw[at + 4 : at + 4 + size])
    return raw[at + 4 + size :], dict(head.get("live", {}))


class Trial:
    """One attempt of one trial, held by this process (see the module's docstring)."""

    def __init__(
        self, client: Client, handed: TrialPublic, heartbeat_every: float = HEARTBEAT_EVERY
    ) -> None:
        self.client = client
        self.trial = handed
        self.id, self.number, self.attempt = handed.id, handed.number, handed.attempt
        self.study_id = handed.study_id
        self.params: dict[str, Any] = dict(handed.params)
        #: The step this attempt continues from: the restored checkpoint's, else 0.
        self.start_step = 0
        #: The latest reported value, and its step.
        self.value: float | None = None
        self.step: int | None = None
        #: How the trial ended for this process: completed, pruned, failed, paused, stopped.
        self.outcome: str | None = None
        self._claim = handed.claim
        self._state: bytes | None = None
        self._live: dict[str, Any] = {}
        self._inbox: list[CommandPublic] = []
        self._seen: set[int] = set()
        self._unacked: list[CommandPublic] = []  # sets taken, acknowledged at the next report
        self._followed: set[str] = set()  # the names the script reads through ``live``
        self._pause_id: int | None = None
        self._gone: str | None = None  # why the trial is no longer ours
        self._lock = threading.Lock()
        self._last_contact = time.monotonic()
        self._every = max(heartbeat_every, 0.05)
        self._stop_beating = threading.Event()
        self._beat: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Trial(id={self.id}, number={self.number}, attempt={self.attempt})"

    # what the script reads
    def restore(self) -> bytes | None:
        """The state bytes that ``pause`` stored, on a resumed or forked trial; else None."""
        return self._state

    def live(self, name: str, default: Any = _MISSING) -> Any:
        """The current value of hyperparameter ``name``: a ``set`` command's, else the
        checkpoint's, else the trial's params; ``default`` (or ``KeyError``) if none has it."""
        self._take()
        self._followed.add(name)
        if name in self._live:
            return self._live[name]
        if name in self.params:
            return self.params[name]
        if default is _MISSING:
            raise KeyError(name)
        return default

    def should_pause(self) -> bool:
        """Whether a person asked this trial to pause (then call ``pause``). Asks the api when
        it was last heard more than :data:`POLL_EVERY` s ago; raises :class:`Stopped` when
        the trial is no longer this process's."""
        if time.monotonic() - self._last_contact >= POLL_EVERY:
            self.poll()
        self._take()
        return self._pause_id is not None

    def poll(self) -> None:
        """Ask the api now for pending commands (and whether the trial is still ours)."""
        self._check()
        try:
            answer = self.client.poll(self.id, self.attempt, claim=self._claim)
        except Conflict as exc:
            self._lost(str(exc))
        self._last_contact = time.monotonic()
        if answer.state != "running" or answer.attempt != self.attempt:
            self._lost(f"the trial is {answer.state} at attempt {answer.attempt}")
        self._receive(answer.commands)

    # what the script says
    def report(self, step: int, value: float, metrics: dict[str, float] | None = None) -> None:
        """Report ``value`` (and ``metrics``) at ``step``. Acknowledges the commands applied
        since the previous report. Raises :class:`Pruned` (after telling ``pruned``) when the
        pruner cuts the trial, :class:`Stopped` when it is no longer this process's."""
        self._check()
        with self._lock:
            acks = self._acks(step)
        try:
            answer = self.client.report(
                self.id, self.attempt, step, value, metrics, applied=acks, claim=self._claim
            )
        except Conflict as exc:
            self._lost(str(exc))
        with self._lock:
            del self._unacked[: len(acks)]
        self._last_contact = time.monotonic()
        self.value, self.step = float(value), step
        if answer.prune:
            self._tell("pruned", float(value))
            raise Pruned(f"trial #{self.number} pruned at step {step}: {answer.reason}")
        self._receive(answer.commands)

    def pause(self, state: bytes, step: int | None = None) -> NoReturn:
        """Store ``state`` as the trial's checkpoint at ``step`` (default: the latest reported
        step), with the live values, tell the api the trial paused, and raise
        :class:`Paused`."""
        self._check()
        step = (self.step if self.step is not None else self.start_step) if step is None else step
        with self._lock:
            live = dict(self._live)
            applied = self._acks(step + 1)
        if self._pause_id is not None:
            applied.append({"id": self._pause_id, "step": step})
        try:
            self.client.put_checkpoint(
                self.id, self.attempt, step, wrap(state, live), claim=self._claim
            )
            self.client.paused(self.id, self.attempt, step, applied, claim=self._claim)
        except Conflict as exc:
            self._lost(str(exc))
        self._ended("paused")
        raise Paused(f"trial #{self.number} paused at step {step}")

    def complete(self, value: float | None = None) -> None:
        """Tell the trial completed with ``value`` (default: the latest reported value)."""
        value = self.value if value is None else float(value)
        if value is None:
            raise ValueError(f"trial #{self.number} has no value: pass complete(value)")
        self._check()
        self._tell("completed", value)

    def fail(self, error: str) -> None:
        """Tell the trial failed with ``error``. An api that cannot be reached is logged."""
        if self.outcome is not None or self._gone is not None:
            return
        try:
            self._tell("failed", None, error)
        except Stopped:
            pass  # it ended otherwise meanwhile (stopped, cancelled, handed to another)
        except (CaviarError, httpx.HTTPError) as exc:
            log.warning("trial #%s: could not tell it failed (%s)", self.number, exc)
            self._ended("failed")

    # the body's end
    def __enter__(self) -> Trial:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            if exc is None:
                self.finish()
                return False
            if isinstance(exc, TrialEnded):
                return True
            self.fail("".join(traceback.format_exception(exc_type, exc, tb, limit=8))[-4000:])
            return False
        finally:
            self._end()

    def finish(self, value: float | None = None) -> None:
        """End a body that did not tell: completed with ``value``, else with the latest
        reported value; failed when there is neither. Nothing when the trial already ended."""
        if self.outcome is not None or self._gone is not None:
            return
        try:
            if value is None and self.value is None:
                self.fail("the trial ended without a value: report one, or complete(value)")
            else:
                self.complete(value)
        except Stopped:
            pass

    # inside
    def _start(self) -> None:
        """Take up the attempt: the checkpoint of a resumed or forked trial, the commands
        waiting for it (a fork's edits), then the heartbeat thread."""
        if self.attempt > 1 or self.trial.parent_id is not None:
            found = self.client.checkpoint(self.id)
            if found is not None:
                self.start_step = found[0]
                self._state, live = unwrap(found[1])
                self._live.update(live)
        self.poll()
        self._take()
        self._beat = threading.Thread(target=self._beating, name="caviar-heartbeat", daemon=True)
        self._beat.start()

    def _end(self) -> None:
        self._stop_beating.set()
        if self._beat is not None and self._beat is not threading.current_thread():
            self._beat.join(timeout=5)

    def _beating(self) -> None:
        while not self._stop_beating.wait(self._every):
            try:
                answer = self.client.heartbeat(self.id, self.attempt, claim=self._claim)
            except Conflict as exc:
                self._gone = self._gone or str(exc)
                return
            except (CaviarError, httpx.HTTPError) as exc:
                log.info("trial #%s: heartbeat missed (%s)", self.number, exc)
                continue
            if answer.state != "running" or answer.attempt != self.attempt:
                self._gone = f"the trial is {answer.state} at attempt {answer.attempt}"
                return
            self._receive(answer.commands)

    def _receive(self, commands: list[CommandPublic]) -> None:
        with self._lock:
            self._inbox.extend(c for c in commands if c.id not in self._seen)
            self._seen.update(c.id for c in commands)

    def _take(self) -> None:
        """Apply the commands received so far (in the script's thread)."""
        with self._lock:
            inbox, self._inbox = self._inbox, []
            for command in inbox:
                if command.action == "set":
                    self._live.update(command.params)
                    self._unacked.append(command)
                elif command.action == "pause":
                    self._pause_id = command.id

    def _acks(self, step: int) -> list[dict[str, Any]]:
        """Acknowledgements of the sets taken so far, at ``step``: applied when the script
        reads every name they change through ``live``, else refused with the names it does
        not (their values are dropped)."""
        acks: list[dict[str, Any]] = []
        for command in self._unacked:
            ignored = sorted(set(command.params) - self._followed)
            if not ignored:
                acks.append({"id": command.id, "step": step})
                continue
            for name in ignored:
                self._live.pop(name, None)
            names = ", ".join(ignored)
            error = f"this trainer does not change {names} while training"
            acks.append({"id": command.id, "step": step, "error": error})
        return acks

    def _check(self) -> None:
        if self._gone is not None and self.outcome is None:
            self._lost(self._gone)

    def _lost(self, why: str) -> NoReturn:
        self._gone = self._gone or why
        self._ended("stopped")
        raise Stopped(f"trial #{self.number} attempt {self.attempt} stops: {why}")

    def _tell(self, state: str, value: float | None, error: str | None = None) -> None:
        try:
            self.client.tell(self.id, self.attempt, state, value, error, claim=self._claim)
        except Conflict as exc:
            self._lost(str(exc))
        self._ended(state)

    def _ended(self, outcome: str) -> None:
        self.outcome = self.outcome or outcome
        self._stop_beating.set()


def run(
    client: Client, study_id: int, *, heartbeat_every: float = HEARTBEAT_EVERY
) -> Iterator[Trial]:
    """The trials of ``study_id`` that this process gets, one at a time, until the study is
    finished; sleeps ``retry_after`` while it runs and nothing can be handed out. A trial whose
    body ended without telling is finished (see :meth:`Trial.finish`) before the next ask."""
    current: Trial | None = None
    try:
        while True:
            answer = client.ask_answer(study_id, 1)
            if not answer.data:
                if answer.retry_after is None:
                    return
                time.sleep(answer.retry_after)
                continue
            current = Trial(client, answer.data[0], heartbeat_every)
            try:
                current._start()
            except Stopped:
                current = None
                continue
            yield current
            current.finish()
            current._end()
            current = None
    finally:
        if current is not None:  # the loop was left early: stop beating
            current._end()


def optimize(
    client: Client,
    study_id: int,
    objective: Callable[[Trial], float | None],
    *,
    catch: tuple[type[Exception], ...] = (),
    heartbeat_every: float = HEARTBEAT_EVERY,
) -> int:
    """Call ``objective(trial)`` for each trial this process gets, until the study is
    finished, and tell each trial how it ended: completed with the value returned (else the
    latest reported), pruned, paused or stopped as raised, failed on any other exception,
    which is raised again unless it is one of ``catch``. Returns how many trials it ran."""
    ran = 0
    for trial in run(client, study_id, heartbeat_every=heartbeat_every):
        ran += 1
        try:
            with trial:
                value = objective(trial)
                if trial.outcome is None:
                    trial.finish(None if value is None else float(value))
        except catch as exc:
            log.warning("trial #%s failed: %s", trial.number, exc)
    return ran
