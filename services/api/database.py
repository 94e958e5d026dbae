"""The API's database engine: every connection checked before a request gets it, in one
round trip instead of SQLAlchemy's three.

An API request that fails on a connection PostgreSQL dropped (a restart, a failover) would
be the client's 500, so the API checks each connection as it leaves the pool, as
`pool_pre_ping` did. But asyncpg's `pool_pre_ping` wraps its `;` in a transaction of its
own (BEGIN, `;`, ROLLBACK: three round trips per request, for PgBouncer's transaction
mode). The check here is one `SELECT 1` outside any transaction, sent as a simple query (no
prepared statement, so PgBouncer in transaction mode takes it too), and none at all for a
connection asyncpg already knows is closed: the pool drops every connection it holds and
opens a fresh one, as it does when a ping fails.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_

from services.settings import Settings
from services.store.db import create_engine


def api_engine(settings: Settings) -> AsyncEngine:
    engine = create_engine(settings, pool_pre_ping=False)
    event.listen(engine.sync_engine.pool, "checkout", _check_alive)
    return engine


def _check_alive(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    driver = record.driver_connection
    try:
        if driver is None or driver.is_closed():
            raise ConnectionError("the connection is closed")
        await_(driver.execute("SELECT 1"))
    except Exception as error:
        # Invalidate the whole pool: what dropped one connection dropped the others.
        raise exc.InvalidatePoolError(f"database connection lost: {error}") from error
