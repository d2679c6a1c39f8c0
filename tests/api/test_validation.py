"""A bad study body gets every problem in one 422: schema errors (space bounds) together with
the checks beyond the schema (unknown trainer hyperparameters, the objective's direction),
each naming its field, with no "Value error," prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import api_server, backend


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with backend("sqlite", tmp_path_factory.mktemp("validation")) as be, api_server(be) as u:
        yield u


def problems(url: str, body: dict[str, Any]) -> dict[str, str]:
    r = httpx.post(f"{url}/api/studies", json=body)
    assert r.status_code == 422, r.text
    return {e["field"]: e["msg"] for e in r.json()["detail"]}


def train(space: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {
        "name": "bad",
        "objective": {"kind": "train", "dataset": "digits", "metric": "val_loss"},
        "direction": "maximize",
        "space": space,
        "max_trials": 4,
    }
    body.update(over)
    return body


def test_bounds_unknown_names_and_direction_arrive_together(url: str) -> None:
    found = problems(
        url,
        train(
            {
                "learning_rate": {"type": "float", "low": 1, "high": 0.1, "scale": "log"},
                "epochs": {"type": "int", "low": 1, "high": 3},
                "colour": {"type": "categorical", "choices": ["red", "blue"]},
            },
            max_trials=0,
        ),
    )
    assert set(found) == {"space.learning_rate.high", "space.colour", "direction", "max_trials"}
    assert found["space.learning_rate.high"] == "high must be greater than low (1.0)"
    assert "unknown trainer hyperparameter 'colour'" in found["space.colour"]
    assert found["direction"] == "val_loss is minimized: set direction to minimize"
    assert not any(m.startswith(("Value error", "Assertion failed")) for m in found.values())


def test_problems_beyond_the_schema_all_at_once_on_a_valid_schema(url: str) -> None:
    found = problems(
        url,
        train(
            {
                "colour": {"type": "categorical", "choices": ["red"]},
                "batch_size": {"type": "float", "low": 8, "high": 64},
            },
            objective={
                "kind": "train",
                "dataset": "no-such-data",
                "metric": "val_loss",
                "fixed": {"flavour": 1},
            },
        ),
    )
    assert set(found) == {
        "space.colour",
        "space.batch_size.type",
        "objective.fixed.flavour",
        "objective.dataset",
        "direction",
    }


def test_a_schema_error_on_a_field_is_not_repeated(url: str) -> None:
    body = train({"learning_rate": {"type": "float", "low": 0, "high": 1, "scale": "log"}})
    body["direction"] = "sideways"
    found = problems(url, body)
    assert set(found) == {"space.learning_rate.low", "direction"}
    assert found["space.learning_rate.low"] == "a log scale needs low > 0"


def test_a_valid_study_still_passes(url: str, tmp_path: Path) -> None:
    space = {"learning_rate": {"type": "float", "low": 1e-3, "high": 0.1, "scale": "log"}}
    r = httpx.post(f"{url}/api/studies", json=train(space, direction="minimize"))
    assert r.status_code == 201, r.text
