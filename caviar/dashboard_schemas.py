"""Wire schemas of the dashboard's endpoints (plot data for the web dashboard).

Plot data is columnar (one list per field, aligned by index) and, for large studies, a sample:
the dashboard draws it, and reads exact trials through the table endpoint. Floats in plot data
are rounded to 6 significant digits.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from caviar.states import TrialState


class TrialColumns(BaseModel):
    """Finished trials, one list per field; ``params[name][i]`` belongs to ``number[i]``."""

    number: list[int] = Field(default_factory=list)
    id: list[int] = Field(default_factory=list)
    state: list[TrialState] = Field(default_factory=list)
    value: list[float | None] = Field(default_factory=list)
    stage: list[int] = Field(default_factory=list)
    params: dict[str, list[Any]] = Field(default_factory=dict)
    prune_reason: list[dict[str, Any] | None] = Field(default_factory=list)


class CurveCommand(BaseModel):
    """A command applied to a trial, marked on its curve at the step of the first report that
    shows it."""

    step: int
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class CurveTrial(BaseModel):
    number: int
    state: TrialState
    prune_reason: dict[str, Any] | None = None
    interventions: list[CurveCommand] = Field(
        default_factory=list, description="the commands applied to the trial, by step"
    )


class Curves(BaseModel):
    """Learning curves, flat: report i is (trial[i], step[i], value[i], metrics[k][i]).

    Reports are grouped by trial and ordered by step. A trial listed here has all its reports
    listed (an update replaces the trial's earlier curve); ``trials`` says the state and the prune
    reason of each listed trial.
    """

    trials: list[CurveTrial] = Field(default_factory=list)
    trial: list[int] = Field(default_factory=list, description="trial numbers")
    step: list[int] = Field(default_factory=list)
    value: list[float] = Field(default_factory=list)
    metrics: dict[str, list[float | None]] = Field(default_factory=dict)


class BestSoFar(BaseModel):
    """The trials (by number) at which the best completed value improved, and the values."""

    number: list[int] = Field(default_factory=list)
    value: list[float] = Field(default_factory=list)


class DashboardSnapshot(BaseModel):
    """What the study page draws first. Continue with updates(after=cursor, watch=pending)."""

    study_id: int
    total: int = Field(description="trials created so far")
    finished: int = Field(description="trials in a finished state")
    cursor: int = Field(description="the highest trial number this snapshot has seen, or -1")
    pending: list[int] = Field(description="numbers of trials in flight (queued or running)")
    sampled: bool = Field(description="true when `trials` is a sample of the finished trials")
    trials: TrialColumns
    best: BestSoFar
    curves: Curves
    importance: dict[str, float] = Field(
        description="per hyperparameter, the share of the variance of the objective's rank "
        "explained by binning it (0..1), from the trials above"
    )
    pair: list[str] = Field(description="the two hyperparameters that matter most")


class DashboardUpdates(BaseModel):
    """What changed since a snapshot or an earlier update: new trials (number > after) and the
    watched in-flight trials that finished. ``more`` asks the client to poll again at once."""

    cursor: int
    more: bool
    pending: list[int]
    trials: TrialColumns
    curves: Curves


class DistinctValues(BaseModel):
    """How many distinct values of each hyperparameter a grid and random search try with the
    study's number of trials (the grid at ``points_per_param`` points per hyperparameter)."""

    trials: int
    points_per_param: int
    params: dict[str, dict[str, float]]


class ObjectiveOptions(BaseModel):
    functions: list[str]
    datasets: list[str]
    metrics: list[str]
    trainer_params: dict[str, dict[str, Any]]


class DashboardOptions(BaseModel):
    """What the new-study form offers: objectives, and the JSON schema of every strategy and
    pruner option model (so the form follows ``caviar.search_config``); the trial states, in
    their order, for the trials table's filter."""

    objective: ObjectiveOptions
    trial_states: list[TrialState]
    strategies: dict[str, dict[str, Any]]
    pruners: dict[str, dict[str, Any]]
    defaults: dict[str, Any]
