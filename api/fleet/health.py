"""Is the api able to serve: the database answers a query."""

from __future__ import annotations

import logging

from sqlalchemy import text

from api.db.session import Database

log = logging.getLogger("caviar.health")


def database_problem(db: Database) -> str | None:
    """None when ``SELECT 1`` succeeds on a fresh connection, else what failed, in words that
    name no host, port, user or database (the full error goes to the api's log)."""
    try:
        with db.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health: the database does not answer: %s", exc)
        cause = type(getattr(exc, "orig", None) or exc).__name__
        return f"the {db.dialect} database does not answer ({cause}); the api's log says why"
    return None
