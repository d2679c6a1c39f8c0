"""The examples in examples/ as a user runs them: two copies of the script tune one external
study in parallel through a real api, a person sets a learning rate, pauses a trial, and
resumes it; the other copy continues it from its checkpoint; a stop ends the first copy's
trial, and the study finishes.

The PyTorch example runs where torch is installed (the ``bench`` extra:
``pip install -e '.[dev,bench]'``) and is skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from caviar.client import Client
from caviar.runner import unwrap
from tests.services import ROOT, Process, api_server, backend, wait_for

SPACE = {
    "learning_rate": {"type": "float", "low": 0.005, "high": 0.02, "scale": "log"},
    "hidden_units": {"type": "int", "low": 16, "high": 64, "scale": "log"},
    "l2": {"type": "float", "low": 1e-6, "high": 1e-4, "scale": "log"},
}
# The first copy trains for many epochs, so that it is still busy with trial #1 when #0 is
# resumed (and the second copy, not it, takes #0); a person stops #1 at the end.
EPOCHS = 150
LONG = 20 * EPOCHS
NEW_RATE = 0.05


def example(script: str, url: str, study: int, tmp: Path, name: str, epochs: int) -> Process:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "EPOCHS": str(epochs),
        "OMP_NUM_THREADS": "1",
    }
    return Process([sys.executable, f"examples/{script}", url, str(study)], env, tmp / name)


def tune_and_babysit(script: str, tmp: Path) -> None:
    with backend("sqlite", tmp) as be, api_server(be) as url, Client(url) as c:
        sid = c.create_study(
            {
                "name": script,
                "objective": {"kind": "external"},
                "space": SPACE,
                "pruner": {"name": "none"},
                "max_trials": 2,
                "parallelism": 2,
                "seed": 3,
            }
        ).id
        a = example(script, url, sid, tmp, "a.log", LONG)
        b: Process | None = None
        try:
            wait_for(lambda: c.trials(sid).count >= 1, 60, "trial #0 handed out", log=a)
            first = c.trials(sid).data[0]
            wait_for(lambda: c.reports(first.id).count >= 2, 60, "two reports of #0", log=a)

            # babysit #0: a new learning rate, then a pause
            c.command(first.id, "set", {"learning_rate": NEW_RATE}, note="faster")
            wait_for(lambda: c.commands(first.id).data[0].state == "applied", 20, "the set", log=a)
            c.command(first.id, "pause")
            wait_for(lambda: c.trial(first.id).state == "paused", 20, "#0 paused", log=a)
            found = c.checkpoint(first.id)
            assert found is not None
            paused_at, raw = found
            assert unwrap(raw)[1] == {"learning_rate": NEW_RATE}  # the live value goes along

            # the first copy takes #1; the second copy starts and gets the resumed #0
            wait_for(lambda: c.trials(sid).count == 2, 30, "#1 handed out", log=a)
            c.command(first.id, "resume")
            b = example(script, url, sid, tmp, "b.log", EPOCHS)
            line = f"trial #0 attempt 2 from step {paused_at}"
            wait_for(lambda: line in b.output(), 60, "the second copy resuming #0", log=b)
            wait_for(lambda: c.trial(first.id).state == "completed", 120, "#0 completed", log=b)
            second = c.trials(sid).data[1]
            assert second.state == "running", "the first copy was meant to be still busy"
            c.command(second.id, "stop", note="seen enough")  # the first copy's report stops
            assert a.proc.wait(timeout=60) == 0, a.output()
            assert b.proc.wait(timeout=60) == 0, b.output()
        finally:
            a.stop()
            if b is not None:
                b.stop()
        assert "trial #0 attempt 1 from step 0" in a.output()
        assert "trial #1 attempt 1 from step 0" in a.output()
        assert "trial #0 attempt 2" not in a.output()
        assert "ran 1 trials" in b.output() and "is completed" in b.output()
        assert c.trial(second.id).stopped_at_step is not None

        study = c.study(sid)
        assert study.status == "completed" and study.counts["completed"] == 2
        trial = c.trial(first.id)
        assert (trial.state, trial.attempt, trial.steered) == ("completed", 2, True)
        commands = {command.action: command for command in c.commands(first.id).data}
        assert [commands[a].state for a in ("set", "pause", "resume")] == ["applied"] * 3
        set_command = commands["set"]
        reports = c.reports(first.id).data
        assert [r.step for r in reports] == list(range(1, EPOCHS + 1))
        rates = {r.step: r.metrics["learning_rate"] for r in reports}
        assert set_command.applied_step is not None
        assert rates[set_command.applied_step - 1] == first.params["learning_rate"]
        assert all(rates[s] == NEW_RATE for s in range(set_command.applied_step, EPOCHS + 1))
        assert {r.attempt for r in reports if r.step > paused_at} == {2}
        # restored, not started afresh: the first epoch after the pause is far better than
        # the first epoch of the run
        values = {r.step: r.value for r in reports}
        assert values[paused_at + 1] < 0.8 * values[1], values


def test_sklearn_example_tunes_and_is_babysat(tmp_path: Path) -> None:
    tune_and_babysit("sklearn_mlp.py", tmp_path)


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed: it comes with the bench extra (pip install -e '.[dev,bench]')",
)
def test_torch_example_tunes_and_is_babysat(tmp_path: Path) -> None:
    tune_and_babysit("torch_mlp.py", tmp_path)


def test_examples_keep_their_glue_short() -> None:
    """The lines marked ``# caviar`` (everything that exists because of Caviar: reading the
    params, babysitting, the loop, the command line) stay at 30 or fewer."""
    for script in ("sklearn_mlp.py", "torch_mlp.py"):
        text = (ROOT / "examples" / script).read_text()
        glue = [line for line in text.splitlines() if line.rstrip().endswith("# caviar")]
        assert 10 <= len(glue) <= 30, (script, len(glue))
