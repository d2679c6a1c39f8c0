"""``caviar token create|list|revoke``, and the CLI's ``--token`` against a real api."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from caviar.cli import main
from tests.services import api_server, backend


def run(args: list[str], env: dict[str, str]) -> Result:
    """The command in this process; ``caviar token`` still runs ``python -m api.tokens``."""
    return CliRunner().invoke(main, args, env=env)


def test_tokens_are_made_listed_and_revoked_and_the_cli_sends_them(tmp_path: Path) -> None:
    with backend("sqlite", tmp_path) as be:
        env = be.env()
        made = run(["token", "create", "--role", "admin", "--name", "ops"], env)
        assert made.exit_code == 0, made.output
        token = made.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"cvr_[A-Za-z0-9_-]{43}", token)
        listed = run(["token", "list"], env)
        assert listed.exit_code == 0, listed.output
        assert re.search(r"│ 1 +│ admin +│ ops +│ 20\S+ +│ active", listed.stdout), listed.stdout
        assert token not in listed.stdout  # never shown again
        study = tmp_path / "s.yaml"
        study.write_text(
            yaml.safe_dump(
                {
                    "name": "cli",
                    "objective": {"kind": "external"},
                    "space": {"x": {"type": "float", "low": 0, "high": 1}},
                    "max_trials": 2,
                }
            )
        )
        with api_server(be) as url:
            denied = run(["study", "--api", url, "create", str(study)], env)
            assert denied.exit_code != 0 and "401" in denied.output
            ok = run(["study", "--api", url, "--token", token, "create", str(study)], env)
            assert ok.exit_code == 0 and "created study 1" in ok.stdout, ok.output
            by_env = run(["study", "--api", url, "list"], {**env, "CAVIAR_TOKEN": token})
            assert by_env.exit_code == 0 and "│ cli " in by_env.stdout, by_env.output
        revoked = run(["token", "revoke", "1"], env)
        assert revoked.exit_code == 0 and "revoked token 1" in revoked.stdout


def test_reopen_forgets_the_revoked_tokens_and_is_refused_while_one_is_active(
    tmp_path: Path,
) -> None:
    with backend("sqlite", tmp_path) as be:
        env = be.env()
        assert run(["token", "create", "--role", "viewer"], env).exit_code == 0
        refused = run(["token", "reopen"], env)
        assert refused.exit_code != 0 and "still active" in refused.output
        assert run(["token", "revoke", "1"], env).exit_code == 0
        done = run(["token", "reopen"], env)
        assert done.exit_code == 0, done.output
        assert "forgot 1 revoked token(s)" in done.stdout
        assert "Api tokens" in run(["token", "list"], env).stdout
