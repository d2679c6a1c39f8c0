"""What a person sees from ``caviar`` in a terminal: each command runs as a subprocess under a
pseudo-terminal (120 columns) against a real api and real workers; the tests read the screen
output (ANSI codes stripped) for the progress bar, the tables and the messages."""

from __future__ import annotations

import fcntl
import http.server
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from tests.services import ROOT, api_server, backend, free_port, worker_process

# The installed ``caviar`` command (the console script beside this Python), as a user runs it.
_SCRIPT = Path(sys.executable).with_name("caviar")
CAVIAR = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "caviar.cli"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
LONG_FLOAT = re.compile(r"\d\.\d{8,}")


@dataclass
class Screen:
    code: int
    text: str  # what the terminal received, ANSI codes removed


def terminal(
    args: list[str], env: dict[str, str], timeout: float = 120, columns: int = 120
) -> Screen:
    """Run ``caviar ARGS`` with a pseudo-terminal (``columns`` x 40) as stdin, stdout and
    stderr."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**env, "COLUMNS": str(columns)}
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


def test_api_and_token_before_the_subcommand(live: str) -> None:
    listed = terminal(["--api", live, "study", "list"], env_for())
    assert listed.code == 0, listed.text
    assert "Studies" in listed.text

    seen: list[str | None] = []

    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"data": [], "count": 0}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        s = terminal(["--token", "cvr_secret", "--api", url, "study", "list"], env_for())
    finally:
        server.shutdown()
    assert s.code == 0, s.text
    assert seen == ["Bearer cvr_secret"]


def every_command(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from every_command(command, (*path, name))


def test_help_renders_as_text() -> None:
    from caviar.cli import main

    summary = terminal(["trial", "--help"], env_for())
    line = next(x for x in summary.text.splitlines() if x.strip().startswith("set "))
    assert "hyperparameters" in line and not line.rstrip().endswith("e.g."), line
    full = terminal(["trial", "set", "--help"], env_for())
    assert "caviar trial set 42 learning_rate=3e-4" in full.text, full.text
    runner = CliRunner()  # every other command's help, in this process (it is quicker)
    for path in [(), *every_command(main)]:
        shown = runner.invoke(main, [*path, "--help"], terminal_width=80)
        assert shown.exit_code == 0, shown.output
        assert "``" not in shown.output, f"caviar {' '.join(path)} --help:\n{shown.output}"
        for row in shown.output.splitlines():
            assert not row.rstrip().endswith(("e.g.", "i.e.")), f"{path}: {row}"


def test_tables_keep_numbers_whole_at_80_columns(live: str, tmp_path: Path) -> None:
    env = env_for(live)
    long_name = "a-study-whose-name-is-much-longer-than-any-terminal-column"
    body = {
        "name": long_name,
        "objective": {"kind": "function", "name": "quadratic"},
        "space": {"w": {"type": "float", "low": 4.99, "high": 5.013}},  # values about 1e-5
        "max_trials": 6,
        "parallelism": 3,
        "seed": 11,
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(body))
    made = terminal(["study", "create", str(tmp_path / "tiny.yaml"), "--wait"], env, columns=80)
    study_id = int(re.search(r"created study (\d+)", made.text).group(1))  # type: ignore[union-attr]
    names = [f"hyperparameter_number_{i}_with_a_long_name" for i in range(6)]
    wide = {
        "name": "wide",
        "objective": {"kind": "function", "name": "sphere"},
        "space": {n: {"type": "float", "low": 1e-7, "high": 3.3, "scale": "log"} for n in names},
        "max_trials": 4,
        "seed": 5,
    }
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump(wide))
    made = terminal(["study", "create", str(tmp_path / "wide.yaml"), "--wait"], env, columns=80)
    wide_id = int(re.search(r"created study (\d+)", made.text).group(1))  # type: ignore[union-attr]

    from caviar.cli_common import fmt
    from caviar.client import Client

    with Client(live) as c:
        best = c.study(study_id).best
        trials = c.trials_page(wide_id, limit=10).data
    assert best is not None

    listed = terminal(["study", "list"], env, columns=80)
    assert listed.code == 0, listed.text
    assert all(len(row) <= 80 for row in listed.text.splitlines()), listed.text
    assert f" {fmt(best.value)} " in listed.text, listed.text  # the best value, whole
    assert "…" not in listed.text, listed.text  # nothing cut: long names fold onto more lines

    shown = terminal(["study", "trials", str(wide_id)], env, columns=80)
    assert shown.code == 0, shown.text
    assert all(len(row) <= 80 for row in shown.text.splitlines()), shown.text
    assert "…" not in shown.text, shown.text
    cells = {c.strip() for row in shown.text.splitlines() for c in row.split("│")}
    for t in trials:
        assert fmt(t.value) in cells, (fmt(t.value), shown.text)
        assert fmt(t.params[names[0]], 4) in cells, shown.text
    assert "not shown for want of width" in shown.text, shown.text
