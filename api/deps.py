"""Dependency aliases for the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.trials.dispatch import Dispatcher


# Async on purpose: opening and closing a Session does no I/O worth a thread hop (the sync
# route that uses it runs in the thread pool, where the queries happen). The session closes
# after the answer is sent, so write routes build their answer before they commit: a query
# after the commit would hold SQLite's write lock while the answer travels.
async def _write_session(request: Request) -> AsyncIterator[Session]:
    with request.app.state.db.session() as session:
        yield session


async def _read_session(request: Request) -> AsyncIterator[Session]:
    with request.app.state.db.read_session() as session:
        yield session


def _dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


SessionDep = Annotated[Session, Depends(_write_session)]
ReadSessionDep = Annotated[Session, Depends(_read_session)]
DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]
