"""`make up` installs only what the service needs; `make test` adds the dev extras."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.services import ROOT


def planned(target: str) -> str:
    """What make would run for the target from scratch (-B: as if nothing were installed)."""
    if shutil.which("make") is None:
        pytest.skip("make is absent")
    # Under `make test` this runs inside make: drop the parent's flags and level, or the plan
    # gains "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_make_up_installs_the_runtime_only() -> None:
    plan = planned("up")
    assert "pip install --quiet -e .\n" in plan
    assert "[dev]" not in plan and "[bench]" not in plan
    assert (
        plan.strip().splitlines()[-1].endswith("caviar up --host 127.0.0.1 --port 8000 --workers 2")
    )


def test_make_test_installs_the_dev_extras() -> None:
    plan = planned("test")
    assert "pip install --quiet -e '.[dev]'" in plan
    assert (
        plan.strip()
        .splitlines()[-1]
        .endswith("python -m pytest -n 3 --dist loadfile --no-loadscope-reorder")
    )
