"""Typed view of a stored study's config (validated once at creation, re-read here)."""

from __future__ import annotations

from api.db.models import Study
from caviar.schemas import StudyCreate


def config_of(study: Study) -> StudyCreate:
    return StudyCreate.model_validate(study.config)
