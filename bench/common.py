"""What the benchmarks share: the tests' real components (api processes, fresh databases, a
fleet under fault)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fleet import QUICK_EPOCH, events, fleet_of
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
    "QUICK_EPOCH",
    "ApiProcess",
    "Backend",
    "Process",
    "api_server",
    "backend",
    "events",
    "fleet_backend",
    "fleet_of",
    "wait_for",
    "worker_process",
]
