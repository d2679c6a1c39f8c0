"""The heartbeat of a running trial: a thread that tells the api the attempt is alive every
few seconds, from the claim on (a slow dataset fetch included), whatever the training does.

When the api answers 409 (the attempt was requeued, paused or stopped, or the trial finished)
the attempt is fenced off: the thread sets the attempt's ``fenced`` event and stops. The
training thread checks that event between mini-batches (``check``, called by panda mode's
steering hook) and at each report, and stops there with :class:`Fenced`. The thread itself
stops on its ``stop`` event when the attempt ends; nothing is ever injected into another
thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from caviar.client import Client, Conflict

log = logging.getLogger("caviar.worker")
_current = threading.local()


class Fenced(BaseException):
    """This attempt is no longer the trial's current one: stop working on it.

    A ``BaseException``, so an objective's ``except Exception`` cannot swallow it."""


def check() -> None:
    """Raise :class:`Fenced` in the training thread if its attempt's heartbeat was refused."""
    fenced: threading.Event | None = getattr(_current, "fenced", None)
    if fenced is not None and fenced.is_set():
        raise Fenced


class Heartbeat:
    """``with Heartbeat(make_client, trial_id, attempt, every, claim):`` beats while the body
    runs, in the thread that entered it.

    ``make_client`` builds the thread's own client (one that does not retry for minutes: a
    missed beat is simply sent again at the next interval); ``claim`` is the attempt's claim.
    """

    def __init__(
        self,
        make_client: Callable[[], Client],
        trial_id: int,
        attempt: int,
        every: float,
        claim: str | None = None,
    ) -> None:
        self.make_client, self.trial_id, self.attempt = make_client, trial_id, attempt
        self.claim = claim
        self.every = max(every, 0.05)
        self.fenced = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caviar-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        _current.fenced = self.fenced
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _current.fenced = None
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        if self._stop.wait(self.every):
            return  # a trial shorter than one interval never builds the thread's client
        with self.make_client() as client:
            while True:
                try:
                    client.heartbeat(self.trial_id, self.attempt, claim=self.claim)
                except Conflict as exc:
                    log.info("trial %s attempt %s fenced off: %s", self.trial_id, self.attempt, exc)
                    self.fenced.set()
                    return
                except Exception as exc:  # the api is away: beat again at the next interval
                    log.warning("heartbeat of trial %s failed: %s", self.trial_id, exc)
                if self._stop.wait(self.every):
                    return


class Beats:
    """One thread that beats several claimed attempts (the members of a fused run): ``with
    Beats(make_client, every) as beats:``, then :meth:`add` each member; :meth:`remove` one
    when it leaves. A member whose beat gets 409 is fenced (:meth:`fenced`) and no longer
    beaten; the others go on."""

    def __init__(self, make_client: Callable[[], Client], every: float) -> None:
        self.make_client = make_client
        self.every = max(every, 0.05)
        self._members: dict[int, tuple[int, str | None]] = {}
        self._fenced: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caviar-heartbeats", daemon=True)

    def add(self, trial_id: int, attempt: int, claim: str | None) -> None:
        with self._lock:
            self._members[trial_id] = (attempt, claim)

    def remove(self, trial_id: int) -> None:
        with self._lock:
            self._members.pop(trial_id, None)

    def fenced(self, trial_id: int) -> bool:
        with self._lock:
            return trial_id in self._fenced

    def __enter__(self) -> Beats:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        if self._stop.wait(self.every):
            return
        with self.make_client() as client:
            while True:
                with self._lock:
                    members = list(self._members.items())
                for trial_id, (attempt, claim) in members:
                    if self._stop.is_set():
                        return
                    try:
                        client.heartbeat(trial_id, attempt, claim=claim)
                    except Conflict as exc:
                        log.info("trial %s attempt %s fenced off: %s", trial_id, attempt, exc)
                        with self._lock:
                            self._fenced.add(trial_id)
                            self._members.pop(trial_id, None)
                    except Exception as exc:  # the api is away: beat again at the next interval
                        log.warning("heartbeat of trial %s failed: %s", trial_id, exc)
                if self._stop.wait(self.every):
                    return
