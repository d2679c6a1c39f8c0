"""Typed SQLAlchemy models: studies, trials, trial reports, trial events, regions, datasets,
re-tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from api.db.base import Base, TimestampMixin, UTCDateTime
from caviar.roles import ROLES
from caviar.states import TRIAL_STATES, sql_in

# SQLite hands a deleted row's id out again unless its table is AUTOINCREMENT: ids are never
# reused, so a late write of a deleted trial finds nothing (404) rather than another trial.
RETIRED_IDS = {"sqlite_autoincrement": True}


class Study(TimestampMixin, Base):
    __tablename__ = "studies"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    direction: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="running")
    seed: Mapped[int] = mapped_column(BigInteger)
    # Trials created so far: the next trial number. Bumped under the study row's write lock.
    trial_count: Mapped[int] = mapped_column(Integer, default=0)
    # Seconds without a report before a running trial is requeued; None: never (from config).
    heartbeat_grace: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Re-testing: trials created by rounds (not counted against max_trials), the next
    # scheduled round (database clock), the latest verdict's flag, what a warm start kept.
    retest_trials: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retest_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    stale: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    stale_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    warm_start_report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Trials forked by a person: they take numbers but not places among ``max_trials``.
    fork_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'cancelled')", name="status"),
        CheckConstraint("direction IN ('minimize', 'maximize')", name="direction"),
        RETIRED_IDS,
    )


class Region(TimestampMixin, Base):
    """A box of the search space that a stage samples from (stage 0: the whole space)."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    stage: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), nullable=True)
    bounds: Mapped[dict[str, Any]] = mapped_column(JSON)  # real units, per param
    unit_bounds: Mapped[dict[str, Any]] = mapped_column(JSON)  # [lo, hi] in unit space
    defining_trials: Mapped[list[int]] = mapped_column(JSON)  # trial ids that chose it
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_regions_study_stage", "study_id", "stage"), RETIRED_IDS)


class Trial(TimestampMixin, Base):
    """A trial. ``worker`` names the worker that claimed the current attempt (its Celery
    hostname and pid, or what an external client sent); ``heartbeat_at`` is when that attempt
    was last heard of, on the database's clock."""

    __tablename__ = "trials"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    stage: Mapped[int] = mapped_column(Integer, default=0)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    prune_reason: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dispatch_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    retest_round_id: Mapped[int | None] = mapped_column(
        ForeignKey("retest_rounds.id", ondelete="CASCADE"), nullable=True
    )
    # A fork's parent trial and the parent's step it continues from.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("trials.id"), nullable=True)
    forked_at_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # a fork's note
    # The step a person's ``stop`` finished it at: a partial run, ranked with runs of its length.
    stopped_at_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The claim: the secret of the current attempt, held by the worker or client that claimed
    # it and sent with each of that attempt's writes; ``claim_nonce``, the claimer's own secret,
    # lets the same claimer repeat its claim after a lost answer. Both cleared at each new
    # attempt.
    claim: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim_nonce: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A person steered it (a fork, or it applied a ``set``), set then and never cleared: its
    # value is not what its params give from scratch, so what learns from params or runs them
    # again leaves it out (the strategy's history, the pruner's peers, re-test champions and
    # verdicts, warm starts, the dashboard's parameter importance).
    steered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        UniqueConstraint("study_id", "number"),
        Index("ix_trials_retest_round", "retest_round_id"),
        Index("ix_trials_study_state_value", "study_id", "state", "value"),
        Index("ix_trials_state_heartbeat", "state", "heartbeat_at"),
        Index("ix_trials_study_region", "study_id", "region_id"),
        CheckConstraint(sql_in("state", TRIAL_STATES), name="state"),
        RETIRED_IDS,
    )


class TrialReport(Base):
    """An intermediate value of a trial, keyed by (trial, attempt, step): a requeued trial's
    new attempt never overwrites, nor mixes with, what an earlier attempt reported."""

    __tablename__ = "trial_reports"

    trial_id: Mapped[int] = mapped_column(
        ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_trial_reports_study_step", "study_id", "step"),)


class TrialEvent(TimestampMixin, Base):
    """What happened to a trial's attempt, for operators: one row per event.

    ``kind``: ``claimed`` (a worker started the attempt), ``reclaimed`` (the same worker
    claimed it again after a lost answer), ``requeued`` (silent past its grace: back to the
    queue with the next attempt), ``failed`` (silent on its last attempt), ``resent`` (its
    broker message was missing and was sent again), ``paused``, ``resumed``, ``stopped`` (a
    person's doing, or its trainer's pause). ``reason`` says why in plain words;
    ``worker`` is the worker concerned, when one is known. Newest first by ``created_at``.
    """

    __tablename__ = "trial_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"))
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (
        Index("ix_trial_events_created_at", "created_at"),
        Index("ix_trial_events_trial_id", "trial_id"),
        RETIRED_IDS,
    )


class Dataset(TimestampMixin, Base):
    """A user-uploaded CSV dataset, stored by content hash with a version per name."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    n_rows: Mapped[int] = mapped_column(Integer)
    n_features: Mapped[int] = mapped_column(Integer)
    classes: Mapped[list[Any]] = mapped_column(JSON)
    content: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        UniqueConstraint("name", "version"),
        Index("ix_datasets_sha256", "sha256"),
        RETIRED_IDS,
    )


class RetestRound(TimestampMixin, Base):
    """A re-test round: the top configurations again with fresh seeds, next to challengers."""

    __tablename__ = "retest_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    dataset: Mapped[str | None] = mapped_column(String(160), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="running")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    results: Mapped[list[Any]] = mapped_column(JSON)  # [RoundResult]
    # The champion's value as the study recorded it when the round started.
    baseline: Mapped[float | None] = mapped_column(Float, nullable=True)
    champion: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(8), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint("study_id", "number"),
        Index("ix_retest_rounds_state", "state"),
        CheckConstraint("trigger IN ('schedule', 'new_data', 'manual')", name="trigger"),
        CheckConstraint("state IN ('running', 'finished')", name="state"),
        CheckConstraint("verdict IN ('fresh', 'stale')", name="verdict"),
        RETIRED_IDS,
    )


class SchedulerLease(Base):
    """Who may fire scheduled work: one holder at a time, judged by the database's clock."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(TimestampMixin, Base):
    """A bearer token of the api, stored as the SHA-256 of the token (never the token itself)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (CheckConstraint(sql_in("role", ROLES), name="role"), RETIRED_IDS)


class CheckpointBlob(Base):
    """A checkpoint's bytes, stored once per content (sha256) however many trials point to it."""

    __tablename__ = "checkpoint_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Checkpoint(TimestampMixin, Base):
    """A trial's training state after ``step`` reports, written by ``attempt``."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("checkpoint_blobs.sha256"))

    __table_args__ = (Index("ix_checkpoints_trial_step", "trial_id", "step"), RETIRED_IDS)


class TrialCommand(TimestampMixin, Base):
    """A person's command to a trial (set, pause, resume, stop) and what became of it."""

    __tablename__ = "trial_commands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    author: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    applied_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_trial_commands_trial_state", "trial_id", "state"),
        CheckConstraint("action IN ('set', 'pause', 'resume', 'stop')", name="action"),
        CheckConstraint("state IN ('pending', 'applied', 'rejected')", name="state"),
        RETIRED_IDS,
    )
