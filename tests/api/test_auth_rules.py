"""The role table on routes that other parts of Caviar add (panda mode, re-testing, the trial
life): the method-based default covers them without an entry of their own."""

from __future__ import annotations

import pytest

from api.auth.rules import roles_for

ADMIN = {"admin"}
READERS = {"admin", "viewer"}
WORKERS = {"admin", "worker"}


@pytest.mark.parametrize(
    ("method", "path", "roles"),
    [
        ("POST", "/api/trials/{trial_id}/commands", ADMIN),
        ("GET", "/api/trials/{trial_id}/commands", READERS | {"worker"}),
        ("POST", "/api/trials/{trial_id}/fork", ADMIN),
        ("POST", "/api/studies/{study_id}/retests", ADMIN),
        ("GET", "/api/studies/{study_id}/retests", READERS),
        ("PATCH", "/api/studies/{study_id}", ADMIN),
        ("DELETE", "/api/studies/{study_id}", ADMIN),
        ("POST", "/api/trials/{trial_id}/heartbeat", WORKERS),
        ("POST", "/api/trials/{trial_id}/checkpoints", WORKERS),
        ("PUT", "/api/trials/{trial_id}/checkpoint", WORKERS),
        ("GET", "/api/trials/{trial_id}/checkpoint", READERS | {"worker"}),
        ("POST", "/api/trials/17/start", WORKERS),
        ("POST", "/api/trials/17/start/again", ADMIN),
        ("POST", "/api/datasets", ADMIN),
        ("GET", "/api/datasets/{ref}/content", READERS | {"worker"}),
        ("GET", "/api/studies", READERS),
        ("GET", "/api/fleet", READERS),
        ("GET", "/metrics", READERS),
        ("POST", "/api/anything-new", ADMIN),
        ("TRACE", "/api/studies", ADMIN),
    ],
)
def test_roles_for(method: str, path: str, roles: set[str]) -> None:
    assert roles_for(method, path) == roles


def test_health_is_public_to_read_only() -> None:
    assert roles_for("GET", "/api/health") is None
    assert roles_for("POST", "/api/health") == ADMIN
