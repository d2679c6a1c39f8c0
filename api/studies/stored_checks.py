"""The checks of a new study that need the database: its uploaded dataset and its warm start's
earlier study exist.

``problems(session, objective, warm_start_id)`` serves a body that passed the schema;
``raw_problems(session, body)`` runs the same checks on the parts of a raw body that pass the
schema on their own, so that a body that failed the schema elsewhere (a bad ``metric``) still
learns in the same 422 that its dataset or warm start is unknown.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from api.datasets import service as dataset_service
from api.db.models import Dataset, Study
from api.errors import NotFound
from api.studies.checks import Problem, lenient_objective
from caviar.bounds import Id
from caviar.schemas import TrainObjective
from caviar.trainer_params import BUILTIN_DATASETS

_id = TypeAdapter(Id)


def uploaded_dataset(session: Session, objective: Any) -> Dataset | None:
    """The stored version a train objective names; None for a built-in dataset or another
    objective. Raises NotFound for a name no upload has."""
    if not isinstance(objective, TrainObjective) or objective.dataset in BUILTIN_DATASETS:
        return None
    return dataset_service.resolve(session, objective.dataset)


def _dataset(session: Session, objective: Any) -> list[Problem]:
    try:
        uploaded_dataset(session, objective)
    except NotFound:
        dataset = objective.dataset
        message = (
            f"unknown dataset {dataset!r}; built-in: {', '.join(BUILTIN_DATASETS)}, "
            "or upload one at /api/datasets"
        )
        return [(("objective", "dataset"), message)]
    return []


def _warm_start(session: Session, study_id: int | None) -> list[Problem]:
    if study_id is None or session.get(Study, study_id) is not None:
        return []
    return [(("warm_start", "study_id"), f"study {study_id} not found")]


def problems(session: Session, objective: Any, warm_start_id: int | None) -> list[Problem]:
    """Every stored thing a (partly) valid body names and the database lacks."""
    return _dataset(session, objective) + _warm_start(session, warm_start_id)


def _raw_warm_start_id(body: dict[str, Any]) -> int | None:
    warm = body.get("warm_start")
    if not isinstance(warm, dict):
        return None
    try:
        return _id.validate_python(warm.get("study_id"))
    except ValidationError:
        return None


def raw_problems(session: Session, body: Any) -> list[Problem]:
    """The same checks on the parts of a raw body that pass the schema on their own."""
    if not isinstance(body, dict):
        return []
    return problems(session, lenient_objective(body.get("objective")), _raw_warm_start_id(body))
