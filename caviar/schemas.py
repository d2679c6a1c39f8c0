"""Wire schemas of the REST contract: studies, trials, reports, tells, regions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from caviar.bounds import (
    MAX_ABS_INT,
    MAX_FIXED,
    MAX_HEARTBEAT_GRACE,
    MAX_METRICS,
    MAX_PARAMS,
    MAX_REPORTS_PER_BATCH,
    MAX_TRIALS_PER_REQUEST,
    NO_NUL,
    Attempt,
    BoundedFloat,
    Choice,
    DatasetRef,
    ErrorText,
    Id,
    Key,
    MetricName,
    Name,
    NotBool,
    Step,
    keys_by_pattern,
)
from caviar.functions import FunctionName
from caviar.retest_schemas import RetestConfig, WarmStart, WarmStartReport
from caviar.search_config import NoPruner, Pruner, RandomStrategy, Strategy
from caviar.space import Space
from caviar.states import TellState, TrialState
from caviar.trainer_params import Metric

StudyStatus = Literal["running", "completed", "cancelled"]
Direction = Literal["minimize", "maximize"]
Value = BoundedFloat


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FunctionObjective(_In):
    kind: Literal["function"]
    name: FunctionName


class TrainObjective(_In):
    kind: Literal["train"]
    dataset: DatasetRef
    epochs: Annotated[int, NotBool] = Field(default=20, ge=1, le=10_000)
    metric: Metric = "val_loss"
    fixed: dict[Key, Choice] = Field(
        default_factory=dict, max_length=MAX_FIXED, json_schema_extra=keys_by_pattern
    )
    checkpoint_every: Annotated[int | None, NotBool] = Field(
        default=None,
        ge=0,
        le=10_000,
        description="Epochs between checkpoints written through the api (0: only on pause "
        "and at the end). Unset: every 5 epochs, but no sooner than CAVIAR_CHECKPOINT_SECONDS "
        "(the worker's, default 2) after the previous one. A requeued or resumed trial "
        "continues from its latest checkpoint.",
    )


class ExternalObjective(_In):
    kind: Literal["external"]


Objective = Annotated[
    FunctionObjective | TrainObjective | ExternalObjective, Field(discriminator="kind")
]


class StudyCreate(_In):
    name: Name
    direction: Direction = "minimize"
    objective: Objective
    space: Space
    strategy: Strategy = Field(default_factory=RandomStrategy)
    pruner: Pruner = Field(default_factory=NoPruner)
    max_trials: Annotated[int, NotBool] = Field(default=100, ge=1, le=1_000_000)
    parallelism: Annotated[int, NotBool] = Field(
        default=4,
        ge=1,
        le=MAX_TRIALS_PER_REQUEST,
        description="Trials in flight at once (at most 256: one request never creates more).",
    )
    # At most 2**53: exact as a JSON number in every client (JavaScript's included).
    seed: Annotated[int | None, NotBool] = Field(default=None, ge=0, le=MAX_ABS_INT)
    max_attempts: Annotated[int, NotBool] = Field(default=3, ge=1, le=100)
    heartbeat_grace: float | None = Field(
        default=None,
        gt=0,
        le=MAX_HEARTBEAT_GRACE,
        allow_inf_nan=False,
        description="Seconds without a report after which a running trial goes back to the "
        "queue. Default: 120 for built-in objectives, never for external ones.",
    )
    retest: RetestConfig | None = None
    warm_start: WarmStart | None = None


class Best(BaseModel):
    trial_id: int
    number: int
    value: float
    params: dict[str, Any]


class Recommended(BaseModel):
    """The configuration a model-based strategy recommends: a completed trial and the value its
    model expects there (a noisy objective's best draw may be luck; ``best`` stays the best
    value observed)."""

    trial_id: int
    number: int
    params: dict[str, Any]
    mean: float


class StudyPublic(BaseModel):
    id: int
    name: str
    config: StudyCreate
    status: StudyStatus
    best: Best | None = Field(
        description="the best completed search trial (re-test rounds never change it)"
    )
    champion: Best | None = Field(
        default=None,
        description="the configuration the latest judged re-test round kept or crowned, with "
        "the mean of its repeats in that round (null before any round)",
    )
    stage: int
    region_id: int | None
    counts: dict[TrialState, int] = Field(
        description="the search's trials by state (re-test rounds' trials are in the rounds)"
    )
    forks: dict[TrialState, int] = Field(
        default_factory=dict,
        description="the forks among ``counts``, by state: a person's trials, outside "
        "max_trials, so the study's progress leaves them out",
    )
    created_at: datetime
    retest: RetestConfig | None = None
    next_retest_at: datetime | None = None
    stale: bool = False
    stale_reason: str | None = None
    warm_start_report: WarmStartReport | None = None
    recommended: Recommended | None = None  # one study's answer, coarse_to_fine studies


class StudiesPublic(BaseModel):
    data: list[StudyPublic]
    count: int


class TrialPublic(BaseModel):
    id: int
    study_id: int
    number: int
    params: dict[str, Any]
    state: TrialState
    attempt: int
    value: float | None
    stage: int
    region_id: int | None
    error: str | None = None
    prune_reason: dict[str, Any] | None = None
    retest_round: int | None = Field(
        default=None, description="id of the re-test round this trial belongs to, if any"
    )
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    parent_id: int | None = None
    forked_at_step: int | None = None
    steered: bool = Field(
        default=False,
        description="a person steered it (a fork, or it applied a set): its value is not what "
        "its params give from scratch, so the search, re-tests and warm starts leave it out",
    )
    note: str | None = Field(default=None, description="a fork's note")
    stopped_at_step: int | None = Field(
        default=None,
        description="a person stopped it at this step: its value is that of a partial run",
    )
    claim: str | None = Field(
        default=None,
        description="only in the answers of /start and ask: the secret of this attempt, to send "
        "in the Caviar-Claim header of each of its later writes (heartbeat, reports, tell, poll, "
        "paused, checkpoints)",
    )


class TrialsPublic(BaseModel):
    data: list[TrialPublic]
    count: int


class AskAnswer(TrialsPublic):
    """The trials handed out. An empty ``data`` with ``retry_after`` means "nothing for you
    now, but the study still needs clients" (trials paused, queued for a resume, or in
    flight): ask again after that many seconds. An empty ``data`` without it: the study is
    finished."""

    retry_after: float | None = None


class AskRequest(_In):
    count: Annotated[int, NotBool] = Field(default=1, ge=1, le=MAX_TRIALS_PER_REQUEST)


WorkerName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="who does the work: a Caviar worker sends its Celery hostname and pid",
    ),
]


class StartRequest(_In):
    """A worker's claim of a queued trial's attempt. The answer carries the attempt's
    ``claim``. The same worker may repeat its claim after a lost answer, and gets the same
    claim, if it sends the same ``worker`` and ``nonce`` (a secret of its own) again."""

    attempt: Attempt
    worker: WorkerName | None = None
    nonce: str | None = Field(
        default=None,
        min_length=16,
        max_length=128,
        pattern=NO_NUL,
        description="the claimer's own secret: a repeated claim must send the same one",
    )


class HeartbeatRequest(_In):
    attempt: Attempt
    worker: WorkerName | None = None


class HeartbeatAnswer(BaseModel):
    """The answer to a heartbeat: the trial's state and current attempt. Further fields (such
    as commands waiting for the worker) may be added; clients ignore what they don't know."""

    state: TrialState
    attempt: int
    commands: list[CommandPublic] = Field(
        default_factory=list, description="the trial's pending commands (panda mode)"
    )


