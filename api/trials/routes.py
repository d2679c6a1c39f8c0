"""A trial's life over REST: start and heartbeat (workers), report, tell; its reports."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth.access import WORKER_READERS, WORKERS
from api.db.models import Study
from api.deps import DispatcherDep, ReadSessionDep, SessionDep
from api.openapi import responses
from api.params import ClaimHeader, TrialId
from api.publish import report_public, trial_public
from api.trials import delivery, hooks
from api.trials import service as trial_service
from api.trials.dispatch import message_for
from caviar.schemas import (
    Companion,
    CompanionsAnswer,
    CompanionsRequest,
    HeartbeatAnswer,
    HeartbeatRequest,
    ReportAnswer,
    ReportBatchAnswer,
    ReportBatchCreate,
    ReportCreate,
    ReportsPublic,
    StartAnswer,
    StartRequest,
    TellCreate,
    TrialPublic,
)

router = APIRouter(prefix="/trials", tags=["trials"])


@router.get(
    "/{trial_id}",
    dependencies=[WORKER_READERS],
    summary="Show a trial",
    response_model=TrialPublic,
    responses=responses(404, 422),
)
def get_trial(trial_id: TrialId, session: ReadSessionDep) -> TrialPublic:
    """Its params, state, attempt, value and times."""
    return trial_public(trial_service.get(session, trial_id))


@router.post(
    "/{trial_id}/start",
    dependencies=[WORKERS],
    summary="Claim a queued trial (workers)",
    response_model=StartAnswer,
    responses=responses(400, 404, 409, 422),
)
def start(trial_id: TrialId, body: StartRequest, session: SessionDep) -> StartAnswer:
    """A worker claims its queued trial; the answer carries the attempt's ``claim``, to send in
    the ``Caviar-Claim`` header of each of the attempt's later writes. The same worker may
    repeat its claim of the same attempt with the same ``nonce`` and gets the same claim. 409
    if this attempt is stale, claimed by someone else, or the trial belongs to an external
    study (whose clients use ask). ``commands``: the pending ones, to apply before the first
    mini-batch."""
    trial = trial_service.start(session, trial_id, body.attempt, body.worker, body.nonce)
    answer = StartAnswer(
        **dict(trial_public(trial, claim=True)), commands=delivery.deliver(session, trial_id, [])
    )
    session.commit()
    return answer


@router.post(
    "/{trial_id}/companions",
    dependencies=[WORKERS],
    summary="Claim more trials to train fused with this one (workers)",
    response_model=CompanionsAnswer,
    responses=responses(400, 404, 409, 422),
)
def companions(
    trial_id: TrialId, body: CompanionsRequest, session: SessionDep, claim: ClaimHeader = None
) -> CompanionsAnswer:
    """The worker holding this trial's attempt (its ``Caviar-Claim``) claims up to ``count``
    more queued first attempts of the study with the same shape (depth, widths, activation,
    batch size) and the same data, each as ``/start`` would claim it: its own claim and
    attempt, its pending commands, and its message's ``seed`` and ``resume``. Their own broker
    messages later get 409 on ``/start``. Fewer than ``min_count`` candidates: none is claimed.
    409 when this trial's attempt is fenced off."""
    won = trial_service.companions(session, trial_id, body, claim)
    study = session.get_one(Study, won[0].study_id) if won else None
    data = []
    for trial in won:
        assert study is not None
        message = message_for(trial, study)
        data.append(
            Companion(
                **dict(trial_public(trial, claim=True)),
                commands=delivery.deliver(session, trial.id, []),
                seed=message.seed,
                resume=message.resume,
            )
        )
    session.commit()
    return CompanionsAnswer(data=data)


@router.post(
    "/{trial_id}/heartbeat",
    dependencies=[WORKERS],
    summary="Keep a running trial alive (workers)",
    response_model=HeartbeatAnswer,
    responses=responses(400, 404, 409, 422),
)
def heartbeat(
    trial_id: TrialId, body: HeartbeatRequest, session: SessionDep, claim: ClaimHeader = None
) -> HeartbeatAnswer:
    """The attempt is alive and working; the answer carries the pending commands. 409 when it
    is fenced off (a stale attempt, a missing or wrong claim): the worker stops."""
    answer = trial_service.heartbeat(session, trial_id, body, claim)
    answer.commands = delivery.deliver(session, trial_id, [])
    session.commit()
    return answer


@router.post(
    "/{trial_id}/reports",
    dependencies=[WORKERS],
    summary="Report an intermediate value",
    response_model=ReportAnswer,
    responses=responses(400, 404, 409, 422),
)
def report(
    trial_id: TrialId, body: ReportCreate, session: SessionDep, claim: ClaimHeader = None
) -> ReportAnswer:
    """Store the value at ``step`` (a heartbeat too); the answer says whether to prune. 409 when
    the attempt is stale, the claim missing or wrong, or the trial not running."""
    answer = trial_service.report(session, trial_id, body, claim)
    answer.commands = delivery.deliver(session, trial_id, body.applied)
    session.commit()
    return answer


@router.post(
    "/{trial_id}/reports/batch",
    dependencies=[WORKERS],
    summary="Report several steps at once",
    response_model=ReportBatchAnswer,
    responses=responses(400, 404, 409, 422),
)
def report_batch(
    trial_id: TrialId, body: ReportBatchCreate, session: SessionDep, claim: ClaimHeader = None
) -> ReportBatchAnswer:
    """Store several steps of one attempt, in order, each as ``/reports`` stores one; the
    answer's ``step`` names the step the pruner stopped at, if it did. 409 as for ``/reports``."""
    answer = trial_service.report_batch(session, trial_id, body, claim)
    answer.commands = delivery.deliver(session, trial_id, body.applied)
    session.commit()
    return answer


@router.get(
    "/{trial_id}/reports",
    dependencies=[WORKER_READERS],
    summary="List a trial's reports",
    response_model=ReportsPublic,
    responses=responses(404, 422),
)
def list_reports(trial_id: TrialId, session: ReadSessionDep) -> ReportsPublic:
    """The learning curve, one report per step: the latest attempt's, continued below its
    first step by earlier attempts'. Each report names its attempt."""
    data = [report_public(r) for r in trial_service.curve(session, trial_id)]
    return ReportsPublic(data=data, count=len(data))


@router.post(
    "/{trial_id}/tell",
    dependencies=[WORKERS],
    summary="Finish a trial",
    response_model=TrialPublic,
    responses=responses(400, 404, 409, 422, cross_field="a completed trial needs a value"),
)
def tell(
    trial_id: TrialId,
    body: TellCreate,
    reader: ReadSessionDep,
    session: SessionDep,
    dispatcher: DispatcherDep,
    claim: ClaimHeader = None,
) -> TrialPublic:
    """Completed (with its value), pruned or failed; telling the same outcome again is harmless,
    a different one answers 409, and so does a missing or wrong claim. Queues the study's next
    trials."""
    hooks.prepare(reader, trial_id)  # before the write (and the study's lock)
    trial, queued = trial_service.tell(session, trial_id, body, claim)
    answer = trial_public(trial)
    session.commit()
    dispatcher.dispatch(queued)
    return answer
