"""Coarse-to-fine search: sample the whole box, zoom into the region around the best trials,
sample it more densely, repeat.

Contract (see ``BaseStrategy``). The current region is the newest stored one.

- **Zoom.** When the current region holds ``stage_trials`` finished trials of its own (for the
  whole space, a warm start's earlier results count too, so a warm-started study zooms from
  its first suggestions where the earlier evidence says), the call drafts its child with
  ``derive_region`` (the best ``top_fraction`` of the trials inside it, widened by
  ``margin``) and suggests inside the child.
- **No stage barrier.** Trials still running in the old region just finish there; the next
  suggestions already use the new one.
- **Exploration.** A trial whose (seed, number) draw falls under ``explore_fraction`` searches the
  whole space instead; its region is the stage-0 region.
- **Backing up.** When the best finished trial lies outside the current region (an exploring
  trial found better ground, or a late trial of an earlier stage), the call drafts a new region
  from the nearest ancestor that contains it (its parent). ``details["backed_up"]`` says so.
- **Restarts** (``restart_after`` > 0, off by default). A region has stalled when, at its
  zoom, its own trials did not beat the best value known when it opened. After
  ``restart_after`` stalls in a row, the next region is derived, in the whole space, from the
  trials outside the stalled region: another basin. ``details["stalls"]`` counts the stalls,
  ``details["restarted_from"]`` names the stalled region.
- **Stages** count regions: a drafted region's stage is the newest stage + 1, so stages grow with
  time; the nesting is ``parent_id`` (a parent always has a lower stage).
- **Pruned trials count.** A finished trial counts toward its region's ``stage_trials`` whether it
  completed or was pruned; all are ranked at one step that at least ``rank_trials`` of them
  reached (see ``api.search.fidelity``). The regions, the model and the backing up all use these
  values, and ``details["rank_step"]`` of a drafted region names the step (absent without
  pruned trials).
- **Ranking.** The best trial, a region's top trials and the stall check go by the sampler's
  ranking: with ``gp``, the model's posterior mean at the trials it was fitted on (a model with a
  learned noise term), so a lucky draw of a noisy objective neither defines a region nor makes
  the search back up; ``details["ranked_by"]`` is then ``posterior_mean`` (``top_values``,
  ``threshold`` and ``backed_up.best_value`` are the model's means). The model itself learns
  from the values.
- **Inside a region**, points come from ``sampler``: ``gp`` (model-based, the default), ``sobol``
  or ``random``.

A region's defining trials are its top trials; when there are more than 128 of them, only the
best 64, the worst (whose value is the threshold) and the trials at each param's extremes and of
each choice used are stored, which gives the same bounds.

At most one region is drafted per call; every suggestion that uses it shares the same
``RegionView``. ``details`` of a drafted region holds the rule's inputs and outputs (see
``derive_region``) plus ``opened_at_trial``, ``stage_trials``, ``sampler`` and, after backing
up, ``backed_up``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from api.search.base import BaseStrategy, Recommendation, RegionView, SearchState, Suggestion
from api.search.encoding import SpaceEncoding
from api.search.fidelity import at_rank_step
from api.search.region_samplers import (
    BaseRegionSampler,
    GPRegionSampler,
    History,
    RandomRegionSampler,
    SobolRegionSampler,
)
from api.search.regions import derive_region
from api.search.table import ObservationTable


def make_region_sampler(name: str) -> BaseRegionSampler:
    if name == "gp":
        return GPRegionSampler()
    if name == "sobol":
        return SobolRegionSampler()
    if name == "random":
        return RandomRegionSampler()
    raise ValueError(f"unknown region sampler {name!r}")


class CoarseToFineStrategy(BaseStrategy):
    def __init__(
        self,
        *,
        stage_trials: int = 16,
        top_fraction: float = 0.25,
        margin: float = 0.25,
        min_width: float = 0.02,
        explore_fraction: float = 0.15,
        sampler: str | BaseRegionSampler = "gp",
        rank_trials: int = 6,
        restart_after: int = 0,
    ) -> None:
        self.stage_trials = stage_trials
        self.top_fraction = top_fraction
        self.margin = margin
        self.min_width = min_width
        self.explore_fraction = explore_fraction
        self.sampler = make_region_sampler(sampler) if isinstance(sampler, str) else sampler
        self.rank_trials = rank_trials
        self.restart_after = restart_after

    def suggest(self, state: SearchState, numbers: list[int]) -> list[Suggestion]:
        if not numbers:
            return []
        assert state.regions, "a study always has its stage-0 region"
        enc = SpaceEncoding.of(state.space)
        whole, current = state.regions[0], state.regions[-1]
        table = (
            state.table if state.table is not None else ObservationTable.of(enc, state.observations)
        )
        finite = np.isfinite(table.value)
        if not finite.all():
            table = table.where(finite)
        values, step = at_rank_step(
            table.number, table.value, table.pruned, table.step, self.rank_trials, state.values_at
        )
        u, c = table.u, table.c
        # Trials are ranked by the sampler's ranking (the model's posterior mean with ``gp``),
        # the model itself learns from the values.
        pu, pc = enc.encode([p.unit for p in state.pending])
        rank, model = self.sampler.ranking(History(u, c, values, pu, pc))
        if current.id is not None:
            mine = table.region == current.id
        else:  # a region drafted but not stored yet (tests): count by stage
            mine = table.stage == current.stage
        if current is whole:  # a warm start's earlier results (numbered below 0) count there
            mine = mine | (table.number < 0)
        own = int(np.count_nonzero(mine))
        best = int(np.argmin(rank)) if len(rank) else -1

        def holds_best(region: RegionView) -> bool:
            return bool(enc.inside(enc.box(region), u[best : best + 1], c[best : best + 1])[0])

        parent = current
        escaped = best >= 0 and not holds_best(current)
        if escaped:
            # The best trial lies outside the current region (an exploring trial, or a late one
            # of an earlier stage): back up to the nearest enclosing ancestor and zoom from there.
            for parent in _ancestors(current, state.regions):
                if holds_best(parent):
                    break
        # Which trials lie inside: needed only to draft a region (a scan of every trial).
        drafts = own >= self.stage_trials or escaped
        mask = enc.inside(enc.box(parent), u, c) if drafts else np.zeros(0, dtype=bool)
        stalls, restarted = 0, None
        if own >= self.stage_trials and not escaped and current is not whole:
            # A region whose own trials did not beat what was known when it opened has stalled;
            # after ``restart_after`` stalls in a row, the next region leaves the basin: it is
            # derived from the trials outside the stalled region, in the whole space.
            before = rank[table.number < int(current.details.get("opened_at_trial", 0))]
            improved = not len(before) or rank[mine].min() < before.min()
            stalls = 0 if improved else int(current.details.get("stalls", 0)) + 1
            outside = ~mask
            if self.restart_after and stalls >= self.restart_after and outside.any():
                restarted, parent, mask, stalls = current.id, whole, outside, 0
        if drafts:
            # Only the best of the pool define the region: rank them here, in NumPy.
            rows = np.flatnonzero(mask)
            k = max(1, math.ceil(self.top_fraction * len(rows)))
            top = rows[np.lexsort((table.number[rows], rank[rows]))[:k]]
            top = _defining(top, table.u, table.c)
            pool = [dataclasses.replace(table.rows[i], value=float(rank[i])) for i in top]
            current = derive_region(
                parent,
                state.space,
                pool,
                top_fraction=self.top_fraction,
                margin=self.margin,
                min_width=self.min_width,
                pool_size=len(rows),
            )
            current.stage = max(r.stage for r in state.regions) + 1  # stages count zooms
            current.details["opened_at_trial"] = numbers[0]
            current.details["stage_trials"] = self.stage_trials
            current.details["sampler"] = self.sampler.name
            if step is not None:
                current.details["rank_step"] = step
            if model is not None:  # the values in these details are the model's means
                current.details["ranked_by"] = "posterior_mean"
            if self.restart_after:
                current.details["stalls"] = stalls
            if restarted is not None:
                current.details["restarted_from"] = restarted
            if escaped:
                current.details["backed_up"] = {
                    "from_region": state.regions[-1].id,
                    "to_region": parent.id,
                    "best_trial": int(table.number[best]),
                    "best_value": float(rank[best]),
                }
        explore = (
            [n for n in numbers if self._explores(state.seed, n)] if current is not whole else []
        )
        chosen: dict[int, tuple[np.ndarray, np.ndarray, RegionView]] = {}
        for region, group in (
            (current, [n for n in numbers if n not in explore]),
            (whole, explore),
        ):
            if not group:
                continue
            history = History(u, c, values, pu, pc, model)
            start = int(region.details.get("opened_at_trial", 0))
            gu, gc = self.sampler.sample(enc, enc.box(region), group, history, state.seed, start)
            pu, pc = np.vstack([pu, gu]), np.vstack([pc, gc])
            for n, ru, rc in zip(group, gu, gc, strict=True):
                chosen[n] = (ru, rc, region)
        out = []
        for n in numbers:
            ru, rc, region = chosen[n]
            out.append(Suggestion(number=n, params=enc.params(ru, rc), region=region))
        return out

    def recommend(self, state: SearchState) -> Recommendation | None:
        """The completed trial the strategy recommends: with the ``gp`` sampler, the one whose
        posterior mean is best (the model knows the objective's noise, so a lucky draw does not
        win); otherwise the best value observed. None before any completed trial."""
        enc = SpaceEncoding.of(state.space)
        table = state.table
        if table is None:
            table = ObservationTable.of(enc, state.observations)
        table = table.where(np.isfinite(table.value) & ~table.pruned)
        if not len(table):
            return None
        sampler = self.sampler
        if not isinstance(sampler, GPRegionSampler) or len(table) < max(sampler.n_startup, 2):
            i = int(np.argmin(table.value))
            return Recommendation(int(table.number[i]), float(table.value[i]))
        none = np.zeros((0, table.u.shape[1])), np.zeros((0, table.c.shape[1]), dtype=int)
        row, mean = sampler.fit(History(table.u, table.c, table.value, *none)).recommended()
        return Recommendation(int(table.number[row]), mean)

    def _explores(self, seed: int, number: int) -> bool:
        return bool(np.random.default_rng([seed, number, 3]).random() < self.explore_fraction)


DEFINING = 64  # the best trials stored as a region's defining trials, beside its extremes


def _defining(top: np.ndarray, u: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The rows of ``top`` (ranked best first) that a region stores as its defining trials: all
    of them when few, else the best ``DEFINING``, the last (its value is the threshold), and per
    param the rows at its lowest and highest value and one row per choice used. The region's
    bounds and choices are the same as from all of ``top``."""
    if len(top) <= 2 * DEFINING:
        return top
    keep = set(top[:DEFINING].tolist()) | {int(top[-1])}
    for j in range(u.shape[1]):
        keep |= {int(top[np.argmin(u[top, j])]), int(top[np.argmax(u[top, j])])}
    for j in range(c.shape[1]):
        _, first = np.unique(c[top, j], return_index=True)
        keep |= {int(top[i]) for i in first}
    return np.array([i for i in top.tolist() if i in keep])


def _ancestors(region: RegionView, regions: list[RegionView]) -> list[RegionView]:
    """The parent, grandparent, … of ``region``, ending with the whole space."""
    by_id = {r.id: r for r in regions if r.id is not None}
    out = []
    while region.parent_id is not None and region.parent_id in by_id:
        region = by_id[region.parent_id]
        out.append(region)
    if not out or out[-1] is not regions[0]:
        out.append(regions[0])
    return out
