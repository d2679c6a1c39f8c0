"""docker-compose.yml against the Compose Specification's JSON schema (vendored beside this
file, see COMPOSE-SPEC.md), and the deployment's rules: one image for the api, the migrate job
and the workers; the api does not migrate again; workers know only the broker and the api;
a worker healthcheck; Redis appends to a volume; a .dockerignore that keeps local state out."""

from __future__ import annotations

import copy
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import httpx
import jsonschema
import pytest
import yaml

from caviar.cli import main
from tests.services import ROOT, Process, free_port, wait_for

HERE = Path(__file__).parent


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def errors(doc: dict[str, Any]) -> list[str]:
    schema = json.loads((HERE / "compose-spec.json").read_text())
    validator = jsonschema.Draft201909Validator(schema)  # its $schema, spelled the old way
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_the_compose_file_follows_the_specification() -> None:
    assert errors(compose()) == []


def test_the_schema_catches_mistakes() -> None:
    doc = compose()
    typo = copy.deepcopy(doc)
    typo["services"]["worker"]["healthcheck"]["interval_s"] = 5
    wrong = copy.deepcopy(doc)
    wrong["services"]["api"]["depends_on"]["migrate"]["condition"] = "migrated"
    assert errors(typo) and errors(wrong)


def test_one_image_and_the_right_commands() -> None:
    services = compose()["services"]
    caviar = {name: services[name] for name in ("migrate", "api", "worker")}
    assert {(s["image"], s["build"]) for s in caviar.values()} == {("caviar:local", ".")}
    migrate = caviar["migrate"]["command"]
    assert migrate[:2] == ["sh", "-c"]
    steps = [step.split() for step in migrate[2].split("&&")]
    assert steps[0] == ["caviar", "migrate"]
    # then the deployment's tokens: an api off loopback refuses to start without one
    roles = {step[step.index("--role") + 1] for step in steps[1:]}
    assert all(step[:4] == ["python", "-m", "api.auth.tokens", "add"] for step in steps[1:])
    assert roles == {"admin", "worker"}
    assert caviar["api"]["command"][:2] == ["caviar", "api"]
    assert "--no-migrate" in caviar["api"]["command"]
    assert caviar["api"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert caviar["worker"]["command"][:2] == ["caviar", "worker"]
    for s in (caviar["api"], caviar["worker"]):  # every command parses as the CLI's own
        parses(s["command"][1:])
    parses(steps[0][1:])


def test_workers_know_only_the_broker_and_the_api() -> None:
    services = compose()["services"]
    assert set(services["worker"]["environment"]) == {
        "CAVIAR_BROKER_URL",
        "CAVIAR_API_URL",
        "CAVIAR_TOKEN",
    }
    # the workers' token is the one the migrate job stores with the worker role
    assert services["worker"]["environment"]["CAVIAR_TOKEN"].startswith("${CAVIAR_WORKER_TOKEN")
    assert services["migrate"]["environment"]["CAVIAR_WORKER_TOKEN"].startswith(
        "${CAVIAR_WORKER_TOKEN"
    )
    assert "CAVIAR_DATABASE_URL" in services["api"]["environment"]
    assert (
        services["api"]["environment"]["CAVIAR_BROKER_URL"]
        == (services["worker"]["environment"]["CAVIAR_BROKER_URL"])
    )
    check = " ".join(services["worker"]["healthcheck"]["test"])
    assert "celery -A worker.celery_app inspect ping" in check
    assert "-d celery@$$HOSTNAME" in check  # its own node, not any worker of the fleet


def test_redis_appends_to_a_volume() -> None:
    doc = compose()
    redis = doc["services"]["redis"]
    assert redis["command"] == ["redis-server", "--appendonly", "yes"]
    volume, target = redis["volumes"][0].split(":")
    assert target == "/data" and volume in doc["volumes"]


def test_the_build_context_leaves_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv/", "caviar-data/", ".git/", "test-artifacts/", "**/__pycache__/"):
        assert entry in ignored
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src
                assert f"{src}/" not in ignored and src not in ignored, src


def test_no_migrate_serves_without_migrating_and_migrate_upgrades(tmp_path: Path) -> None:
    db = tmp_path / "caviar.db"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "CAVIAR_DATA_DIR": str(tmp_path),
        "CAVIAR_DATABASE_URL": f"sqlite:///{db}",
        "CAVIAR_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.db'}",
    }
    port = free_port()
    api = Process(
        [sys.executable, "-m", "caviar.cli", "api", "--port", str(port), "--no-migrate"],
        env,
        tmp_path / "api.log",
    )
    try:
        url = f"http://127.0.0.1:{port}/api/health"

        def healthy() -> bool:
            try:
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, "the api", log=api)
    finally:
        api.stop()

    def tables() -> set[str]:
        with sqlite3.connect(db) as c:
            return {r[0] for r in c.execute("select name from sqlite_master")}

    assert "alembic_version" not in tables()
    done = subprocess.run(
        [sys.executable, "-m", "caviar.cli", "migrate"], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert {"alembic_version", "studies", "trials"} <= tables()


def parses(args: list[str]) -> None:
    """``caviar ARGS`` parses (the subcommand and its options), or click raises."""
    parent = click.Context(main, info_name="caviar")
    command = main.get_command(parent, args[0])
    assert command is not None, args[0]
    command.make_context(args[0], list(args[1:]), parent=parent)


def test_the_commands_are_checked() -> None:
    parses(["api", "--no-migrate"])
    with pytest.raises(click.NoSuchOption):
        parses(["api", "--no-such-flag"])
