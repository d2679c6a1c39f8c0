"""The checks of a new study that its schema cannot make, collected rather than raised one by
one, so that a client sees every problem of a body in one 422.

``problems(space, objective, direction)`` takes the parts of a body that passed the schema
(a space may hold only its valid hyperparameters); ``raw_problems(body)`` validates each part
of a raw JSON body on its own and runs the same checks on what passed, for the 422 of a body
that failed the schema elsewhere.
"""

from __future__ import annotations

import math
from typing import Any, get_args

import numpy as np
from pydantic import TypeAdapter, ValidationError

from api.search.transforms import from_unit
from caviar.functions import FUNCTIONS
from caviar.schemas import Direction, Objective, TrainObjective
from caviar.space import CategoricalParam, IntParam, Param
from caviar.trainer_params import TRAINER_PARAMS, parse_hyperparams

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
DIRECTIONS = get_args(Direction)

_param = TypeAdapter(Param)
_objective = TypeAdapter(Objective)


def _function(name: str, space: dict[str, Any]) -> list[Problem]:
    """The function is evaluated at the centre of the space: it must accept the space and give
    a finite value there (``rosenbrock`` on ``high: 2e200`` overflows: a 422, not a 500)."""
    centre = {n: from_unit(p, 0.5) for n, p in space.items()}
    try:
        with np.errstate(all="raise"):
            value = FUNCTIONS[name](centre)  # type: ignore[index]
    except (ValueError, TypeError) as exc:
        return [(("objective", "name"), f"{name}: {exc}")]
    except (OverflowError, FloatingPointError):
        value = math.inf
    if not isinstance(value, int | float) or not math.isfinite(value):
        return [
            (
                ("space",),
                f"{name} is not finite at the centre of this space: narrow the ranges",
            )
        ]
    return []


def _trainer_value(loc: Loc, name: str, value: Any) -> list[Problem]:
    """One trainer hyperparameter against the contract's types and ranges."""
    try:
        parse_hyperparams({name: value})
    except ValueError as exc:
        return [(loc, str(exc))]
    return []


def _train(
    space: dict[str, Any], objective: TrainObjective, direction: str | None
) -> list[Problem]:
    out: list[Problem] = []
    known = ", ".join(sorted(TRAINER_PARAMS))
    for name, p in space.items():
        if name not in TRAINER_PARAMS:
            out.append(
                (("space", name), f"unknown trainer hyperparameter {name!r}; known: {known}")
            )
            continue
        kind = TRAINER_PARAMS[name][1]
        if isinstance(p, CategoricalParam):
            for i, choice in enumerate(p.choices):
                out += _trainer_value(("space", name, "choices", i), name, choice)
        elif kind == "categorical":
            out.append((("space", name, "type"), f"{name} is categorical"))
        elif kind == "int" and not isinstance(p, IntParam):
            out.append((("space", name, "type"), f"{name} is an integer: use type int"))
        else:
            # The ranges are intervals: both bounds valid means every value between is.
            out += _trainer_value(("space", name, "low"), name, p.low)
            out += _trainer_value(("space", name, "high"), name, p.high)
    for name, value in objective.fixed.items():
        if name not in TRAINER_PARAMS:
            loc = ("objective", "fixed", name)
            out.append((loc, f"unknown trainer hyperparameter {name!r}; known: {known}"))
        else:
            out += _trainer_value(("objective", "fixed", name), name, value)
    loss_metric = objective.metric != "val_accuracy"
    if direction is not None and loss_metric != (direction == "minimize"):
        want = "minimize" if loss_metric else "maximize"
        out.append(
            (("direction",), f"{objective.metric} is {want[:-1]}ed: set direction to {want}")
        )
    return out


def problems(
    space: dict[str, Any], objective: Any, direction: str | None, *, whole_space: bool = True
) -> list[Problem]:
    """Every problem of a (partly) valid body; ``whole_space`` False when some hyperparameters
    were left out for failing the schema (a function objective is then not tried)."""
    if isinstance(objective, TrainObjective):
        return _train(space, objective, direction)
    if getattr(objective, "kind", None) == "function" and whole_space and space:
        return _function(objective.name, space)
    return []


def lenient_objective(raw: Any) -> Any:
    """The objective, its fields that fail the schema left at their defaults (their own 422
    names them), so the checks beyond the schema still see the rest; None if even that fails."""
    try:
        return _objective.validate_python(raw)
    except ValidationError as exc:
        if not isinstance(raw, dict):
            return None
        bad = {str(e["loc"][1]) for e in exc.errors() if len(e["loc"]) > 1}
        try:
            return _objective.validate_python({k: v for k, v in raw.items() if k not in bad})
        except ValidationError:
            return None


def raw_problems(body: Any) -> list[Problem]:
    """The same checks on the parts of a raw body that pass the schema on their own."""
    if not isinstance(body, dict):
        return []
    raw_space = body.get("space")
    space: dict[str, Any] = {}
    whole = isinstance(raw_space, dict)
    for name, raw in (raw_space if isinstance(raw_space, dict) else {}).items():
        try:
            space[name] = _param.validate_python(raw)
        except ValidationError:
            whole = False
    objective = lenient_objective(body.get("objective"))
    if objective is None:
        return []
    direction = body.get("direction", "minimize")
    return problems(
        space,
        objective,
        direction if direction in DIRECTIONS else None,
        whole_space=whole,
    )
