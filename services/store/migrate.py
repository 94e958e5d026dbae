"""Alembic, driven from code (no alembic.ini to find), so `pakta db upgrade` works from an
installed package as well as from a checkout."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Migrations are named by date and a short revision id: 2026_11_22_0001_initial.py
FILE_TEMPLATE = "%(year)d_%(month).2d_%(day).2d_%(rev)s_%(slug)s"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # ConfigParser interpolates "%": escape it in values.
    config.set_main_option("file_template", FILE_TEMPLATE.replace("%", "%%"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("timezone", "UTC")
    return config


def upgrade_database_sync(url: str, revision: str = "head") -> None:
    """`alembic upgrade head`; call it where no event loop is running."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_database(settings: Settings, revision: str = "head") -> None:
    """`alembic upgrade head` from async code, on one connection of our own engine."""
    engine = create_async_engine(settings.database_url)
    try:
        # Handed over outside a transaction: Alembic's own (env.py's `begin_transaction`)
        # is the one a migration's `autocommit_block` may commit, for statements that run
        # outside any (`CREATE INDEX CONCURRENTLY`, 0029). In a transaction of ours, the
        # block could not end it and the upgrade failed.
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade_on, settings.database_url, revision)
            await connection.commit()
    finally:
        await engine.dispose()


def _upgrade_on(connection: Connection, url: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection  # env.py uses it instead of connecting
    command.upgrade(config, revision)


def make_revision(url: str, *, message: str, rev_id: str | None = None, autogenerate: bool = False) -> None:
    command.revision(alembic_config(url), message=message, rev_id=rev_id, autogenerate=autogenerate)
