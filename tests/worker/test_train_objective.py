"""The ``train`` objective through real Celery workers: epochs reported as learning curves,
uploaded datasets fetched through the api and cached by hash, divergence failing the trial."""

from __future__ import annotations

from pathlib import Path

from caviar.client import Client
from tests.api.test_datasets import csv
from tests.services import Backend, wait_for, worker_process

LR = {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "scale": "log"}}


def train_study(dataset: str, **over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": f"train-{dataset}",
        "direction": "minimize",
        "objective": {
            "kind": "train",
            "dataset": dataset,
            "epochs": 4,
            "metric": "val_loss",
            "fixed": {"hidden_units": 32, "layers": 2},
        },
        "space": LR,
        "max_trials": 4,
        "parallelism": 2,
        "seed": 5,
    }
    body.update(over)
    return body


def test_train_study_reports_every_epoch(be: Backend, api_url: str) -> None:
    with worker_process(be, api_url) as w, Client(api_url) as c:
        sid = c.create_study(train_study("blobs")).id
        wait_for(lambda: c.study(sid).status == "completed", 120, "the train study", log=w)
        trials = c.trials(sid).data
        assert [t.state for t in trials] == ["completed"] * 4
        for t in trials:
            curve = c.reports(t.id).data
            assert [r.step for r in curve] == [1, 2, 3, 4]
            assert set(curve[-1].metrics) >= {"val_loss", "val_accuracy", "train_loss"}
            assert t.value == curve[-1].value == curve[-1].metrics["val_loss"]
        best = c.study(sid).best
        assert best is not None and best.value < 0.5  # the blobs are nearly separable


def test_uploaded_dataset_is_fetched_and_cached(be: Backend, api_url: str) -> None:
    with Client(api_url) as c:
        meta = c.upload_dataset(f"pets-{be.name}", csv(rows=60))
        with worker_process(be, api_url):
            sid = c.create_study(train_study(meta.name, max_trials=2)).id
            wait_for(lambda: c.study(sid).status == "completed", 120, "the train study")
        assert c.study(sid).counts["completed"] == 2
    cached = Path(be.data_dir) / "datasets" / f"{meta.sha256}.csv"
    assert cached.read_bytes() == csv(rows=60)


def test_diverging_training_fails_the_trial_with_a_clear_error(be: Backend, api_url: str) -> None:
    body = train_study(
        "spirals",
        max_trials=1,
        parallelism=1,
        space={"learning_rate": {"type": "float", "low": 1e6, "high": 1e7, "scale": "log"}},
    )
    body["objective"]["fixed"] = {"optimizer": "gd", "hidden_units": 16}  # type: ignore[index]
    with worker_process(be, api_url), Client(api_url) as c:
        sid = c.create_study(body).id
        wait_for(lambda: c.study(sid).status == "completed", 120, "the study")
        [t] = c.trials(sid).data
        assert t.state == "failed" and t.attempt == 1
        assert "TrainingDiverged" in (t.error or "") and "epoch" in (t.error or "")
