"""Uploaded CSV datasets over REST: versions by name, content hashes, clear 4xx."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from caviar.client import CaviarError, Client


def csv(rows: int = 30, shift: float = 0.0) -> bytes:
    lines = ["x1,x2,label"] + [
        f"{i * 0.1 + shift:.3f},{(i % 7) * 0.5:.3f},{'cat' if i % 2 else 'dog'}"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def upload(api_url: str, name: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{api_url}/api/datasets",
        params={"name": name},
        content=body,
        headers={"content-type": "text/csv"},
    )


def test_upload_versions_and_content(api_url: str, client: Client) -> None:
    first = upload(api_url, "pets", csv())
    assert first.status_code == 201, first.text
    d1 = first.json()
    assert (d1["version"], d1["ref"], d1["n_rows"], d1["n_features"]) == (1, "pets@1", 30, 2)
    assert d1["classes"] == ["cat", "dog"] and d1["sha256"] == hashlib.sha256(csv()).hexdigest()
    same = upload(api_url, "pets", csv())
    assert same.status_code == 200 and same.json()["id"] == d1["id"]
    second = upload(api_url, "pets", csv(shift=1.0))
    assert second.status_code == 201 and second.json()["version"] == 2
    assert client.dataset("pets").version == 2
    assert client.dataset("pets@1").sha256 == d1["sha256"]
    assert client.dataset_content("pets@1") == csv()
    assert {d.ref for d in client.datasets().data} >= {"pets@1", "pets@2"}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (b"x1,x2,label\n1,2,a\n3,4\n", "line 3"),
        (b"x1,label\n" + b"\n".join(b"%d,a" % i for i in range(20)), "class"),
        (b"x1,label\n" + b"\n".join(b"abc,%d" % (i % 2) for i in range(20)), "line 2"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
    ],
)
def test_malformed_csv_is_422_with_where(api_url: str, body: bytes, words: str) -> None:
    r = upload(api_url, "bad", body)
    assert r.status_code == 422, r.text
    [err] = r.json()["detail"]
    assert err["field"] == "body" and words.lower() in err["msg"].lower(), err


def test_too_large_is_413(api_url: str) -> None:
    r = upload(api_url, "huge", b"x1,label\n" + b"1,a\n" * 6_000_000)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    assert r.json()["field"] == "body"


def test_bad_names_and_unknown_refs(api_url: str) -> None:
    assert upload(api_url, "no/slash", csv()).status_code == 422
    assert httpx.get(f"{api_url}/api/datasets/nothing@3").status_code == 404


def test_train_study_pins_the_dataset_version(api_url: str, client: Client) -> None:
    upload(api_url, "pinned", csv())
    body = {
        "name": "t",
        "direction": "minimize",
        "objective": {"kind": "train", "dataset": "pinned", "epochs": 2},
        "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1, "scale": "log"}},
        "max_trials": 1,
        "parallelism": 1,
    }
    s = client.create_study(body)
    assert s.config.objective.dataset == "pinned@1"  # type: ignore[union-attr]
    upload(api_url, "pinned", csv(shift=2.0))
    assert client.study(s.id).config.objective.dataset == "pinned@1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"objective": {"kind": "train", "dataset": "imagenet"}}, "objective.dataset"),
        ({"space": {"dropout": {"type": "float", "low": 0, "high": 1}}}, "space.dropout"),
        ({"space": {"layers": {"type": "float", "low": 1, "high": 3}}}, "space.layers.type"),
        (
            {"space": {"optimizer": {"type": "categorical", "choices": ["adam", "lion"]}}},
            "space.optimizer.choices.1",
        ),
        (
            {"objective": {"kind": "train", "dataset": "digits", "fixed": {"momentum": 0.9}}},
            "objective.fixed.momentum",
        ),
        (
            {"objective": {"kind": "train", "dataset": "digits", "metric": "val_accuracy"}},
            "direction",
        ),
        ({"space": {"beta": {"type": "float", "low": 0.9, "high": 1.0}}}, "space.beta.high"),
        ({"space": {"batch_size": {"type": "int", "low": 1, "high": 64}}}, "space.batch_size.low"),
        (
            {"objective": {"kind": "train", "dataset": "digits", "fixed": {"l2": -1}}},
            "objective.fixed.l2",
        ),
    ],
)
def test_train_study_validation(client: Client, over: dict[str, object], field: str) -> None:
    body = {
        "name": "t",
        "objective": {"kind": "train", "dataset": "digits"},
        "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1, "scale": "log"}},
    }
    body.update(over)
    with pytest.raises(CaviarError) as e:
        client.create_study(body)
    assert e.value.status == 422
    assert field in [d["field"] for d in e.value.detail["detail"]], e.value.detail
