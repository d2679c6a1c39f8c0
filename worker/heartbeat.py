"""The heartbeat of a running trial: a thread that tells the api the attempt is alive every
few seconds, from the claim on (a slow dataset fetch included), whatever the training does.

When the api answers 409 — the attempt was requeued, paused or stopped, or the trial
finished — the attempt is fenced off. A trainer that polls the api between mini-batches (panda
mode's steering) notices by itself and stops there. If the attempt is still running
:data:`FALLBACK_AFTER` seconds later (an objective without such a hook), the thread raises
:class:`Fenced` in the training thread, which stops it at its next Python step (NumPy calls are
never cut in half). The training loop itself knows nothing about heartbeats.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from types import TracebackType

from caviar.client import Client, Conflict

log = logging.getLogger("caviar.worker")
FALLBACK_AFTER = 2.0  # seconds a fenced attempt has to stop by itself before it is stopped


class Fenced(BaseException):
    """This attempt is no longer the trial's current one: stop working on it.

    A ``BaseException``, so an objective's ``except Exception`` cannot swallow it."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class Heartbeat:
    """``with Heartbeat(make_client, trial_id, attempt, every):`` beats while the body runs.

    ``make_client`` builds the thread's own client (one that does not retry for minutes: a
    missed beat is simply sent again at the next interval).
    """

    def __init__(
        self, make_client: Callable[[], Client], trial_id: int, attempt: int, every: float
    ) -> None:
        self.make_client, self.trial_id, self.attempt = make_client, trial_id, attempt
        self.every = max(every, 0.05)
        self.fenced = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._armed = False
        self._target = threading.get_ident()
        self._thread = threading.Thread(target=self._run, name="caviar-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._target = threading.get_ident()
        self._armed = True
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._armed = False
            _raise_in(self._target, None)  # a Fenced not yet delivered is dropped
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with self.make_client() as client:
            while not self._stop.wait(self.every):
                try:
                    client.heartbeat(self.trial_id, self.attempt)
                except Conflict as exc:
                    log.info("trial %s attempt %s fenced off: %s", self.trial_id, self.attempt, exc)
                    self.fenced = True
                    # A trainer that polls between mini-batches stops by itself within a poll;
                    # raising into a thread that may sit in an HTTP call is the last resort.
                    if self._stop.wait(FALLBACK_AFTER):
                        return
                    with self._lock:
                        if self._armed:
                            _raise_in(self._target, Fenced)
                    return
                except Exception as exc:  # the api is away: beat again at the next interval
                    log.warning("heartbeat of trial %s failed: %s", self.trial_id, exc)
