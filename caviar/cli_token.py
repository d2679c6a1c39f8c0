"""``caviar token``: create, list and revoke the api's tokens.

These commands work on the database, not over REST: they run ``python -m api.auth.tokens`` as a
child process with this environment (``CAVIAR_DATABASE_URL`` or ``CAVIAR_DATA_DIR``), the way
``caviar up`` starts the api. So the first admin token can be made before the api runs, and no
token is needed to make one: whoever can reach the database is already an administrator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from caviar.cli_common import console
from caviar.roles import ROLES


def _run(args: list[str], data_dir: Path | None) -> Any:
    env = dict(os.environ)
    if data_dir is not None:
        env["CAVIAR_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "api.auth.tokens", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise click.ClickException(
            done.stderr.strip().splitlines()[-1] if done.stderr else "failed"
        )
    return json.loads(done.stdout)


data_dir_option = click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="where the SQLite database lives [default: CAVIAR_DATA_DIR or ./caviar-data]",
)


@click.group()
def token() -> None:
    """Create, list and revoke api tokens (on the database of CAVIAR_DATABASE_URL)."""


@token.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", default="", help="a label, e.g. the worker host or the person")
@data_dir_option
def token_create(role: str, name: str, data_dir: Path | None) -> None:
    """Create a token and print it. It is shown only this once."""
    made = _run(["create", "--role", role, "--name", name], data_dir)
    click.echo(f"token {made['id']} ({made['role']}, {made['name']!r}); keep it, it is shown once:")
    click.echo(made["token"])


@token.command("list")
@data_dir_option
def token_list(data_dir: Path | None) -> None:
    """List tokens: id, role, name, created, revoked (never the tokens themselves)."""
    table = Table(
        "id", "role", "name", "created", "state", title="Api tokens", title_justify="left"
    )
    for t in _run(["list"], data_dir):
        state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"
        table.add_row(str(t["id"]), t["role"], t["name"], t["created_at"], state)
    console.print(table)


@token.command("revoke")
@click.argument("token_id", type=int)
@data_dir_option
def token_revoke(token_id: int, data_dir: Path | None) -> None:
    """Revoke token TOKEN_ID (every api replica refuses it within 2 s). Revoking the last one
    leaves the api closed: every call still needs a token (see: caviar token reopen)."""
    _run(["revoke", str(token_id)], data_dir)
    click.echo(f"revoked token {token_id}")


@token.command("reopen")
@data_dir_option
def token_reopen(data_dir: Path | None) -> None:
    """Open a loopback api again on purpose: forget every revoked token, so that the api
    answers requests from this machine without a token (as before the first token). Refused
    while a token is active; an api on another address still answers nobody without one."""
    done = _run(["reopen"], data_dir)
    click.echo(
        f"forgot {done['forgotten']} revoked token(s); a loopback api answers this machine "
        "without a token again (within 2 s)"
    )
