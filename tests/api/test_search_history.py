"""The per-study search history: read incrementally, always equal to a full read; and asks that
plan without the lock stay exact when two api replicas serve one coarse-to-fine study."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sqlalchemy.orm import Session

from api.db.models import Study
from api.db.session import Database
from api.studies.regions import RegionViews, load_views
from api.studies.search_history import SearchHistory
from api.trials.study import config_of
from caviar.client import Client
from tests.services import Backend, api_server

NAMES = ("number", "value", "region", "stage", "pruned", "step", "u", "c")


def c2f_study(c: Client, max_trials: int) -> int:
    return c.create_study(
        {
            "name": "history",
            "direction": "maximize",
            "objective": {"kind": "external"},
            "space": {
                "x": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"},
                "k": {"type": "categorical", "choices": ["a", "b"]},
            },
            "strategy": {"name": "coarse_to_fine", "stage_trials": 6},
            "max_trials": max_trials,
        }
    ).id


def test_an_incremental_history_equals_a_full_read(be: Backend, api_url: str) -> None:
    db = Database(be.database_url)
    kept = SearchHistory()
    views = RegionViews()
    rng = random.Random(4)
    try:
        with Client(api_url) as c:
            sid = c2f_study(c, 60)
            flying = []
            while True:
                flying += c.ask(sid, rng.choice([1, 2, 3]))
                rng.shuffle(flying)  # trials finish out of number order
                for t in flying[: rng.randint(0, len(flying))]:
                    flying.remove(t)
                    pruned = rng.random() < 0.4
                    for step in range(1, (2 if pruned else 4) + 1):
                        c.report(t.id, 1, step, t.params["x"] * step)
                    c.tell(t.id, 1, "pruned" if pruned else "completed", t.params["x"] * 4)
                with db.read_session() as s:
                    study = s.get(Study, sid)
                    assert study is not None
                    got, in_flight = kept.read(s, study, config_of(study))
                    want = SearchHistory().table(s, study, config_of(study))
                    # The same read shows the trials in flight, with their params.
                    assert [(t.number, t.params) for t in in_flight] == sorted(
                        (t.number, t.params) for t in flying
                    )
                    assert [o.number for o in got.rows] == [o.number for o in want.rows]
                    for name in NAMES:
                        assert np.array_equal(getattr(got, name), getattr(want, name)), name
                    # The regions, kept between reads, equal a full read too.
                    assert views.views(s, sid, study.created_at) == load_views(s, sid)
                    at3 = kept.values_at(s, study)(3)
                    assert at3 == fresh_values_at(s, study, 3)
                    assert len(at3) == int((got.step >= 3).sum())
                if study.trial_count >= 60:
                    break
            assert got.pruned.any() and (~got.pruned).any()
            with db.read_session() as s:
                assert len(load_views(s, sid)) > 2  # the study zoomed in, more than once
            # The study's answer shows the strategy's recommendation beside the best value.
            answer = c.study(sid)
            rec = answer.recommended
            assert rec is not None and answer.best is not None
            trial = next(t for t in c.trials(sid).data if t.id == rec.trial_id)
            assert trial.state == "completed" and trial.number == rec.number
            assert trial.params == rec.params and rec.mean <= answer.best.value + 1.0
            assert all(s.recommended is None for s in c.studies().data)
            assert (got.value == -4 * np.array([o.params["x"] for o in got.rows])).all()
    finally:
        db.dispose()


def fresh_values_at(s: Session, study: Study, step: int) -> dict[int, float]:
    fresh = SearchHistory()
    at = fresh.values_at(s, study)  # made before the first read, used after it (as the service)
    fresh.table(s, study, config_of(study))
    return at(step)


def test_two_replicas_ask_and_tell_one_coarse_to_fine_study(be: Backend, api_url: str) -> None:
    with api_server(be) as other, Client(api_url) as c:
        sid = c2f_study(c, 48)
        urls = [api_url, other]

        def client(k: int) -> list[tuple[int, int]]:
            out = []
            with Client(urls[k % 2], timeout=60) as cc:
                for _ in range(3):
                    for t in cc.ask(sid, 2):
                        cc.tell(t.id, 1, "completed", t.params["x"])
                        out.append((t.id, t.number))
            return out

        with ThreadPoolExecutor(8) as pool:
            done = [x for f in [pool.submit(client, k) for k in range(8)] for x in f.result()]
        numbers = sorted(n for _, n in done)
        assert numbers == list(range(48))
        trials = c.trials(sid).data
        regions = {r.id: r for r in c.regions(sid)}
        assert len(regions) >= 3  # it zoomed, with the history read by both replicas
        for t in trials:  # each trial lies in the region it was suggested in
            assert t.state == "completed" and t.region_id in regions
            b = regions[t.region_id].bounds["x"]
            assert b["low"] <= t.params["x"] <= b["high"]


def test_steered_trials_are_left_out_of_what_the_strategy_learns(be: Backend, api_url: str) -> None:
    """A fork and a trial that applied a ``set`` are a person's experiments: their values are
    not what their params give from scratch. The strategy's history, its recommendation and a
    re-test's champion leave them out; the study's best value still shows them."""
    db = Database(be.database_url)
    with Client(api_url) as c:
        sid = c2f_study(c, 4)
        plain, steered, other, parent = c.ask(sid, 4)
        command = c.command(steered.id, "set", {"learning_rate": 0.01})
        c.report(steered.id, 1, 1, 0.5, applied=[{"id": command.id, "step": 1}])
        c.report(parent.id, 1, 1, 0.1)
        c.put_checkpoint(parent.id, 1, 1, b"state")
        fork = c.fork(parent.id, {"learning_rate": 0.02})
        values = {plain.id: 0.3, steered.id: 0.9, other.id: 0.2, parent.id: 0.1}
        for t in (plain, steered, other, parent):
            c.tell(t.id, 1, "completed", values[t.id])
        [handed] = c.ask(sid, 1)  # the fork is handed out like any queued trial
        assert handed.id == fork.id
        c.tell(fork.id, handed.attempt, "completed", 0.95)

        with db.read_session() as s:
            study = s.get(Study, sid)
            assert study is not None
            table = SearchHistory().table(s, study, config_of(study))
        assert sorted(table.number.tolist()) == sorted(t.number for t in (plain, other, parent))
        shown = {t.id: t.steered for t in c.trials(sid).data}
        assert shown == {
            plain.id: False,
            steered.id: True,
            other.id: False,
            parent.id: False,
            fork.id: True,
        }
        answer = c.study(sid)
        assert answer.best is not None and answer.best.trial_id == fork.id  # the best observed
        assert answer.recommended is not None and answer.recommended.trial_id == plain.id
        champion = c.start_retest(sid).results[0]
        assert champion.origin == "champion" and champion.params == plain.params
        # A warm start runs the earlier study's best configurations again: the unsteered ones.
        config = c.study(sid).config.model_dump(mode="json", exclude_none=True)
        warm = c.create_study({**config, "warm_start": {"study_id": sid, "top_k": 5}})
        first = c.trials(warm.id).data
        assert [t.params for t in first] == [t.params for t in (plain, other, parent)]
