"""The new-study form's choices, from the contract's own definitions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, get_args

from pydantic import BaseModel

from caviar import search_config as cfg
from caviar.dashboard_schemas import DashboardOptions, ObjectiveOptions
from caviar.functions import FunctionName
from caviar.schemas import StudyCreate
from caviar.states import TRIAL_STATES
from caviar.trainer_params import BUILTIN_DATASETS, TRAINER_PARAMS, Metric


def options() -> DashboardOptions:
    def schemas(models: Iterable[type[BaseModel]]) -> dict[str, dict[str, Any]]:
        out = {}
        for m in models:
            schema = m.model_json_schema()
            schema["properties"].pop("name", None)
            out[_tag(m)] = schema
        return out

    return DashboardOptions(
        objective=ObjectiveOptions(
            functions=list(get_args(FunctionName)),
            datasets=list(BUILTIN_DATASETS),
            metrics=list(get_args(Metric)),
            trainer_params={
                name: {"default": d, "kind": kind, "allowed": list(a) if a else None}
                for name, (d, kind, a) in TRAINER_PARAMS.items()
            },
        ),
        trial_states=list(TRIAL_STATES),
        strategies=schemas([cfg.RandomStrategy, cfg.GridStrategy, cfg.CoarseToFineStrategy]),
        pruners=schemas([cfg.NoPruner, cfg.MedianPruner, cfg.AshaPruner]),
        defaults={
            name: f.default
            for name, f in StudyCreate.model_fields.items()
            if f.default is not None and isinstance(f.default, int | float | str)
        },
    )


def _tag(model: type[BaseModel]) -> str:
    return str(get_args(model.model_fields["name"].annotation)[0])
