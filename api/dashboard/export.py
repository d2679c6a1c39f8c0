"""The trials table as CSV, streamed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy.orm import Session

from api.dashboard.table import table_query
from api.db.models import Study
from api.trials.study import config_of


def csv_lines(
    session: Session,
    study: Study,
    *,
    sort: str = "number",
    desc: bool = False,
    states: list[str],
    stages: list[int],
) -> Iterator[str]:
    """The filtered trials as CSV (header first), streamed in batches of 1,000 rows."""
    names = list(config_of(study).space)
    q = table_query(study, sort, desc, states, stages)
    head = ["number", "id", "state", "stage", "value", *names, "attempt", "error"]
    head += ["prune_reason", "started_at", "finished_at"]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(head)
    for t in session.scalars(q.execution_options(yield_per=1000)):
        reason = json.dumps(t.prune_reason, sort_keys=True) if t.prune_reason else ""
        out.writerow(
            [t.number, t.id, t.state, t.stage, "" if t.value is None else repr(t.value)]
            + [t.params.get(n, "") for n in names]
            + [t.attempt, t.error or "", reason, _iso(t.started_at), _iso(t.finished_at)]
        )
        if buf.tell() > 64_000:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _iso(t: datetime | None) -> str:
    return t.isoformat() if t else ""
