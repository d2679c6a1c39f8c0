"""Studies over REST against a real api: creation, validation (4xx naming the field), listing,
regions, cancellation, reproducibility, every problem of a body in one 422, rename and delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from caviar.client import Client, Conflict
from tests.services import Backend

EXTERNAL = {"kind": "external"}


def study(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "s",
        "objective": EXTERNAL,
        "space": {
            "learning_rate": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"},
            "beta": {"type": "float", "low": 0.9, "high": 0.999, "scale": "reverse_log"},
            "units": {"type": "int", "low": 16, "high": 256, "scale": "log"},
            "optimizer": {"type": "categorical", "choices": ["momentum", "rmsprop", "adam"]},
        },
        "max_trials": 20,
        "seed": 7,
    }
    body.update(over)
    return body


def post(api_url: str, body: Any) -> httpx.Response:
    return httpx.post(f"{api_url}/api/studies", json=body)


def fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 422, r.text
    return [e["field"] for e in r.json()["detail"]]


def test_create_and_show(client: Client) -> None:
    s = client.create_study(study())
    assert s.status == "running" and s.stage == 0 and s.best is None
    assert s.config.seed == 7
    again = client.study(s.id)
    assert again.id == s.id and again.region_id is not None
    assert any(x.id == s.id for x in client.studies().data)


@pytest.mark.parametrize(
    ("space", "field"),
    [
        ({"x": {"type": "float", "low": 0, "high": 1, "scale": "cubic"}}, "space.x.scale"),
        ({"x": {"type": "float", "low": 2, "high": 1}}, "space.x.high"),
        ({"x": {"type": "float", "low": 1, "high": 1}}, "space.x.high"),
        ({"x": {"type": "float", "low": 0.9, "high": 1.0, "scale": "reverse_log"}}, "space.x.high"),
        ({"x": {"type": "float", "low": 0, "high": 1, "scale": "log"}}, "space.x.low"),
        ({"x": {"type": "int", "low": 0, "high": 8, "scale": "log"}}, "space.x.low"),
        ({"x": {"type": "categorical", "choices": []}}, "space.x.choices"),
        ({"x": {"type": "categorical", "choices": ["a", "a"]}}, "space.x.choices"),
        ({"x": {"type": "complex", "low": 0, "high": 1}}, "space.x"),
        ({"x": {"type": "float", "low": 0, "high": 1, "step": 2}}, "space.x.step"),
        ({}, "space"),
    ],
)
def test_bad_space_is_422_naming_the_field(api_url: str, space: dict[str, Any], field: str) -> None:
    r = post(api_url, study(space=space))
    assert field in fields(r), r.json()


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"objective": {"kind": "magic"}}, "objective"),
        ({"objective": {"kind": "function", "name": "nope"}}, "objective.name"),
        ({"objective": {"kind": "function", "name": "quadratic"}}, "objective.name"),  # no 'w'
        ({"max_trials": 0}, "max_trials"),
        ({"parallelism": -1}, "parallelism"),
        ({"direction": "sideways"}, "direction"),
        ({"strategy": {"name": "bayes"}}, "strategy"),
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_study_is_422_naming_the_field(api_url: str, over: dict[str, Any], field: str) -> None:
    assert field in fields(post(api_url, study(**over)))


def test_malformed_json_is_422(api_url: str) -> None:
    r = httpx.post(
        f"{api_url}/api/studies", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422


def test_unknown_ids_are_404(api_url: str) -> None:
    for path in (
        "/api/studies/987654",
        "/api/studies/987654/trials",
        "/api/studies/987654/regions",
        "/api/trials/987654",
    ):
        r = httpx.get(api_url + path)
        assert r.status_code == 404 and "987654" in r.json()["detail"], path
    r = httpx.post(f"{api_url}/api/studies/987654/ask", json={"count": 1})
    assert r.status_code == 404
    r = httpx.post(f"{api_url}/api/trials/987654/tell", json={"attempt": 1, "state": "failed"})
    assert r.status_code == 404


def test_random_study_has_one_region_the_whole_space(client: Client) -> None:
    s = client.create_study(study())
    client.ask(s.id, 3)
    [region] = client.regions(s.id)
    assert region.stage == 0 and region.parent is None and region.trials == 3
    assert region.bounds["learning_rate"]["low"] == pytest.approx(1e-4)
    assert region.bounds["learning_rate"]["high"] == pytest.approx(1.0)
    assert region.bounds["beta"]["high"] == pytest.approx(0.999)
    assert region.bounds["optimizer"]["choices"] == ["momentum", "rmsprop", "adam"]


def test_same_seed_same_trials(client: Client) -> None:
    a = client.create_study(study(seed=11))
    b = client.create_study(study(seed=11))
    c = client.create_study(study(seed=12))
    pa = [t.params for t in client.ask(a.id, 5)]
    pb = [t.params for t in client.ask(b.id, 2)] + [t.params for t in client.ask(b.id, 3)]
    pc = [t.params for t in client.ask(c.id, 5)]
    assert pa == pb
    assert pa != pc


def test_params_respect_bounds_and_scales(client: Client) -> None:
    s = client.create_study(study(max_trials=400))
    trials = client.ask(s.id, 200) + client.ask(s.id, 200)  # at most 256 per request
    lrs = [t.params["learning_rate"] for t in trials]
    betas = [t.params["beta"] for t in trials]
    assert all(1e-4 <= x <= 1 for x in lrs)
    assert all(0.9 <= b <= 0.999 for b in betas)
    assert all(
        16 <= t.params["units"] <= 256 and isinstance(t.params["units"], int) for t in trials
    )
    # On a log scale each decade gets about a quarter of the draws; linear would put ~90% in
    # the top decade.
    assert 0.15 < sum(x < 1e-3 for x in lrs) / len(lrs) < 0.35
    # reverse_log: 1-β in [0.001, 0.1]; half the draws have β above 0.99 (linear: ~10%).
    assert 0.4 < sum(b > 0.99 for b in betas) / len(betas) < 0.6


def test_trials_pagination_after_cursor(client: Client) -> None:
    s = client.create_study(study())
    client.ask(s.id, 7)
    first = client.trials(s.id, limit=4)
    assert [t.number for t in first.data] == [0, 1, 2, 3] and first.count == 7
    rest = client.trials(s.id, after=first.data[-1].number)
    assert [t.number for t in rest.data] == [4, 5, 6]


def test_cancel(client: Client, api_url: str) -> None:
    s = client.create_study(study())
    [t] = client.ask(s.id, 1)
    cancelled = client.cancel(s.id)
    assert cancelled.status == "cancelled" and cancelled.counts["cancelled"] == 1
    r = httpx.post(
        f"{api_url}/api/trials/{t.id}/tell", json={"attempt": 1, "state": "completed", "value": 1.0}
    )
    assert r.status_code == 409
    ask = httpx.post(f"{api_url}/api/studies/{s.id}/ask", json={"count": 1})
    assert ask.status_code == 200 and ask.json()["data"] == []  # nothing more to do
    assert client.cancel(s.id).status == "cancelled"  # idempotent


# Every problem of a body in one 422 (schema errors with the checks beyond it), no prefix.


def all_problems(url: str, body: dict[str, Any]) -> dict[str, str]:
    r = httpx.post(f"{url}/api/studies", json=body)
    assert r.status_code == 422, r.text
    return {e["field"]: e["msg"] for e in r.json()["detail"]}


def train_body(space: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {
        "name": "bad",
        "objective": {"kind": "train", "dataset": "digits", "metric": "val_loss"},
        "direction": "maximize",
        "space": space,
        "max_trials": 4,
    }
    body.update(over)
    return body


def test_bounds_unknown_names_and_direction_arrive_together(api_url: str) -> None:
    found = all_problems(
        api_url,
        train_body(
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


def test_problems_beyond_the_schema_all_at_once_on_a_valid_schema(api_url: str) -> None:
    found = all_problems(
        api_url,
        train_body(
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


def test_a_schema_error_on_a_field_is_not_repeated(api_url: str) -> None:
    body = train_body({"learning_rate": {"type": "float", "low": 0, "high": 1, "scale": "log"}})
    body["direction"] = "sideways"
    found = all_problems(api_url, body)
    assert set(found) == {"space.learning_rate.low", "direction"}
    assert found["space.learning_rate.low"] == "a log scale needs low > 0"


def test_a_valid_study_still_passes(api_url: str) -> None:
    space = {"learning_rate": {"type": "float", "low": 1e-3, "high": 0.1, "scale": "log"}}
    r = httpx.post(f"{api_url}/api/studies", json=train_body(space, direction="minimize"))
    assert r.status_code == 201, r.text


# Renaming (PATCH) and deleting (DELETE) a study.


EDIT_SPACE = {"x": {"type": "float", "low": 0, "high": 1}}


def external(client: Client, name: str = "edit-me") -> int:
    body = {"name": name, "objective": {"kind": "external"}, "space": EDIT_SPACE, "max_trials": 3}
    return client.create_study(body).id


def test_rename(client: Client, api_url: str) -> None:
    sid = external(client)
    renamed = client.update_study(sid, name="a better name")
    assert renamed.name == "a better name" and renamed.config.name == "a better name"
    assert client.study(sid).name == "a better name"
    same = client.update_study(sid)  # an empty patch changes nothing
    assert same.name == "a better name"
    r = httpx.patch(f"{api_url}/api/studies/{sid}", json={"name": ""})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "name"
    r = httpx.patch(f"{api_url}/api/studies/{sid}", json={"colour": "red"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "colour"
    assert httpx.patch(f"{api_url}/api/studies/987654", json={"name": "x"}).status_code == 404


def test_delete_refuses_a_running_study_then_removes_everything(
    client: Client, api_url: str, be: Backend
) -> None:
    sid = external(client, "delete-me")
    [trial] = client.ask(sid)
    client.report(trial.id, trial.attempt, 0, 0.5)
    client.command(trial.id, "set", {"learning_rate": 0.01})
    blob = client.put_checkpoint(trial.id, trial.attempt, 0, b"delete-me state").sha256
    with pytest.raises(Conflict) as refused:
        client.delete_study(sid)
    assert refused.value.detail["field"] == "status" and "cancel it first" in str(refused.value)
    client.cancel(sid)
    client.delete_study(sid)
    assert httpx.get(f"{api_url}/api/studies/{sid}").status_code == 404
    assert httpx.get(f"{api_url}/api/trials/{trial.id}").status_code == 404
    with sa.create_engine(be.database_url).connect() as db:  # nothing of it is left behind
        for table in ("trial_reports", "trial_commands", "checkpoints", "trial_events"):
            rows = db.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE trial_id = :t"), {"t": trial.id}
            )
            assert rows.scalar() == 0, table
        blobs = db.execute(
            sa.text("SELECT count(*) FROM checkpoint_blobs WHERE sha256 = :s"), {"s": blob}
        )
        assert blobs.scalar() == 0
    assert all(s.id != sid for s in client.studies().data)
    assert httpx.delete(f"{api_url}/api/studies/{sid}").status_code == 404
    other = external(client, "still-here")  # the others are untouched
    assert client.study(other).status == "running"


def test_delete_waits_for_a_completed_study_s_retest_round(client: Client) -> None:
    """A completed study whose re-test round still has unfinished trials is not deleted from
    under the clients (or workers) that run them."""
    sid = external(client, "retested")
    for value in (1.0, 2.0, 3.0):
        [t] = client.ask(sid)
        client.tell(t.id, t.attempt, "completed", value)
    assert client.study(sid).status == "completed"
    client.start_retest(sid)
    with pytest.raises(Conflict) as refused:
        client.delete_study(sid)
    assert refused.value.detail["field"] == "status" and "unfinished" in str(refused.value)
    while trials := client.ask(sid):  # the round's trials, handed out on a completed study
        for t in trials:
            client.tell(t.id, t.attempt, "completed", 1.0)
    client.delete_study(sid)
    assert all(s.id != sid for s in client.studies().data)


def test_a_bad_metric_does_not_hide_the_unknown_hyperparameter(api_url: str) -> None:
    """The objective's own schema error (a metric that does not exist) and the space's rule
    problem (a name the trainer does not know) come back in one 422."""
    body = train_body(
        {"lr": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"}},
        direction="minimize",
    )
    body["objective"]["metric"] = "val_acc"
    found = all_problems(api_url, body)
    assert set(found) == {"objective.metric", "space.lr"}
    assert "unknown trainer hyperparameter 'lr'" in found["space.lr"]


def test_a_bad_metric_does_not_hide_what_the_database_lacks(api_url: str) -> None:
    """A schema error (a metric that does not exist) hides neither the unknown dataset nor the
    unknown warm-start study (both need the database) nor the unknown hyperparameter: one 422
    names all of them, each at its field."""
    body = train_body(
        {"lr": {"type": "float", "low": 1e-4, "high": 1, "scale": "log"}},
        direction="minimize",
        warm_start={"study_id": 2_000_000_000},
    )
    body["objective"].update(metric="val_acc", dataset="mnist")
    found = all_problems(api_url, body)
    assert set(found) == {
        "objective.metric",
        "objective.dataset",
        "space.lr",
        "warm_start.study_id",
    }, found
    assert "unknown dataset 'mnist'" in found["objective.dataset"]
    assert "unknown trainer hyperparameter 'lr'" in found["space.lr"]
    assert "study 2000000000 not found" in found["warm_start.study_id"]
    # An uploaded dataset's name that no upload has is just as unknown, and a known one is fine.
    body["objective"]["dataset"] = "no-such-upload@3"
    assert "unknown dataset 'no-such-upload@3'" in all_problems(api_url, body)["objective.dataset"]
    body["objective"]["dataset"] = "digits"
    assert "objective.dataset" not in all_problems(api_url, body)
