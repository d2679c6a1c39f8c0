"""A function objective that overflows at the centre of its space is a 422 naming the space,
not a 500."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("name", "high"), [("rosenbrock", 2e200), ("branin", 2e100), ("sphere", 1e300)]
)
def test_an_overflowing_function_is_a_422(api_url: str, name: str, high: float) -> None:
    space = {n: {"type": "float", "low": 0, "high": high} for n in ("x", "y")}
    body = {"name": "big", "objective": {"kind": "function", "name": name}, "space": space}
    r = httpx.post(f"{api_url}/api/studies", json=body, timeout=30)
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["field"] == "space" and "not finite" in error["msg"]
