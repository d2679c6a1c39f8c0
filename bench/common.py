"""What the benchmarks share: the tests' real components (api processes, fresh databases)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.services import (
    ApiProcess,
    Backend,
    Process,
    api_server,
    backend,
    fleet_backend,
    wait_for,
    worker_process,
)

__all__ = [
    "ApiProcess",
    "Backend",
    "Process",
    "api_server",
    "backend",
    "fleet_backend",
    "wait_for",
    "worker_process",
]
