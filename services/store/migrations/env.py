"""Alembic environment: async engine, URL from Settings (or the programmatic Config)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import services.store.models  # noqa: F401 -- defines (and imports) every table, so Base knows them all
from services.settings import get_settings
from services.store.db import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=False,
        # Each migration commits on its own: one that fails leaves the database at the one
        # before it (its own DDL rolled back), and a migration's locks (0029's swap of a
        # primary key holds ACCESS EXCLUSIVE) end with it, not with the whole run.
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = create_async_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    run_on(connection)  # handed over by services.store.migrate.upgrade_database
else:
    asyncio.run(run_async())
