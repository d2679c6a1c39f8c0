"""Is the api able to serve: the database answers a query."""

from __future__ import annotations

from sqlalchemy import text

from api.db.session import Database


def database_problem(db: Database) -> str | None:
    """None when ``SELECT 1`` succeeds on a fresh connection, else why it failed."""
    try:
        with db.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{type(exc).__name__}: {first}"[:500]
    return None
