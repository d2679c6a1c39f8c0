"""Asks compute their suggestions off the study's lock: the write's conflict rule
(``scheduling.plan_holds``), two plans from one snapshot racing, and concurrent asks served in
batches (``ask_batches``), on every backend."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Region, Study, Trial
from api.db.session import Database
from api.studies import asking, scheduling
from api.studies.ask_batches import Batches
from api.studies.asking import PLANS
from caviar.client import Client
from tests.services import Backend, api_server


def c2f_study(c: Client, max_trials: int, stage_trials: int = 4) -> int:
    return c.create_study(
        {
            "name": "off-lock",
            "objective": {"kind": "external"},
            "space": {
                "x": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"},
                "k": {"type": "categorical", "choices": ["a", "b"]},
            },
            "strategy": {"name": "coarse_to_fine", "stage_trials": stage_trials},
            "max_trials": max_trials,
            "seed": 5,
        }
    ).id


def value(params: dict) -> float:
    return params["x"] + (0.5 if params["k"] == "b" else 0.0)


def test_two_plans_from_one_snapshot_never_both_write(be: Backend, api_url: str) -> None:
    """Two asks plan from the same snapshot, and the plan drafts a region: the first write
    stores the region and its trials; the second plan no longer holds (strict: ``StalePlan``,
    nothing written), and computed again under the lock it neither drafts that region a second
    time nor repeats the first ask's points."""
    db = Database(be.database_url)
    try:
        with Client(api_url) as c:
            sid = c2f_study(c, 40)
            for t in c.ask(sid, 4):  # the whole space's stage_trials: the next ask zooms
                c.tell(t.id, 1, "completed", value(t.params))
        with db.read_session() as r:
            first = scheduling.plan_ask(r, sid, 2)
            second = scheduling.plan_ask(r, sid, 2)
        assert first is not None and second is not None
        assert first.trial_count == second.trial_count == 4
        assert first.suggestions[0].region.id is None  # a drafted region, not stored yet
        with db.session() as s:
            study = s.get(Study, sid)
            assert study is not None
            assert scheduling.plan_holds(s, study, first, [4, 5])
            assert scheduling.plan_holds(s, study, first, [4])  # a prefix holds too
            assert not scheduling.plan_holds(s, study, first, [5])
            won = scheduling.ask(s, sid, 2, first, strict=True)
            assert [t.params for t in won] == [x.params for x in first.suggestions]
            s.commit()
        with db.session() as s:
            study = s.get(Study, sid)
            assert study is not None
            assert not scheduling.plan_holds(s, study, second, [6, 7])
            with pytest.raises(scheduling.StalePlan):
                scheduling.ask(s, sid, 2, second, strict=True)
            s.rollback()
        with db.read_session() as r:
            assert r.scalar(select(Study.trial_count).where(Study.id == sid)) == 6
        with db.session() as s:  # not strict: computed under the lock, from the new state
            late = scheduling.ask(s, sid, 2, second)
            s.commit()
        with db.read_session() as r:
            regions = r.scalars(select(Region).where(Region.study_id == sid)).all()
            trials = r.scalars(select(Trial).where(Trial.study_id == sid)).all()
        assert len(regions) == 2  # the whole space and one zoom, drafted once
        assert sorted(t.number for t in trials) == list(range(8))
        assert {t.region_id for t in late} <= {r.id for r in regions}
        assert all(t.params not in [x.params for x in second.suggestions] for t in late)
    finally:
        db.dispose()


