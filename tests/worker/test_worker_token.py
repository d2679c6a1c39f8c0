"""A worker with a worker token runs a study that an admin created; the worker token alone
cannot create, cancel or upload."""

from __future__ import annotations

from pathlib import Path

import pytest

from caviar.client import CaviarError, Client
from tests.api.auth_helpers import make_tokens
from tests.services import api_server, backend, wait_for, worker_process

STUDY = {
    "name": "with tokens",
    "objective": {"kind": "function", "name": "quadratic"},
    "space": {"w": {"type": "float", "low": -10, "high": 20}},
    "max_trials": 4,
    "parallelism": 2,
}


def test_a_worker_token_runs_trials_and_nothing_else(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        tokens = make_tokens(be, ["admin", "worker"])
        with (
            api_server(be) as url,
            worker_process(be, url, concurrency=2, CAVIAR_TOKEN=tokens["worker"]) as worker,
            Client(url, token=tokens["admin"]) as admin,
            Client(url, token=tokens["worker"]) as as_worker,
        ):
            sid = admin.create_study(STUDY).id
            wait_for(lambda: admin.study(sid).status == "completed", 90, "the study", log=worker)
            assert admin.study(sid).counts["completed"] == 4
            for call in (
                lambda: as_worker.create_study(STUDY),
                lambda: as_worker.cancel(sid),
                lambda: as_worker.upload_dataset("d", b"x,y\n1,0\n"),
                lambda: as_worker.ask(sid),
            ):
                with pytest.raises(CaviarError) as refused:
                    call()
                assert refused.value.status == 403