class Applied(_In):
    """A command the trainer carried out (or refused, with ``error``) at ``step``."""

    id: Id
    step: Step
    error: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


class ReportCreate(_In):
    attempt: Attempt
    step: Step
    value: Value
    metrics: dict[MetricName, Value] = Field(
        default_factory=dict, max_length=MAX_METRICS, json_schema_extra=keys_by_pattern
    )
    worker: WorkerName | None = None
    applied: list[Applied] = Field(default_factory=list, max_length=1000)


class ReportItem(_In):
    """One step's report inside a batch (``ReportBatchCreate``)."""

    step: Step
    value: Value
    metrics: dict[MetricName, Value] = Field(
        default_factory=dict, max_length=MAX_METRICS, json_schema_extra=keys_by_pattern
    )


class ReportBatchCreate(_In):
    """Several steps of one attempt, in the order they were reached: what a worker that
    buffers its fast epochs sends at most every half second."""

    attempt: Attempt
    reports: list[ReportItem] = Field(min_length=1, max_length=MAX_REPORTS_PER_BATCH)
    worker: WorkerName | None = None
    applied: list[Applied] = Field(default_factory=list, max_length=1000)


CommandAction = Literal["set", "pause", "resume", "stop"]
CommandState = Literal["pending", "applied", "rejected"]


class CommandCreate(_In):
    """A person's command to one trial. ``set`` takes ``params`` (live hyperparameters only)."""

    action: CommandAction
    params: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PARAMS)
    note: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)
    author: str | None = Field(default=None, max_length=200, pattern=NO_NUL)


class CommandPublic(BaseModel):
    id: int
    trial_id: int
    action: CommandAction
    params: dict[str, Any]
    note: str | None
    author: str | None = None
    state: CommandState
    created_at: datetime
    applied_at: datetime | None = None
    applied_step: int | None = None
    reason: str | None = None


