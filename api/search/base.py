"""The strategy contract: given a study's space, seed, finished trials and stored regions,
suggest params for trials with the given numbers.

Strategies are pure: the service loads the state, calls ``suggest``, and stores the suggested
trials and any new region. Values in ``Observation`` are oriented so that lower is better.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from api.search.transforms import Param

if TYPE_CHECKING:
    from api.search.table import ObservationTable


@dataclass(frozen=True)
class Observation:
    """A finished trial (completed, or pruned with a value), as a strategy sees it.

    ``value`` is the trial's final value; for a pruned trial, the one at its last reported
    ``step``. ``step`` is the last step the trial reported (None when it reported none)."""

    number: int
    params: dict[str, Any]
    unit: dict[str, float]
    value: float  # lower is better
    region_id: int | None
    stage: int
    pruned: bool = False
    step: int | None = None


@dataclass
class RegionView:
    """A region of the space: unit-space bounds per numeric param, choices per categorical.

    ``id`` is None for a region this call drafted; the service stores it and fills the id.
    ``defining_numbers``: the numbers of the trials whose results chose a drafted region (the
    search knows trials by number); the stored region keeps their ids (``defined_by``), and a
    view loaded from it leaves this empty, so a field never mixes numbers and ids.
    """

    stage: int
    unit_bounds: dict[str, tuple[float, float]]
    choices: dict[str, list[Any]] = field(default_factory=dict)
    parent_id: int | None = None
    defining_numbers: list[int] = field(default_factory=list)
    id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingTrial:
    """A trial suggested earlier that has not finished yet (queued or running)."""

    number: int
    unit: dict[str, float]
    region_id: int | None = None
    stage: int = 0


@dataclass(frozen=True)
class SearchState:
    """What a strategy sees. ``observations`` are the finished trials that have a value (the
    service leaves out those a person steered).
    ``pending`` is optional: when the service fills it with the unit
    values of the queued and running trials, model-based strategies steer new suggestions away
    from them (without it, only ``in_flight`` is known)."""

    space: dict[str, Param]
    seed: int
    observations: list[Observation]
    in_flight: int
    regions: list[RegionView]  # stored regions, oldest first; regions[0] is the whole space
    pending: list[PendingTrial] = field(default_factory=list)
    #: The finished trials' values at one step, by trial number (lower is better); None when
    #: the service keeps no curves. Strategies that rank pruned trials use it.
    values_at: Callable[[int], Mapping[int, float]] | None = None
    #: ``observations`` as columns, when the service keeps them between calls (it may then
    #: leave ``observations`` empty); strategies build it themselves otherwise.
    table: ObservationTable | None = None


@dataclass(frozen=True)
class Suggestion:
    number: int
    params: dict[str, Any]
    region: RegionView


@dataclass(frozen=True)
class Recommendation:
    """The configuration a strategy recommends: a finished trial, and the value its model
    expects there (lower is better)."""

    number: int
    mean: float


class BaseStrategy(ABC):
    """Suggests the params of new trials."""

    #: False when ``suggest`` ignores ``observations``; the service then skips loading them.
    needs_history: bool = True

    @abstractmethod
    def suggest(self, state: SearchState, numbers: list[int]) -> list[Suggestion]:
        """One suggestion per number, in order. Same state and numbers → same suggestions."""


def whole_space(space: dict[str, Param]) -> RegionView:
    """Stage 0: the whole box."""
    from caviar.space import CategoricalParam

    return RegionView(
        stage=0,
        unit_bounds={
            n: (0.0, 1.0) for n, p in space.items() if not isinstance(p, CategoricalParam)
        },
        choices={n: list(p.choices) for n, p in space.items() if isinstance(p, CategoricalParam)},
    )
