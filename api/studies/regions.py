"""Stored regions ↔ the strategy's RegionView, and their public form."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import Region, Trial
from api.search.base import RegionView
from api.search.regions import real_bounds
from api.search.transforms import Param
from caviar.schemas import RegionPublic
from caviar.space import CategoricalParam


def public_bounds(space: dict[str, Param], view: RegionView) -> dict[str, dict[str, Any]]:
    """A region's bounds in real units, as stored and served: {low, high, scale} or {choices}."""
    out: dict[str, dict[str, Any]] = {}
    for name, b in real_bounds(view, space).items():
        p = space[name]
        if isinstance(p, CategoricalParam):
            out[name] = {"choices": list(b)}
        else:
            out[name] = {"low": b[0], "high": b[1], "scale": p.scale}
    return out


def store_region(
    session: Session,
    study_id: int,
    space: dict[str, Param],
    view: RegionView,
    defining_trial_ids: list[int],
) -> Region:
    region = Region(
        study_id=study_id,
        stage=view.stage,
        parent_id=view.parent_id,
        bounds=public_bounds(space, view),
        unit_bounds={k: [float(lo), float(hi)] for k, (lo, hi) in view.unit_bounds.items()},
        defining_trials=defining_trial_ids,
        details={**view.details, "choices": view.choices},
    )
    session.add(region)
    session.flush()
    view.id = region.id
    return region


def to_view(region: Region) -> RegionView:
    details = dict(region.details)
    choices = details.pop("choices", {})
    return RegionView(
        stage=region.stage,
        unit_bounds={k: (v[0], v[1]) for k, v in region.unit_bounds.items()},
        choices=choices,
        parent_id=region.parent_id,
        id=region.id,
        details=details,
    )


def load_views(session: Session, study_id: int) -> list[RegionView]:
    rows = session.scalars(
        select(Region).where(Region.study_id == study_id).order_by(Region.stage, Region.id)
    )
    return [to_view(r) for r in rows]


class RegionViews:
    """Each study's stored regions as views, kept between requests by the api process.

    A stored region never changes, so a read looks up the study's region ids (no JSON) and
    loads only the regions it does not hold; several api processes each read the ids
    themselves, so every one stays exact. A study deleted and re-created under the same id is
    told apart by its creation time. Each call returns new views whose top-level fields are
    copies; nested detail values are shared, read-only."""

    def __init__(self, max_studies: int = 64) -> None:
        self._held: OrderedDict[tuple[int, datetime], dict[int, RegionView]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_studies

    def views(self, session: Session, study_id: int, created_at: datetime) -> list[RegionView]:
        """``load_views(session, study_id)`` for the study created at ``created_at``."""
        ids = region_ids(session, study_id)
        key = (study_id, created_at)
        with self._lock:
            held = self._held.setdefault(key, {})
            self._held.move_to_end(key)
            while len(self._held) > self._max:
                self._held.popitem(last=False)
            missing = [i for i in ids if i not in held]
        if missing:
            loaded = {
                r.id: to_view(r)
                for r in session.scalars(select(Region).where(Region.id.in_(missing)))
            }
            with self._lock:
                held.update(loaded)
        return [_copy(held[i]) for i in ids]


def _copy(view: RegionView) -> RegionView:
    return replace(
        view,
        unit_bounds=dict(view.unit_bounds),
        choices=dict(view.choices),
        defining_numbers=list(view.defining_numbers),
        details=dict(view.details),
    )


#: The api process's region views, shared by its request threads.
VIEWS = RegionViews()


def region_ids(session: Session, study_id: int) -> list[int]:
    """The ids of the study's regions in ``load_views`` order."""
    return list(
        session.scalars(
            select(Region.id).where(Region.study_id == study_id).order_by(Region.stage, Region.id)
        )
    )


def current_region(session: Session, study_id: int) -> Region | None:
    return session.scalars(
        select(Region)
        .where(Region.study_id == study_id)
        .order_by(Region.stage.desc(), Region.id.desc())
        .limit(1)
    ).first()


def list_public(session: Session, study_id: int) -> list[RegionPublic]:
    counts = dict(
        session.execute(
            select(Trial.region_id, func.count())
            .where(Trial.study_id == study_id)
            .group_by(Trial.region_id)
        ).all()
    )
    regions = session.scalars(
        select(Region).where(Region.study_id == study_id).order_by(Region.stage, Region.id)
    )
    return [
        RegionPublic(
            id=r.id,
            stage=r.stage,
            bounds=r.bounds,
            unit_bounds=r.unit_bounds,
            parent=r.parent_id,
            defined_by=list(r.defining_trials),
            trials=counts.get(r.id, 0),
            details={k: v for k, v in r.details.items() if k != "choices"},
            created_at=r.created_at,
        )
        for r in regions
    ]
