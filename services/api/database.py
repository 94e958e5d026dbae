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

A read that writes nothing may go without the check (`read_again_if_lost`, and without a
session `read_from_the_pool`): it is run again, once, on a checked connection if the one it
took turns out lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_

from services.settings import Settings
from services.store.db import create_engine, pooled_driver

T = TypeVar("T")

# Set while a read that may run again takes its connection (`read_again_if_lost`).
_UNCHECKED: ContextVar[bool] = ContextVar("pakta_unchecked_read", default=False)


def api_engine(settings: Settings) -> AsyncEngine:
    engine = create_engine(settings, pool_pre_ping=False)
    event.listen(engine.sync_engine.pool, "checkout", _check_alive)
    return engine


def _check_alive(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    driver = record.driver_connection
    try:
        if driver is None or driver.is_closed():
            raise ConnectionError("the connection is closed")
        if not _UNCHECKED.get():
            await_(driver.execute("SELECT 1"))
    except Exception as error:
        # Invalidate the whole pool: what dropped one connection dropped the others.
        raise exc.InvalidatePoolError(f"database connection lost: {error}") from error


async def read_again_if_lost(session: AsyncSession, read: Callable[[], Awaitable[T]]) -> T:
    """`read` on a connection taken without the `SELECT 1` check — a round trip and ≈ 10 % of
    a read's CPU in the API — and, if that connection turns out lost (PostgreSQL restarted
    or dropped it while it sat in the pool), `read` again on a connection checked as every
    other request's is. Only for a session that has done nothing yet and a `read` that
    writes nothing: running it twice is then the same as running it once."""
    unchecked = _UNCHECKED.set(True)
    try:
        return await read()
    except Exception:
        if not await _lost(session):
            raise
    finally:
        _UNCHECKED.reset(unchecked)
    await session.invalidate()  # the lost connection leaves the pool; the next is checked
    return await read()


async def read_from_the_pool(request: Request, read: Callable[[Any], Awaitable[T]]) -> T:
    """`read` given a connection of the API's pool as its asyncpg connection, each statement
    its own, without a SQLAlchemy session (taking one, its connection and closing it were
    ≈ 10–15 % of a GET's CPU in the API) — taken, as in `read_again_if_lost`, without the
    `SELECT 1` check, and run again, once, on a checked connection if that one turns out
    lost. For reads that write nothing; the read model's reads (`services.store.queries`)
    take the connection as they take a session."""
    return await read_from_the_engine(request.app.state.engine, read)


async def once_on_the_pool(request: Request, statement: Callable[[Any], Awaitable[T]]) -> T:
    """`read_from_the_pool` for a `statement` that writes, but that run twice is the same as
    run once (an upload's `INSERT … ON CONFLICT DO NOTHING`, then its record's head): each
    statement commits on its own as it returns, and a connection found lost is given up and
    `statement` run again on a checked one — which then finds what the first one may have
    written, and writes nothing more."""
    return await read_from_the_engine(request.app.state.engine, statement)


async def read_from_the_engine(engine: AsyncEngine, read: Callable[[Any], Awaitable[T]]) -> T:
    """`read_from_the_pool`, given the engine (an action's reads: `services.api.actions`)."""
    taken: list[Any] = []
    unchecked = _UNCHECKED.set(True)
    try:
        async with pooled_driver(engine) as driver:
            taken.append(driver)
            return await read(driver)
    except Exception:
        # A connection lost is already out of the pool (`pooled_driver`); lost before it was
        # taken (`pooled_driver` could not get one), the next checkout renews the pool.
        if taken and not taken[0].is_closed():
            raise
    finally:
        _UNCHECKED.reset(unchecked)
    async with pooled_driver(engine) as driver:
        return await read(driver)


async def _lost(session: AsyncSession) -> bool:
    try:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
    except Exception:
        return True
    return driver is None or bool(driver.is_closed())
