"""``python -m api.auth.tokens``: create, list and revoke api tokens in the database.

It works on the database directly (``CAVIAR_DATABASE_URL``, or the SQLite file in
``CAVIAR_DATA_DIR``), migrating it first, so the first admin token can be made before the api
ever runs. ``caviar token ...`` runs this module. Output is one JSON document on stdout.

``add --from-env VAR`` stores the token held in the environment variable VAR (a deployment's
secret, e.g. in docker compose), once: running it again changes nothing.

``reopen`` forgets every revoked token so that a loopback api answers this machine without a
token again (once a token has existed, revoking the last one leaves the api closed). It is
refused while a token is active.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import Any

from api.auth.token_store import (
    TokenInfo,
    add_token,
    create_token,
    list_tokens,
    reopen,
    revoke_token,
)
from api.db.migrate import upgrade
from api.db.session import Database
from caviar.roles import ROLES
from caviar.settings import Settings


def _public(info: TokenInfo) -> dict[str, Any]:
    d = asdict(info)
    d["created_at"] = info.created_at.isoformat()
    d["revoked_at"] = info.revoked_at.isoformat() if info.revoked_at else None
    return d


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.auth.tokens", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a token and print it (shown only once)")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--name", default="")
    add = sub.add_parser("add", help="store a token given in an environment variable, once")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--name", default="")
    add.add_argument("--from-env", required=True, metavar="VAR")
    sub.add_parser("list", help="list tokens (never the tokens themselves)")
    revoke = sub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)
    sub.add_parser(
        "reopen", help="forget the revoked tokens: a loopback api answers without a token again"
    )
    args = parser.parse_args(argv)

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as s:
            if args.command == "create":
                info, token = create_token(s, args.role, args.name[:100] or args.role)
                s.commit()
                print(json.dumps({**_public(info), "token": token}))
            elif args.command == "add":
                given = os.environ.get(args.from_env, "")
                try:
                    added = add_token(s, args.role, args.name[:100] or args.role, given)
                except ValueError as exc:
                    print(f"{args.from_env}: {exc}", file=sys.stderr)
                    return 1
                s.commit()
                print(json.dumps(_public(added) if added else {"added": False}))
            elif args.command == "reopen":
                try:
                    forgotten = reopen(s)
                except ValueError as exc:
                    print(str(exc), file=sys.stderr)
                    return 1
                s.commit()
                print(json.dumps({"reopened": True, "forgotten": forgotten}))
            elif args.command == "list":
                print(json.dumps([_public(t) for t in list_tokens(s)]))
            else:
                if not revoke_token(s, args.id):
                    print(f"no active token with id {args.id}", file=sys.stderr)
                    return 1
                s.commit()
                print(json.dumps({"id": args.id, "revoked": True}))
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
