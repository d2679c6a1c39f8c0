"""The database's clock. Heartbeats are written and judged by it, never by a process's clock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


class db_now(FunctionElement[Any]):
    """The current UTC time on the database server, to the millisecond."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(db_now)
def _db_now_default(element: db_now, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(db_now, "postgresql")
def _db_now_pg(element: db_now, compiler: Any, **kw: Any) -> str:
    return "statement_timestamp()"


@compiles(db_now, "sqlite")
def _db_now_sqlite(element: db_now, compiler: Any, **kw: Any) -> str:
    return "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


class seconds_since(FunctionElement[Any]):
    """Seconds elapsed on the database's clock since a timestamp column."""

    type = Float()
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)


@compiles(seconds_since, "postgresql")
def _since_pg(element: seconds_since, compiler: Any, **kw: Any) -> str:
    col = compiler.process(next(iter(element.clauses)), **kw)
    return f"EXTRACT(EPOCH FROM (statement_timestamp() - {col}))"


@compiles(seconds_since, "sqlite")
def _since_sqlite(element: seconds_since, compiler: Any, **kw: Any) -> str:
    col = compiler.process(next(iter(element.clauses)), **kw)
    return f"((julianday('now') - julianday({col})) * 86400.0)"
