"""What the access middleware costs a request: the same read, 1,000 times in a row, on an open
loopback api (no token in the database) and on one with tokens (Bearer checked against the
cached hashes), SQLite. Prints the median and p95 latency of each.

    .venv/bin/python bench/bench_auth.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import httpx
from common import api_server, backend

from tests.api.auth_helpers import make_tokens

N = 1000
STUDY = {
    "name": "bench",
    "objective": {"kind": "external"},
    "space": {"x": {"type": "float", "low": 0, "high": 1}},
    "max_trials": 10,
}


def run(url: str, headers: dict[str, str]) -> list[float]:
    with httpx.Client(base_url=url, headers=headers) as c:
        sid = c.post("/api/studies", json=STUDY).raise_for_status().json()["id"]
        for _ in range(50):  # warm up
            c.get(f"/api/studies/{sid}").raise_for_status()
        times = []
        for _ in range(N):
            t = time.perf_counter()
            c.get(f"/api/studies/{sid}").raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
    return times


def report(name: str, times: list[float]) -> None:
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"{name:>12}: median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms ({N} GETs)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with backend("sqlite", Path(tmp) / "open") as be:
            be.data_dir.mkdir()
            with api_server(be) as url:
                report("no tokens", run(url, {}))
        with backend("sqlite", Path(tmp) / "tokens") as be:
            be.data_dir.mkdir()
            token = make_tokens(be, ["admin"])["admin"]
            with api_server(be) as url:
                report("with tokens", run(url, {"authorization": f"Bearer {token}"}))


if __name__ == "__main__":
    main()
