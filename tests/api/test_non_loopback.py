"""An api on a non-loopback address refuses to start without a token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.services import ROOT, backend, free_port


def test_the_api_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        done = subprocess.run(
            [sys.executable, "-m", "api", "--host", "0.0.0.0", "--port", str(free_port())],
            env=be.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0" in done.stderr
    assert "caviar token create --role admin" in done.stderr
