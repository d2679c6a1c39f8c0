"""``caviar trial ...`` against a real api: steer an external trial from the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from caviar.cli_trial import ascii_curve, parse_assignments
from caviar.client import Client
from tests.services import ROOT, Backend, backend


@pytest.fixture(scope="module")
def be(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with backend("sqlite", tmp_path_factory.mktemp("cli-trial")) as b:
        yield b


def caviar(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caviar.cli", "trial", "--api", api_url, *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_parse_assignments_types_values() -> None:
    assert parse_assignments(["learning_rate=3e-4", "lr_decay_kind=step", "batch_size=32"]) == {
        "learning_rate": 3e-4,
        "lr_decay_kind": "step",
        "batch_size": 32,
    }


def test_ascii_curve_downsamples_to_its_width() -> None:
    rows = ascii_curve([float(i) for i in range(1000)], width=50, height=5)
    assert len(rows) == 5 and all(len(r) == 12 + 50 for r in rows)
    assert rows[0].endswith("•") and "•" in rows[-1][:13]


def test_set_pause_resume_stop_and_show(client: Client, api_url: str) -> None:
    space = {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "scale": "log"}}
    sid = client.create_study(
        {"name": "cli", "objective": {"kind": "external"}, "space": space, "max_trials": 1}
    ).id
    [t] = client.ask(sid, 1)
    client.report(t.id, 1, step=1, value=2.0, metrics={"learning_rate": 0.01})

    bad = caviar(api_url, "set", str(t.id), "hidden_units=8")
    assert bad.returncode != 0
    assert "hidden_units can't change while training; fork instead" in bad.stderr

    ok = caviar(api_url, "set", str(t.id), "learning_rate=3e-4", "--note", "plateau")
    assert ok.returncode == 0, ok.stderr
    assert "set" in ok.stdout and "pending" in ok.stdout
    [command] = client.commands(t.id).data
    assert command.params == {"learning_rate": 3e-4} and command.note == "plateau"
    assert command.author  # who asked

    assert caviar(api_url, "resume", str(t.id)).returncode != 0  # running: 409
    shown = caviar(api_url, "show", str(t.id))
    assert shown.returncode == 0 and "plateau" in shown.stdout and "step 1" in shown.stdout
    assert "steered" not in shown.stdout  # the set waits: nothing was changed yet
    client.report(t.id, 1, step=2, value=1.5, applied=[{"id": command.id, "step": 2}])
    shown = caviar(api_url, "show", str(t.id))
    assert "steered by a person (the search does not learn from it)" in shown.stdout

    stopped = caviar(api_url, "stop", str(t.id))
    assert stopped.returncode == 0, stopped.stderr
    assert client.trial(t.id).state == "completed"
    watched = caviar(api_url, "watch", str(t.id))  # a finished trial: one screen, then done
    assert watched.returncode == 0 and "completed" in watched.stdout


def test_fork_keeps_its_note_and_show_says_where_a_stop_left_a_trial(
    client: Client, api_url: str
) -> None:
    space = {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "scale": "log"}}
    sid = client.create_study(
        {"name": "cli-fork", "objective": {"kind": "external"}, "space": space, "max_trials": 1}
    ).id
    [t] = client.ask(sid, 1)
    client.report(t.id, 1, step=3, value=2.0)
    client.put_checkpoint(t.id, 1, 3, b"state 3")
    forked = caviar(api_url, "fork", str(t.id), "learning_rate=0.02", "--note", "smaller steps")
    assert forked.returncode == 0, forked.stderr
    assert "note smaller steps" in forked.stdout
    assert caviar(api_url, "stop", str(t.id)).returncode == 0
    shown = caviar(api_url, "show", str(t.id))
    assert "stopped by a person at step 3 (a partial run)" in shown.stdout
