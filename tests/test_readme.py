"""The README, executed: its shell and Python examples run against a live api (SQLite) and
real worker processes, so a README that drifts from the code fails here.

Convention (in README.md): an HTML comment on the line before a fenced block says what to do
with it:

- ``<!-- readme-test: sh -->``: run with ``bash -euo pipefail`` in a scratch directory shared
  by all blocks (files made by one block are there for the next), where ``.venv/bin/caviar`` is
  this checkout's CLI;
- ``<!-- readme-test: python -->``: run in the same directory with ``.venv/bin/python``, this
  checkout's Python, which the README's section of the block must name (a reader's own
  ``python3`` lacks Caviar's client and its ``httpx``);
- ``<!-- readme-test: study -->``: a YAML study body; it must pass every check of the api's
  creation (the schema and the checks beyond it), and is not run;
- ``<!-- readme-test: skip REASON -->``: not run (e.g. ``make up`` itself, other hosts).

Every ``sh`` and ``python`` block of the README must carry one of these. Blocks run in README
order on one fresh api (so the first study is study 1). Each must exit 0. Every
``http://127.0.0.1:8000`` in a block is replaced with the live api's address, and
``CAVIAR_API_URL`` points there too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from api.studies.checks import problems
from caviar.client import Client
from caviar.schemas import StudyCreate
from tests.services import ROOT, api_server, backend, worker_process

README = ROOT / "README.md"
BLOCK = re.compile(
    r"(?:<!-- readme-test: (?P<kind>\w+)(?P<note>[^>]*)-->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```",
    re.S,
)
DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass
class Block:
    kind: str | None
    lang: str
    body: str
    line: int
    start: int  # the offset of the body in README.md

    def __str__(self) -> str:
        return f"README.md line {self.line} ({self.kind or 'unmarked'} {self.lang} block)"


def blocks() -> list[Block]:
    text = README.read_text()
    return [
        Block(
            m["kind"], m["lang"], m["body"], text.count("\n", 0, m.start("body")), m.start("body")
        )
        for m in BLOCK.finditer(text)
    ]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        backend("sqlite", tmp_path_factory.mktemp("readme")) as be,
        api_server(be) as url,
        worker_process(be, url, concurrency=2),
    ):
        yield url


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reader's directory: ``.venv/bin/caviar`` runs this checkout's CLI, and
    ``.venv/bin/python`` its Python."""
    home = tmp_path_factory.mktemp("reader")
    cli = home / ".venv" / "bin" / "caviar"
    cli.parent.mkdir(parents=True)
    cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m caviar.cli "$@"\n')
    cli.chmod(0o755)
    python = home / ".venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return home


def test_every_example_is_marked() -> None:
    unmarked = [str(b) for b in blocks() if b.lang in ("sh", "python") and b.kind is None]
    assert not unmarked, f"mark these with <!-- readme-test: ... -->: {unmarked}"
    kinds = {b.kind for b in blocks() if b.kind}
    assert kinds <= {"sh", "python", "study", "skip"}, kinds
    assert sum(b.kind in ("sh", "python") for b in blocks()) >= 5


def test_the_readme_is_a_manual_and_its_links_resolve() -> None:
    """The README is the user's manual (at most 500 lines); benchmark results live in
    bench/README.md and long designs in docs/, and every relative link between them resolves,
    down to the heading it names."""
    text = README.read_text()
    assert len(text.splitlines()) <= 500
    assert "## Two commands" in text and "make test" in text  # what .ci/run relies on
    pages = [README, ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) >= 4
    for page in pages:
        for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", link):
                continue
            path, _, heading = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.exists(), f"{page.name}: {link} does not exist"
            if heading and target.suffix == ".md":
                assert heading in _anchors(target), f"{page.name}: no heading for {link}"
    linked = set(re.findall(r"\]\(((?:bench|docs)/[^)#\s]+)", text))
    assert "bench/README.md" in linked and any(x.startswith("docs/") for x in linked)


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to -."""
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in page.read_text().splitlines()
        if line.startswith("#")
    }


def test_python_programs_are_run_with_the_checkouts_python() -> None:
    """``python3 mine.py`` fails with ``No module named 'httpx'``: Caviar's client lives in
    ``.venv``. The section of every Python example names ``.venv/bin/python``, and no shell
    example runs a Python script with another interpreter."""
    text = README.read_text()
    examples = [b for b in blocks() if b.kind == "python"]
    assert examples
    for b in examples:
        section = text[text.rfind("\n## ", 0, b.start) : b.start]
        assert ".venv/bin/python" in section, f"{b}: say to run it with .venv/bin/python"
    other = re.compile(r"(?<![\w/.])python3?(\s+-\S+)*\s+[\w./-]+\.py\b")
    for b in blocks():
        if b.kind == "sh":
            found = [line for line in b.body.splitlines() if other.search(line)]
            assert not found, f"{b}: run scripts with .venv/bin/python: {found}"


def test_the_readme_runs(live: str, scratch: Path) -> None:
    env = {**os.environ, "CAVIAR_API_URL": live, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    for var in ("CAVIAR_DATABASE_URL", "CAVIAR_BROKER_URL"):
        env.pop(var, None)
    ran = []
    for block in blocks():
        body = block.body.replace(DEFAULT_URL, live)
        if block.kind == "study":
            study = StudyCreate.model_validate(yaml.safe_load(body))
            found = problems(dict(study.space), study.objective, study.direction)
            assert found == [], f"{block}: {found}"
            continue
        if block.kind == "sh":
            args = ["bash", "-euo", "pipefail", "-c", body]
        elif block.kind == "python":
            args = [str(scratch / ".venv" / "bin" / "python"), "-c", body]
        else:
            continue
        done = subprocess.run(
            args, cwd=scratch, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{block} failed:\n{done.stdout}\n{done.stderr}"
        ran.append((block, done.stdout))
    outputs = "\n".join(out for _, out in ran)
    # what the README promises the reader sees
    assert "created study 1" in outputs and "completed" in outputs
    assert "pets@1" in outputs
    with Client(live) as c:
        names = {s.name: s for s in c.studies().data}
    assert "quadratic-demo" not in names  # renamed, then deleted
    assert names["pets"].status == "completed" and names["pets"].config.objective.dataset == (
        "pets@1"
    )
    assert names["mine"].status == "completed" and names["mine"].best is not None
