"""Uploaded CSV datasets: validated, stored by content hash, versioned per name."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import Dataset, Trial
from api.errors import FieldError, NotFound
from caviar.bounds import MAX_DATASET_VERSION_DIGITS
from caviar.csv_dataset import CsvDatasetError, parse_csv
from caviar.schemas import DatasetPublic

NewVersionListener = Callable[[Session, str], list[Trial]]
_listeners: list[NewVersionListener] = []


def on_new_version(listener: NewVersionListener) -> NewVersionListener:
    """Register ``listener(session, name)``: called in the upload's transaction when a new
    version of dataset ``name`` is stored; returns trials to dispatch after commit (re-tests
    register here, so datasets import nothing above them)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def new_version(session: Session, name: str) -> list[Trial]:
    return [t for listener in _listeners for t in listener(session, name)]


def public(d: Dataset) -> DatasetPublic:
    return DatasetPublic(
        id=d.id,
        name=d.name,
        version=d.version,
        ref=f"{d.name}@{d.version}",
        sha256=d.sha256,
        size=d.size,
        n_rows=d.n_rows,
        n_features=d.n_features,
        classes=[str(c) for c in d.classes],
        created_at=d.created_at,
    )


def upload(session: Session, name: str, raw: bytes, max_bytes: int) -> tuple[Dataset, bool]:
    """Store ``raw`` as the next version of ``name``; (dataset, created). Uploading the same
    content as the latest version again returns that version (created False)."""
    try:
        table = parse_csv(raw, max_bytes)
    except CsvDatasetError as exc:
        raise FieldError(("body",), f"malformed CSV: {exc}") from exc
    sha = hashlib.sha256(raw).hexdigest()
    _serialize(session, name)
    latest = latest_version(session, name)
    if latest is not None and latest.sha256 == sha:
        return latest, False
    dataset = Dataset(
        name=name,
        version=(latest.version + 1) if latest else 1,
        sha256=sha,
        size=len(raw),
        n_rows=table.n_rows,
        n_features=table.n_features,
        classes=list(table.class_names),
        content=raw,
    )
    session.add(dataset)
    session.flush()
    session.refresh(dataset)  # created_at comes from the database
    return dataset, True


def _serialize(session: Session, name: str) -> None:
    """Concurrent uploads of one name take turns for the next version number. SQLite writers
    already take turns (``BEGIN IMMEDIATE``); PostgreSQL takes a transaction advisory lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"dataset:{name}"))))


def latest_version(session: Session, name: str) -> Dataset | None:
    return session.scalars(
        select(Dataset).where(Dataset.name == name).order_by(Dataset.version.desc()).limit(1)
    ).first()


def resolve(session: Session, ref: str) -> Dataset:
    """ "name" (latest version) or "name@version" → the stored dataset, or NotFound."""
    name, _, version = ref.partition("@")
    if not version:
        found = latest_version(session, name)
    elif version.isdigit() and len(version) <= MAX_DATASET_VERSION_DIGITS:
        found = session.scalars(
            select(Dataset).where(Dataset.name == name, Dataset.version == int(version))
        ).first()
    else:
        found = None
    if found is None:
        raise NotFound("dataset", ref)
    return found


def list_all(session: Session, offset: int, limit: int) -> tuple[list[Dataset], int]:
    count = session.scalar(select(func.count()).select_from(Dataset)) or 0
    rows = session.scalars(
        select(Dataset).order_by(Dataset.name, Dataset.version.desc()).offset(offset).limit(limit)
    )
    return list(rows), count