class CommandsPublic(BaseModel):
    data: list[CommandPublic]
    count: int


HeartbeatAnswer.model_rebuild()


class ReportAnswer(BaseModel):
    """``commands``: the trial's pending commands, to apply before the next mini-batch and
    acknowledge in the next report (``applied``)."""

    prune: bool
    reason: dict[str, Any] | None = None
    commands: list[CommandPublic] = Field(default_factory=list)


class ReportBatchAnswer(ReportAnswer):
    """``step``: with ``prune``, the step the pruner stopped the trial at (the steps after it
    in the batch were not stored)."""

    step: int | None = None


class StartAnswer(TrialPublic):
    """The claimed trial, with its pending commands (a ``set`` sent while it was queued, a
    fork's edits): the trainer applies them before its first mini-batch. None from an api that
    does not say; then the trainer polls for them."""

    commands: list[CommandPublic] | None = None


class CompanionsRequest(_In):
    """A worker that holds ``attempt`` of a ``train`` trial claims up to ``count`` more queued
    trials of its study to train with it, fused (see the life of a trial). Claims are made as
    ``/start`` makes them, with the same ``worker`` and ``nonce``, so a request repeated after
    a lost answer gets the same trials and claims again. Fewer than ``min_count`` candidates:
    none is claimed."""

    attempt: Attempt
    worker: WorkerName | None = None
    nonce: str = Field(min_length=16, max_length=128, pattern=NO_NUL)
    count: Annotated[int, NotBool] = Field(ge=1, le=MAX_TRIALS_PER_REQUEST)
    min_count: Annotated[int, NotBool] = Field(default=1, ge=1, le=MAX_TRIALS_PER_REQUEST)


class Companion(StartAnswer):
    """A trial claimed to train fused with another: the claim's answer, with what its own
    broker message would have said (``seed``, ``resume``)."""

    seed: int
    resume: bool


class CompanionsAnswer(BaseModel):
    data: list[Companion]


class PollRequest(_In):
    attempt: Attempt
    applied: list[Applied] = Field(default_factory=list, max_length=1000)


class PollAnswer(BaseModel):
    """What a training process learns between reports: its trial's state and attempt, and the
    pending commands. A state other than ``running`` or another attempt means: stop."""

    state: TrialState
    attempt: int
    commands: list[CommandPublic] = Field(default_factory=list)


class PauseRequest(_In):
    """The trainer stopped for a pause after ``step`` reports and saved its checkpoint."""

    attempt: Attempt
    step: Step
    applied: list[Applied] = Field(default_factory=list, max_length=1000)


class ForkCreate(_In):
    """A new trial from ``trial``'s checkpoint at or before ``step`` (default: the latest),
    with ``params`` edited (live hyperparameters only)."""

    params: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PARAMS)
    step: Step | None = None
    note: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


class CheckpointPublic(BaseModel):
    id: int
    trial_id: int
    attempt: int
    step: int
    sha256: str
    size: int
    created_at: datetime


class CheckpointsPublic(BaseModel):
    data: list[CheckpointPublic]
    count: int


class ReportPublic(BaseModel):
    trial_id: int
    attempt: int
    step: int
    value: float
    metrics: dict[str, float]


class ReportsPublic(BaseModel):
    data: list[ReportPublic]
    count: int


class TellCreate(_In):
    attempt: Attempt
    state: TellState
    value: Value | None = None
    error: ErrorText | None = None
    worker: WorkerName | None = None


class RegionPublic(BaseModel):
    id: int
    stage: int
    bounds: dict[str, dict[str, Any]]
    unit_bounds: dict[str, list[float]]
    parent: int | None
    defined_by: list[int] = Field(description="ids of the trials whose results chose this region")
    trials: int = Field(description="number of trials sampled in this region")
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class TrialDispatch(BaseModel):
    """What the api sends a worker through the broker: ids and small values only."""

    trial_id: int
    attempt: int
    params: dict[str, Any]
    objective: dict[str, Any]
    seed: int = Field(default=0, description="seeds the trial's own randomness (init, shuffles)")
    heartbeat_every: float = Field(
        default=5.0, description="seconds between the worker's heartbeats: min(5, grace / 4)"
    )
    resume: bool = Field(
        default=True,
        description="whether the trial may have a checkpoint to continue from (false for the "
        "first attempt of a trial that is not a fork: the worker does not look for one)",
    )


class DatasetPublic(BaseModel):
    """An uploaded dataset version. ``ref`` ("name@version") is what a train study names."""

    id: int
    name: str
    version: int
    ref: str
    sha256: str
    size: int
    n_rows: int
    n_features: int
    classes: list[str]
    created_at: datetime


class DatasetsPublic(BaseModel):
    data: list[DatasetPublic]
    count: int
