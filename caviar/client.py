"""The Python client of Caviar's REST API. External training scripts and Caviar's own workers
use the same calls (ask, start, report, tell), and so take the same code path."""

from __future__ import annotations

import functools
import secrets
import ssl
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from caviar.retest_schemas import RoundPublic, RoundsPublic
from caviar.schemas import (
    AskAnswer,
    CheckpointPublic,
    CheckpointsPublic,
    CommandPublic,
    CommandsPublic,
    Companion,
    CompanionsAnswer,
    DatasetPublic,
    DatasetsPublic,
    HeartbeatAnswer,
    PollAnswer,
    RegionPublic,
    ReportAnswer,
    ReportBatchAnswer,
    ReportsPublic,
    StartAnswer,
    StudiesPublic,
    StudyCreate,
    StudyPublic,
    TrialPublic,
    TrialsPublic,
)
from caviar.settings import Settings

if TYPE_CHECKING:
    from caviar.runner import Trial


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process, as httpx would build for each client: building it loads
    the CA bundle (about 25 ms), which a worker would otherwise pay for every trial."""
    return httpx.create_ssl_context()


class CaviarError(Exception):
    """The api answered with an error. ``status`` is the HTTP status; ``detail`` its body."""

    def __init__(self, status: int, detail: Any) -> None:
        self.status, self.detail = status, detail
        super().__init__(f"{status}: {_describe(detail)}")


class Conflict(CaviarError):
    """409: a stale attempt or a state conflict. A worker holding the attempt stops."""


def _describe(detail: Any) -> str:
    if isinstance(detail, dict) and "detail" in detail:
        detail = detail["detail"]
    if isinstance(detail, list):
        return "; ".join(f"{e.get('field', '?')}: {e.get('msg', e)}" for e in detail)
    return str(detail)


class Client:
    """A thin typed wrapper over httpx. Use as a context manager, or call ``close()``.

    ``token`` is sent as ``Authorization: Bearer``; None means ``CAVIAR_TOKEN`` (if set).
    ``worker`` names who does the work; it is sent with start, heartbeat, report and tell.

    Claims: the trials that ``ask`` and ``start`` return carry ``claim``, the secret of their
    attempt. The client keeps it and sends it in the ``Caviar-Claim`` header of that attempt's
    later writes (heartbeat, report, tell, poll, paused, checkpoints), so a script written
    against ask/report/tell needs no change. A process that did not get the trial itself
    passes ``claim=`` (or calls ``remember``). ``start`` sends this client's own ``nonce``, so
    a claim repeated after a lost answer gets the same claim again.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        worker: str | None = None,
    ) -> None:
        token = Settings().token if token is None else token
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers=headers,
            verify=_ssl_context(),
        )
        self.worker = worker
        self.nonce = secrets.token_urlsafe(24)
        self._claims: dict[tuple[int, int], str] = {}

    def remember(self, trial: TrialPublic) -> TrialPublic:
        """Keep ``trial.claim`` for its attempt's later writes (ask and start call this)."""
        if trial.claim:
            self._claims[(trial.id, trial.attempt)] = trial.claim
        return trial

    def claim_of(self, trial_id: int, attempt: int) -> str | None:
        """The claim kept for an attempt, if this client claimed it."""
        return self._claims.get((trial_id, attempt))

    def forget(self, trial_id: int, attempt: int) -> None:
        """Drop the claim kept for an attempt this client is done with."""
        self._claims.pop((trial_id, attempt), None)

    def _claim(self, trial_id: int, attempt: int, claim: str | None) -> dict[str, str]:
        claim = claim or self._claims.get((trial_id, attempt))
        return {"caviar-claim": claim} if claim else {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _request(
        self, method: str, path: str, ok: tuple[int, ...] = (), **kw: Any
    ) -> httpx.Response:
        """The answer to ``method /api{path}``; ``CaviarError`` (``Conflict`` for a 409) for
        an error status that is not in ``ok``. Every call goes through here."""
        r = self.http.request(method, "/api" + path, **kw)
        if r.status_code >= 400 and r.status_code not in ok:
            try:
                body = r.json()
            except ValueError:
                body = r.text
            cls = Conflict if r.status_code == 409 else CaviarError
            raise cls(r.status_code, body)
        return r

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        return self._request(method, path, **kw).json()

    # studies
    def create_study(self, config: StudyCreate | dict[str, Any]) -> StudyPublic:
        body = config.model_dump(mode="json") if isinstance(config, StudyCreate) else config
        return StudyPublic.model_validate(self._call("POST", "/studies", json=body))

    def study(self, study_id: int) -> StudyPublic:
        return StudyPublic.model_validate(self._call("GET", f"/studies/{study_id}"))

    def studies(self, offset: int = 0, limit: int = 100) -> StudiesPublic:
        params = {"offset": offset, "limit": limit}
        return StudiesPublic.model_validate(self._call("GET", "/studies", params=params))

    def cancel(self, study_id: int) -> StudyPublic:
        return StudyPublic.model_validate(self._call("POST", f"/studies/{study_id}/cancel"))

    def delete_study(self, study_id: int) -> None:
        """Delete a study that has no running trials (cancel it first)."""
        self._request("DELETE", f"/studies/{study_id}")

    def trials_page(
        self,
        study_id: int,
        *,
        sort: str = "number",
        desc: bool = False,
        states: list[str] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> TrialsPublic:
        """One page of the study's trials sorted by ``number``, ``value`` or ``params.NAME``."""
        params: dict[str, Any] = {"sort": sort, "desc": desc, "offset": offset, "limit": limit}
        if states:
            params["state"] = states
        data = self._call("GET", f"/studies/{study_id}/dashboard/trials", params=params)
        return TrialsPublic.model_validate(data)

    def trials(self, study_id: int, after: int = -1, limit: int = 1000) -> TrialsPublic:
        params = {"after": after, "limit": limit}
        data = self._call("GET", f"/studies/{study_id}/trials", params=params)
        return TrialsPublic.model_validate(data)

    def regions(self, study_id: int) -> list[RegionPublic]:
        return [
            RegionPublic.model_validate(r)
            for r in self._call("GET", f"/studies/{study_id}/regions")
        ]

    def update_study(self, study_id: int, **fields: Any) -> StudyPublic:
        """PATCH: ``name="new name"``, ``retest={"every": "7d"}`` or ``retest=None`` (removes the
        schedule)."""
        return StudyPublic.model_validate(self._call("PATCH", f"/studies/{study_id}", json=fields))

    # re-tests
    def retests(self, study_id: int) -> RoundsPublic:
        return RoundsPublic.model_validate(self._call("GET", f"/studies/{study_id}/retests"))

    def start_retest(self, study_id: int) -> RoundPublic:
        return RoundPublic.model_validate(self._call("POST", f"/studies/{study_id}/retests"))

    # the trial life
    def ask_answer(self, study_id: int, count: int = 1) -> AskAnswer:
        """The whole answer of ``ask``: the trials, and ``retry_after`` (seconds) when it hands
        out nothing now although the study still needs clients."""
        data = self._call("POST", f"/studies/{study_id}/ask", json={"count": count})
        answer = AskAnswer.model_validate(data)
        for trial in answer.data:
            self.remember(trial)
        return answer

    def ask(self, study_id: int, count: int = 1) -> list[TrialPublic]:
        """Up to ``count`` trials to run, each with its claim (kept by this client). An empty
        list when there is nothing to run now: see ``ask_answer`` to tell "later" from
        "finished"."""
        return self.ask_answer(study_id, count).data

    def run(self, study_id: int, **options: Any) -> Iterator[Trial]:
        """The trials of an external study that this process gets, one at a time, until the
        study is finished: ``for trial in client.run(study_id): with trial: ...``. See
        ``caviar.runner`` (``heartbeat_every=`` seconds)."""
        from caviar import runner

        return runner.run(self, study_id, **options)

    def optimize(
        self, study_id: int, objective: Callable[[Trial], float | None], **options: Any
    ) -> int:
        """Run ``objective(trial)`` for each trial this process gets until the study is
        finished (Optuna's ``study.optimize``); returns how many it ran. See
        ``caviar.runner`` (``catch=``, ``heartbeat_every=``)."""
        from caviar import runner

        return runner.optimize(self, study_id, objective, **options)

    def start(self, trial_id: int, attempt: int) -> StartAnswer:
        """Claim a queued trial's attempt (workers); the answer carries its claim and its
        pending commands."""
        body = {"attempt": attempt, "worker": self.worker, "nonce": self.nonce}
        data = self._call("POST", f"/trials/{trial_id}/start", json=body)
        answer = StartAnswer.model_validate(data)
        self.remember(answer)
        return answer

    def companions(
        self, trial_id: int, attempt: int, count: int, min_count: int = 1
    ) -> list[Companion]:
        """Claim up to ``count`` more queued trials to train fused with the claimed attempt
        (workers); none when fewer than ``min_count`` fit. Their claims are kept."""
        body = {
            "attempt": attempt,
            "worker": self.worker,
            "nonce": self.nonce,
            "count": count,
            "min_count": min_count,
        }
        headers = self._claim(trial_id, attempt, None)
        data = self._call("POST", f"/trials/{trial_id}/companions", json=body, headers=headers)
        answer = CompanionsAnswer.model_validate(data)
        for companion in answer.data:
            self.remember(companion)
        return answer.data

    def heartbeat(self, trial_id: int, attempt: int, claim: str | None = None) -> HeartbeatAnswer:
        body = {"attempt": attempt, "worker": self.worker}
        headers = self._claim(trial_id, attempt, claim)
        data = self._call("POST", f"/trials/{trial_id}/heartbeat", json=body, headers=headers)
        return HeartbeatAnswer.model_validate(data)

    def report(
        self,
        trial_id: int,
        attempt: int,
        step: int,
        value: float,
        metrics: dict[str, float] | None = None,
        applied: list[dict[str, Any]] | None = None,
        claim: str | None = None,
    ) -> ReportAnswer:
        """Report ``value`` at ``step``; ``applied`` acknowledges commands ({id, step, error?}).
        The answer says whether to prune, and carries the pending commands."""
        body = {
            "attempt": attempt,
            "step": step,
            "value": value,
            "metrics": metrics or {},
            "worker": self.worker,
            "applied": applied or [],
        }
        headers = self._claim(trial_id, attempt, claim)
        return ReportAnswer.model_validate(
            self._call("POST", f"/trials/{trial_id}/reports", json=body, headers=headers)
        )

    def report_batch(
        self,
        trial_id: int,
        attempt: int,
        reports: list[dict[str, Any]],
        applied: list[dict[str, Any]] | None = None,
        claim: str | None = None,
    ) -> ReportBatchAnswer:
        """Report several steps at once (``[{step, value, metrics}]``, in order); the api
        judges each as if reported alone, and the answer's ``step`` says where it pruned."""
        body = {
            "attempt": attempt,
            "reports": reports,
            "worker": self.worker,
            "applied": applied or [],
        }
        headers = self._claim(trial_id, attempt, claim)
        return ReportBatchAnswer.model_validate(
            self._call("POST", f"/trials/{trial_id}/reports/batch", json=body, headers=headers)
        )

    def reports(self, trial_id: int) -> ReportsPublic:
        return ReportsPublic.model_validate(self._call("GET", f"/trials/{trial_id}/reports"))

    def tell(
        self,
        trial_id: int,
        attempt: int,
        state: str,
        value: float | None = None,
        error: str | None = None,
        claim: str | None = None,
    ) -> TrialPublic:
        body = {
            "attempt": attempt,
            "state": state,
            "value": value,
            "error": error,
            "worker": self.worker,
        }
        headers = self._claim(trial_id, attempt, claim)
        data = self._call("POST", f"/trials/{trial_id}/tell", json=body, headers=headers)
        self._claims.pop((trial_id, attempt), None)
        return TrialPublic.model_validate(data)

    # panda mode: commands, checkpoints, forks
    def command(
        self,
        trial_id: int,
        action: str,
        params: dict[str, Any] | None = None,
        note: str | None = None,
        author: str | None = None,
    ) -> CommandPublic:
        """``set`` (live hyperparameters in ``params``), ``pause``, ``resume`` or ``stop``."""
        body = {"action": action, "params": params or {}, "note": note, "author": author}
        data = self._call("POST", f"/trials/{trial_id}/commands", json=body)
        return CommandPublic.model_validate(data)

    def commands(self, trial_id: int) -> CommandsPublic:
        return CommandsPublic.model_validate(self._call("GET", f"/trials/{trial_id}/commands"))

    def poll(
        self,
        trial_id: int,
        attempt: int,
        applied: list[dict[str, Any]] | None = None,
        claim: str | None = None,
    ) -> PollAnswer:
        """The trial's state and attempt and its pending commands; acknowledges ``applied``."""
        body = {"attempt": attempt, "applied": applied or []}
        headers = self._claim(trial_id, attempt, claim)
        data = self._call("POST", f"/trials/{trial_id}/poll", json=body, headers=headers)
        return PollAnswer.model_validate(data)

    def paused(
        self,
        trial_id: int,
        attempt: int,
        step: int,
        applied: list[dict[str, Any]] | None = None,
        claim: str | None = None,
    ) -> TrialPublic:
        """Tell the api this attempt paused after ``step`` (its checkpoint already stored)."""
        body = {"attempt": attempt, "step": step, "applied": applied or []}
        headers = self._claim(trial_id, attempt, claim)
        data = self._call("POST", f"/trials/{trial_id}/paused", json=body, headers=headers)
        self._claims.pop((trial_id, attempt), None)
        return TrialPublic.model_validate(data)

    def fork(
        self,
        trial_id: int,
        params: dict[str, Any] | None = None,
        step: int | None = None,
        note: str | None = None,
    ) -> TrialPublic:
        body = {"params": params or {}, "step": step, "note": note}
        return TrialPublic.model_validate(self._call("POST", f"/trials/{trial_id}/fork", json=body))

    def trial(self, trial_id: int) -> TrialPublic:
        return TrialPublic.model_validate(self._call("GET", f"/trials/{trial_id}"))

    def put_checkpoint(
        self, trial_id: int, attempt: int, step: int, raw: bytes, claim: str | None = None
    ) -> CheckpointPublic:
        data = self._call(
            "PUT",
            f"/trials/{trial_id}/checkpoints",
            params={"attempt": attempt, "step": step},
            content=raw,
            headers={
                "content-type": "application/octet-stream",
                **self._claim(trial_id, attempt, claim),
            },
        )
        return CheckpointPublic.model_validate(data)

    def checkpoints(self, trial_id: int) -> CheckpointsPublic:
        data = self._call("GET", f"/trials/{trial_id}/checkpoints")
        return CheckpointsPublic.model_validate(data)

    def checkpoint(self, trial_id: int, step: int | None = None) -> tuple[int, bytes] | None:
        """(step, bytes) of the trial's latest checkpoint (at or before ``step``), or None."""
        params = {} if step is None else {"step": step}
        r = self._request("GET", f"/trials/{trial_id}/checkpoint", ok=(404,), params=params)
        if r.status_code == 404:
            return None
        return int(r.headers["x-caviar-step"]), r.content

    # datasets
    def upload_dataset(self, name: str, csv: bytes) -> DatasetPublic:
        data = self._call(
            "POST",
            "/datasets",
            params={"name": name},
            content=csv,
            headers={"content-type": "text/csv"},
        )
        return DatasetPublic.model_validate(data)

    def datasets(self) -> DatasetsPublic:
        return DatasetsPublic.model_validate(self._call("GET", "/datasets"))

    def dataset(self, ref: str) -> DatasetPublic:
        return DatasetPublic.model_validate(self._call("GET", f"/datasets/{ref}"))

    def dataset_content(self, ref: str) -> bytes:
        return self._request("GET", f"/datasets/{ref}/content").content
