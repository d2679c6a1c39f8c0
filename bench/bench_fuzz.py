"""Bad input: a long schemathesis run against a live api, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_fuzz.py [--examples 110] [--stateful 60]
        [--backends sqlite,postgres] [--seed N]

For each backend: a fresh database, a real api process (``python -m api``), an external study
with a running trial (so requests reach stored objects, not only unknown ids), then
``--examples`` generated requests per operation, generation mode (valid and invalid) and id kind
(random, stored), every method each path does not serve (its 405 and ``Allow``), then
``--stateful`` scenarios that chain operations through the links schemathesis infers. Prints
the requests sent, the 5xx answers, the statuses the OpenAPI document does not list, the bodies
that do not match it, the schema-valid requests rejected, the schema-invalid requests accepted
and the wrong ``Allow`` answers (see ``tests/openapi_fuzz.py`` for what counts).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import api_server, backend

from tests.openapi_fuzz import fuzz, seed_objects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=110)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--stateful", type=int, default=60, help="stateful scenarios")
    parser.add_argument("--seed", type=int, default=None, help="another run than the default")
    args = parser.parse_args()
    print(
        "| backend | requests (stateful) | 5xx | undocumented status | body not as documented "
        "| valid requests rejected | invalid requests accepted | wrong Allow "
        "| 422 by rules across fields | seconds |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    findings = []
    for kind in args.backends.split(","):
        with (
            tempfile.TemporaryDirectory() as tmp,
            backend(kind, Path(tmp)) as be,
            api_server(be) as url,
        ):
            started = time.monotonic()
            report = fuzz(
                url,
                args.examples,
                stored_ids=seed_objects(url),
                seed=args.seed,
                stateful_examples=args.stateful,
            )
            seconds = time.monotonic() - started
        s = report.summary()
        print(
            f"| {kind} | {s['requests']:,} ({s['stateful']:,}) | {s['server_errors']} "
            f"| {s['undocumented']} | {s['nonconforming']} | {s['rejected_valid']} "
            f"| {s['invalid_accepted']} | {s['wrong_allow']} | {s['cross_field_422']} "
            f"| {seconds:.0f} |",
            flush=True,
        )
        findings += [(kind, f) for f in report.findings]
        print(f"  statuses: {json.dumps(s['statuses'])}", flush=True)
        if s["stateful_stopped"]:
            print("  the stateful phase stopped early (a scenario drew differently)", flush=True)
    for kind, f in findings[:20]:
        print(f"{kind}: {f}")


if __name__ == "__main__":
    main()
