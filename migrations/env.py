"""Alembic environment: the URL comes from the caller or from CAVIAR_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from api.db import models  # noqa: F401  (registers the tables)
from api.db.base import Base
from caviar.settings import Settings

config = context.config
url = config.attributes.get("database_url") or Settings().resolved_database_url
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
