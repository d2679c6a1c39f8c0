"""Strategy and pruner options of a study, validated at study creation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from caviar.bounds import DB_INT_MAX, NotBool


def _name_required(schema: dict[str, Any]) -> None:
    """The union's tag ``name`` is required on the wire, even where it has a default."""
    required = schema.setdefault("required", [])
    if "name" not in required:
        required.insert(0, "name")


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_name_required)


class RandomStrategy(_Options):
    """Every trial draws every hyperparameter afresh, on its scale. The default."""

    name: Literal["random"] = "random"


class GridStrategy(_Options):
    """A grid, offered only to show how much worse it does than random search."""

    name: Literal["grid"]
    points_per_param: Annotated[int, NotBool] = Field(default=5, ge=2, le=1000)


class CoarseToFineStrategy(_Options):
    """Sample the whole box, zoom into the region around the best trials, repeat.

    Defaults measured with ``bench/bench_search.py`` (5 problems x 20 seeds x 100 trials).
    """

    name: Literal["coarse_to_fine"]
    stage_trials: Annotated[int, NotBool] = Field(
        default=16,
        ge=2,
        le=100_000,
        description="Finished trials a region gets before the next zoom.",
    )
    top_fraction: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Share of the region's trials that define the next region.",
    )
    margin: float = Field(
        default=0.25,
        ge=0,
        le=10,
        description="Widening on each side of the best trials' span, as a share of the parent's "
        "width.",
    )
    min_width: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Smallest width of a region, as a share of the whole range.",
    )
    explore_fraction: float = Field(
        default=0.15,
        ge=0,
        lt=1,
        description="Share of the trials that keep searching the whole space.",
    )
    sampler: Literal["gp", "sobol", "random"] = Field(
        default="gp",
        description="How points are drawn inside a region: a Gaussian process with expected "
        "improvement (gp), a Sobol sequence, or uniformly at random.",
    )
    restart_after: Annotated[int, NotBool] = Field(
        default=0,
        ge=0,
        le=1000,
        description="After this many stalled regions in a row (a region whose own trials did "
        "not beat what was known when it opened), the next region is drawn around the best "
        "trials outside the stalled one: a restart in another basin. 0: never.",
    )


Strategy = Annotated[
    RandomStrategy | GridStrategy | CoarseToFineStrategy, Field(discriminator="name")
]


class NoPruner(_Options):
    name: Literal["none"] = "none"


class MedianPruner(_Options):
    """Stop a trial whose value at a step is worse than the median of others at that step."""

    name: Literal["median"]
    warmup_steps: Annotated[int, NotBool] = Field(default=2, ge=0, le=DB_INT_MAX)
    min_trials: Annotated[int, NotBool] = Field(default=4, ge=1, le=1_000_000)


class AshaPruner(_Options):
    """Asynchronous successive halving: at rungs min_resource·η^k keep the best 1/η."""

    name: Literal["asha"]
    min_resource: Annotated[int, NotBool] = Field(default=1, ge=1, le=DB_INT_MAX)
    reduction_factor: Annotated[int, NotBool] = Field(default=3, ge=2, le=1000)
    bootstrap_count: Annotated[int, NotBool] = Field(default=0, ge=0, le=1_000_000)


Pruner = Annotated[NoPruner | MedianPruner | AshaPruner, Field(discriminator="name")]
