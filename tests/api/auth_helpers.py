"""Making tokens the way an operator does: ``python -m api.tokens`` on the backend's database."""

from __future__ import annotations

import json
import subprocess
import sys

from api.auth.token_store import create_token
from api.db.migrate import upgrade
from api.db.session import Database
from caviar.roles import Role
from tests.services import ROOT, Backend


def tokens_cli(be: Backend, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.auth.tokens", *args],
        env=be.env(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def make_token(be: Backend, role: str) -> tuple[int, str]:
    """(id, token) of a new token, made by the operator's command."""
    done = tokens_cli(be, "create", "--role", role, "--name", f"test {role}")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    return made["id"], made["token"]


def make_tokens(be: Backend, roles: list[Role]) -> dict[Role, str]:
    """A token per role, made in this process (faster than a command per token)."""
    upgrade(be.database_url)
    db = Database(be.database_url)
    try:
        with db.session() as s:
            made = {role: create_token(s, role, f"test {role}")[1] for role in roles}
            s.commit()
    finally:
        db.dispose()
    return made
