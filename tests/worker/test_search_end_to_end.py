"""Coarse-to-fine and early stopping through real Celery workers and the real api."""

from __future__ import annotations

import re

import yaml

from caviar.client import Client
from tests.services import ROOT, Backend, wait_for, worker_process


def test_coarse_to_fine_on_digits_reaches_three_stages(be: Backend, api_url: str) -> None:
    body = {
        "name": "digits-c2f",
        "direction": "minimize",
        "objective": {
            "kind": "train",
            "dataset": "digits",
            "epochs": 3,
            "metric": "val_loss",
            "fixed": {"hidden_units": 32},
        },
        "space": {
            "learning_rate": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"},
            "beta1": {"type": "float", "low": 0.8, "high": 0.999, "scale": "reverse_log"},
            "batch_size": {"type": "int", "low": 16, "high": 256, "scale": "log"},
        },
        "strategy": {"name": "coarse_to_fine", "stage_trials": 4, "explore_fraction": 0.0},
        "max_trials": 18,
        "parallelism": 2,
        "seed": 11,
    }
    with worker_process(be, api_url, concurrency=2) as w, Client(api_url) as c:
        sid = c.create_study(body).id
        wait_for(lambda: c.study(sid).status == "completed", 240, "the c2f study", log=w)
        regions = c.regions(sid)
        trials = {t.id: t for t in c.trials(sid).data}
        study = c.study(sid)
    stages = [r.stage for r in regions]
    assert stages == sorted(stages) and stages[0] == 0 and max(stages) >= 3, stages
    assert study.stage == max(stages) and study.region_id == regions[-1].id
    by_id = {r.id: r for r in regions}
    for r in regions[1:]:
        parent = by_id[r.parent]
        assert parent.stage < r.stage
        for name, b in r.bounds.items():  # nested in its parent, and never empty
            pb = parent.bounds[name]
            assert pb["low"] <= b["low"] < b["high"] <= pb["high"], (name, b, pb)
        # explainable: the trials that chose it are stored, finished, and lie in the parent
        assert r.defined_by and all(trials[t].state == "completed" for t in r.defined_by)
        if "backed_up" not in r.details:  # a zoom draws on its parent's stage and earlier ones;
            # backing up draws on every trial inside the ancestor, newer stages' included
            assert all(trials[t].stage <= parent.stage for t in r.defined_by), r.details
    for t in trials.values():  # every trial was drawn inside its own region
        region = by_id[t.region_id]  # type: ignore[index]
        assert t.stage == region.stage
        for name, b in region.bounds.items():
            assert b["low"] <= t.params[name] <= b["high"], (t.number, name)
    assert sum(r.trials for r in regions) == 18


def test_asha_prunes_through_the_worker_and_stores_the_reason(be: Backend, api_url: str) -> None:
    body = {
        "name": "spirals-asha",
        "direction": "minimize",
        "objective": {
            "kind": "train",
            "dataset": "spirals",
            "epochs": 9,
            "metric": "val_loss",
            "fixed": {"hidden_units": 16},
        },
        "space": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1, "scale": "log"}},
        "pruner": {"name": "asha", "min_resource": 1, "reduction_factor": 3},
        "max_trials": 12,
        "parallelism": 2,
        "seed": 2,
    }
    with worker_process(be, api_url, concurrency=2), Client(api_url) as c:
        sid = c.create_study(body).id
        wait_for(lambda: c.study(sid).status == "completed", 240, "the asha study")
        trials = c.trials(sid).data
        pruned = [t for t in trials if t.state == "pruned"]
        assert pruned, [(t.state, t.value) for t in trials]
        for t in pruned:
            reason = t.prune_reason or {}
            assert reason.get("pruner") == "asha" and "rung" in reason and "threshold" in reason
            curve = c.reports(t.id).data
            assert curve[-1].step < 9 and t.value == curve[-1].value  # cut where it was stopped
            assert curve[-1].value > reason["threshold"]
        assert any(t.state == "completed" for t in trials)


def readme_study(name: str) -> dict:
    """The study of that name in the README's YAML examples, as a user would copy it."""
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        body = yaml.safe_load(block)
        if isinstance(body, dict) and body.get("name") == name:
            return body
    raise AssertionError(f"no YAML study named {name!r} in the README")


def test_the_readme_digits_example_with_asha_zooms(be: Backend, api_url: str) -> None:
    body = readme_study("digits-c2f")
    assert body["pruner"]["name"] == "asha" and body["strategy"]["name"] == "coarse_to_fine"
    assert body["max_trials"] == 60 and body["parallelism"] == 4
    with worker_process(be, api_url, concurrency=2) as w, Client(api_url) as c:
        sid = c.create_study(body).id
        wait_for(lambda: c.study(sid).status == "completed", 300, "the README study", log=w)
        regions = c.regions(sid)
        trials = c.trials(sid).data
    states = [t.state for t in trials]
    assert len(trials) == 60 and states.count("pruned") >= 20, states
    stages = sorted(r.stage for r in regions)
    assert max(stages) >= 3, [(r.stage, r.details) for r in regions]
    # Pruned trials defined regions, ranked at a step that enough trials reached.
    by_id = {t.id: t for t in trials}
    zoomed = [r for r in regions if r.stage > 0]
    assert any(r.details.get("rank_step") for r in zoomed)
    assert any(by_id[t].state == "pruned" for r in zoomed for t in r.defined_by)
