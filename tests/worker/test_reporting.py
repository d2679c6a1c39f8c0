"""Reports and checkpoints by time (``worker.objectives.reporting``): buffered epochs go out in
one batch with the steering's acknowledgements, a prune names the pruned step's value, an api
without the batch route gets one report per step, and checkpoints keep an explicit
``checkpoint_every`` exactly."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from caviar.client import Client
from worker.objectives.base import Pruned
from worker.objectives.reporting import CheckpointClock, Reports
from worker.objectives.steering import Steering


def recording(answer: dict[str, Any], batch: bool = True) -> tuple[Client, list[Any]]:
    calls: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        calls.append((path, json.loads(request.content)))
        if path.endswith("/batch") and not batch:
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(200, json=answer)

    return Client("http://api.invalid", transport=httpx.MockTransport(handle)), calls


def buffered(client: Client) -> tuple[Reports, Steering]:
    steering = Steering(client, 7, 1)
    return Reports(client, 7, 1, steering, every=60.0), steering


def test_buffered_epochs_go_out_in_one_batch_with_the_acknowledgements() -> None:
    client, calls = recording({"prune": False, "commands": []})
    reports, steering = buffered(client)
    steering._acks.append({"id": 3, "step": 2})  # a command applied meanwhile
    for step in (1, 2, 3):
        reports.add(step, 1.0 / step, {"val_loss": 1.0 / step})
    assert not reports.due()  # 60 s have not passed
    reports.flush()
    [(path, body)] = calls
    assert path == "/api/trials/7/reports/batch"
    assert [r["step"] for r in body["reports"]] == [1, 2, 3]
    assert body["applied"] == [{"id": 3, "step": 2}] and steering.acks() == []
    reports.flush()  # nothing buffered: no request
    assert len(calls) == 1


def test_a_pruned_batch_raises_with_the_value_at_the_pruned_step() -> None:
    client, _ = recording({"prune": True, "reason": {"step": 2}, "step": 2})
    reports, _ = buffered(client)
    for step, value in ((1, 0.5), (2, 0.9), (3, 0.8)):
        reports.add(step, value, {})
    with pytest.raises(Pruned) as pruned:
        reports.flush()
    assert pruned.value.value == 0.9 and pruned.value.reason == {"step": 2}


def test_an_api_without_the_batch_route_gets_one_report_per_step() -> None:
    client, calls = recording({"prune": False, "commands": []}, batch=False)
    reports, _ = buffered(client)
    for step in (1, 2):
        reports.add(step, 1.0, {})
    reports.flush()
    reports.add(3, 1.0, {})
    reports.flush()
    paths = [path for path, _ in calls]
    assert paths == ["/api/trials/7/reports/batch", *["/api/trials/7/reports"] * 3]
    assert [body["step"] for _, body in calls[1:]] == [1, 2, 3]


def test_an_explicit_checkpoint_every_is_kept_exactly() -> None:
    clock = CheckpointClock(2, min_seconds=3600.0)
    assert [e for e in range(1, 8) if clock.due(e, 7)] == [2, 4, 6, 7]


def test_without_checkpoint_every_checkpoints_wait_for_the_interval_but_not_the_end() -> None:
    slow = CheckpointClock(None, min_seconds=3600.0)
    assert [e for e in range(1, 21) if slow.due(e, 20)] == [20]
    quick = CheckpointClock(None, min_seconds=0.0)
    assert [e for e in range(1, 21) if quick.due(e, 20)] == [5, 10, 15, 20]
    never = CheckpointClock(0, min_seconds=0.0)
    assert [e for e in range(1, 6) if never.due(e, 5)] == [5]