def test_a_stale_plan_is_planned_again_and_the_last_try_computes_under_the_lock(
    be: Backend, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer creates a trial between each plan and its write: the ask plans again off
    the lock, and after ``tries`` stale plans computes under the lock; every number once."""
    db = Database(be.database_url)
    planned = scheduling.plan_ask
    plans_made: list[scheduling.Plan | None] = []

    def raced(reader: Session, study_id: int, count: int) -> scheduling.Plan | None:
        plan = planned(reader, study_id, count)
        plans_made.append(plan)
        with db.session() as other:  # another replica's ask, between the plan and the write
            scheduling.ask(other, study_id, 1)
            other.commit()
        return plan

    def outcome(name: str) -> float:
        return PLANS.labels(name)._value.get()

    try:
        with Client(api_url) as c:
            sid = c2f_study(c, 40)
        monkeypatch.setattr(scheduling, "plan_ask", raced)
        before = {k: outcome(k) for k in ("held", "stale", "locked")}
        with db.session() as s, db.read_session() as r:
            got = asking.ask_off_lock(s, r, sid, 2, tries=3)
            s.commit()
        assert len(plans_made) == 2  # two stale plans, then the ask computed under the lock
        assert outcome("stale") - before["stale"] == 2
        assert outcome("locked") - before["locked"] == 1
        assert outcome("held") == before["held"]
        assert [t.number for t in got] == [2, 3]  # the racing writer took 0 and 1
        with db.read_session() as r:
            numbers = r.scalars(select(Trial.number).where(Trial.study_id == sid)).all()
        assert sorted(numbers) == [0, 1, 2, 3]
    finally:
        db.dispose()


def plans(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        if family.name == "caviar_ask_plans":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    out[sample.labels["outcome"]] = sample.value
    return out


def test_sixteen_clients_on_two_replicas_ask_at_once(be: Backend, api_url: str) -> None:
    """Sixteen clients, half on each of two api replicas, ask and tell one coarse_to_fine study
    at once: every number once, every trial inside the region it names, every region drafted
    once (each zoom's stage is unique: a stage is the newest + 1 when drafted, so two regions
    drafted from one snapshot would share it), and the suggestions came from plans made off
    the lock (``caviar_ask_plans_total``)."""
    with api_server(be) as other, Client(api_url) as c:
        sid = c2f_study(c, 96)
        urls = [api_url, other]
        before = [plans(u) for u in urls]

        def client(k: int) -> list[int]:
            numbers = []
            with Client(urls[k % 2], timeout=60) as cc:
                for _ in range(6):
                    for t in cc.ask(sid, 1):
                        cc.tell(t.id, 1, "completed", value(t.params))
                        numbers.append(t.number)
            return numbers

        with ThreadPoolExecutor(16) as pool:
            numbers = [n for f in [pool.submit(client, k) for k in range(16)] for n in f.result()]
        assert sorted(numbers) == list(range(96))
        regions = {r.id: r for r in c.regions(sid)}
        assert len(regions) >= 3
        stages = [r.stage for r in regions.values()]
        assert len(set(stages)) == len(stages)
        for t in c.trials(sid, limit=200).data:
            assert t.state == "completed" and t.region_id in regions
            b = regions[t.region_id].bounds["x"]
            assert b["low"] <= t.params["x"] <= b["high"]
        after = [plans(u) for u in urls]
        held = sum(a.get("held", 0) - b.get("held", 0) for a, b in zip(after, before, strict=True))
        assert held > 0


def test_concurrent_runs_of_one_key_are_served_in_batches() -> None:
    """Callers that arrive while a batch is served wait and are served together by the next
    batch; each gets its own share; one key's batches never overlap; other keys do not wait."""
    batches: Batches[list[int]] = Batches(max_batch=64)
    served: list[list[int]] = []
    busy = threading.Lock()
    counter = iter(range(10_000))

    def serve(counts: list[int]) -> list[list[int]]:
        assert busy.acquire(blocking=False), "two batches of one key at once"
        try:
            served.append(counts)
            time.sleep(0.02)
            return [[next(counter) for _ in range(n)] for n in counts]
        finally:
            busy.release()

    def caller(k: int) -> tuple[int, list[int]]:
        n = 1 + k % 3
        return n, batches.run("study", n, serve)

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(caller, range(48)))
    assert all(len(share) == n for n, share in got)
    handed = sorted(x for _, share in got for x in share)
    assert handed == list(range(len(handed)))  # nothing handed twice, nothing lost
    assert len(served) < 48  # callers were served together
    assert sum(len(b) for b in served) == 48
    assert batches.waiting("study") == 0


def test_a_failed_batch_fails_its_callers_and_the_next_batch_serves() -> None:
    batches: Batches[int] = Batches()
    gate = threading.Event()
    calls: list[list[int]] = []

    def failing(counts: list[int]) -> list[int]:
        calls.append(counts)
        gate.wait(5)
        raise ValueError("no study")

    def fine(counts: list[int]) -> list[int]:
        calls.append(counts)
        return list(counts)

    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(batches.run, 1, 1, failing)
        while not calls:
            time.sleep(0.001)
        others = [pool.submit(batches.run, 1, n, fine) for n in (2, 3)]
        while batches.waiting(1) < 2:
            time.sleep(0.001)
        gate.set()
        with pytest.raises(ValueError, match="no study"):
            first.result()
        assert [f.result() for f in others] == [2, 3]
    assert calls == [[1], [2, 3]]  # the waiting two, served together by the next batch
