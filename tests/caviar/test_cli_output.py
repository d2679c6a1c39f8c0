"""What a person sees from ``caviar`` in a terminal: each command runs as a subprocess under a
pseudo-terminal (120 columns) against a real api and real workers; the tests read the screen
output (ANSI codes stripped) for the progress bar, the tables and the messages."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.services import ROOT, api_server, backend, free_port, worker_process

CAVIAR = [sys.executable, "-m", "caviar.cli"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
LONG_FLOAT = re.compile(r"\d\.\d{8,}")


@dataclass
class Screen:
    code: int
    text: str  # what the terminal received, ANSI codes removed


def terminal(args: list[str], env: dict[str, str], timeout: float = 120) -> Screen:
    """Run ``caviar ARGS`` with a pseudo-terminal (120x40) as stdin, stdout and stderr."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [*CAVIAR, *args], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT
    )
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                raise AssertionError(f"caviar {args} hung:\n{b''.join(chunks).decode()}")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    proc.wait(timeout=30)
    return Screen(proc.returncode, ANSI.sub("", b"".join(chunks).decode(errors="replace")))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real api (SQLite) and two real worker processes."""
    with (
        backend("sqlite", tmp_path_factory.mktemp("cli")) as be,
        api_server(be) as url,
        worker_process(be, url, concurrency=2),
    ):
        yield url


def env_for(url: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("CAVIAR_API_URL", None)
    if url:
        env["CAVIAR_API_URL"] = url
    return env


def spec(tmp: Path, name: str, trials: int = 10) -> Path:
    path = tmp / f"{name}.yaml"
    body = {
        "name": name,
        "objective": {"kind": "function", "name": "quadratic"},
        "space": {"w": {"type": "float", "low": -10, "high": 20}},
        "max_trials": trials,
        "parallelism": 4,
        "seed": 3,
    }
    path.write_text(yaml.safe_dump(body))
    return path


def test_create_wait_draws_a_progress_bar_then_the_study(live: str, tmp_path: Path) -> None:
    # --api after the subcommand
    s = terminal(
        ["study", "create", str(spec(tmp_path, "bar")), "--wait", "--api", live], env_for()
    )
    assert s.code == 0, s.text
    assert re.search(r"created study (\d+)", s.text)
    assert re.search(r"study \d+ ━+ 10/10 trials · best \S+ · completed", s.text), s.text
    assert "┃" in s.text or "│" in s.text  # the study's table
    assert re.search(r"│ status\s+│ completed", s.text), s.text
    assert not LONG_FLOAT.search(s.text), s.text


def test_list_show_and_trials_are_tables(live: str, tmp_path: Path) -> None:
    env = env_for(live)
    made = terminal(["study", "create", str(spec(tmp_path, "tables", 8)), "--wait"], env)
    study_id = re.search(r"created study (\d+)", made.text).group(1)  # type: ignore[union-attr]

    listed = terminal(["study", "list"], env)
    assert listed.code == 0, listed.text
    head = next(line for line in listed.text.splitlines() if "direction" in line)
    assert re.search(r"id\s+┃\s+name\s+┃\s+objective\s+┃\s+direction\s+┃\s+status", head)
    row = next(line for line in listed.text.splitlines() if " tables " in line)
    assert "minimize" in row and "completed" in row and "8/8" in row
    assert not LONG_FLOAT.search(listed.text), listed.text

    shown = terminal(["study", "--api", live, "show", study_id], env_for())  # --api on the group
    assert shown.code == 0, shown.text
    assert re.search(r"best\s+│ \S+ \(trial \d+: w=\S+\)", shown.text), shown.text

    trials = terminal(["study", "trials", study_id, "--sort", "value", "--limit", "3"], env)
    assert trials.code == 0, trials.text
    rows = [line for line in trials.text.splitlines() if "completed" in line]
    values = [float(line.split("│")[3]) for line in rows]
    assert len(values) == 3 and values == sorted(values)  # minimize: best first
    assert "3 of 8 trials" in trials.text


def test_a_refused_connection_names_the_url_and_the_way_out() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    s = terminal(["study", "list", "--api", nowhere], env_for())
    assert s.code == 1
    assert f"could not reach the Caviar api at {nowhere}" in s.text
    assert "--api URL" in s.text and "CAVIAR_API_URL" in s.text
    env = terminal(["dataset", "list"], env_for(nowhere))  # the environment variable
    assert env.code == 1 and nowhere in env.text


def test_dataset_upload_list_show(live: str, tmp_path: Path) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text("x,y,label\n" + "".join(f"{i},{i * 0.25},{'ab'[i % 2]}\n" for i in range(12)))
    up = terminal(["dataset", "upload", str(csv), "--name", "points", "--api", live], env_for())
    assert up.code == 0, up.text
    assert "uploaded points@1" in up.text and re.search(r"rows\s+│ 12", up.text), up.text
    listed = terminal(["dataset", "list"], env_for(live))
    assert re.search(r"points@1\s+│\s+12 │\s+2 │ a, b", listed.text), listed.text
    shown = terminal(["dataset", "show", "points"], env_for(live))
    assert re.search(r"version\s+│ 1", shown.text) and "sha256" in shown.text, shown.text
    short = tmp_path / "short.csv"
    short.write_text("x,label\n1,a\n2,b\n")
    bad = terminal(["dataset", "upload", str(short), "--name", "short"], env_for(live))
    assert bad.code == 1 and "10" in bad.text, bad.text
