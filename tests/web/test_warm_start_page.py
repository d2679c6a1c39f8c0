"""A warm-started study says where it came from: on its page (Chromium) and in
``caviar study show``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from caviar.client import Client
from tests.api.test_retests import run_out
from tests.services import ROOT, api_server, backend

pytestmark = pytest.mark.browser


def test_a_warm_started_study_shows_its_provenance(page: Page, tmp_path: Path) -> None:
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    body = {"objective": {"kind": "external"}, "space": space, "max_trials": 6}
    with backend("sqlite", tmp_path) as be, api_server(be) as url, Client(url) as c:
        earlier = c.create_study({**body, "name": "earlier"}).id
        run_out(c, earlier, lambda x: (x - 0.3) ** 2)
        later = c.create_study(
            {**body, "name": "later", "warm_start": {"study_id": earlier, "top_k": 2}}
        ).id
        page.goto(f"{url}/#/studies/{later}")
        expect(page.get_by_test_id("warm-start")).to_have_text(
            f"warm-started from study {earlier} (2 configurations)"
        )
        shown = subprocess.run(
            [sys.executable, "-m", "caviar.cli", "study", "show", str(later), "--api", url],
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert shown.returncode == 0, shown.stderr
    assert f"warm-started from study {earlier} (2 configurations)" in shown.stdout
