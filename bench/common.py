"""Helpers shared by the benchmarks: real api processes, fresh databases, medians."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.services import Backend, api_server, backend

__all__ = ["Backend", "api_server", "backend", "median", "sqlite_and_postgres"]


def median(xs: list[float]) -> float:
    return statistics.median(xs)


@contextmanager
def sqlite_and_postgres(kind: str, tmp: Path) -> Iterator[Backend]:
    with backend(kind, tmp) as b:
        yield b
