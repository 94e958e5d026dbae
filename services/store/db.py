"""The database: one async engine per process, sessions committed only at the edge.

API requests get a session from services/api/deps.py (SessionDep); activities use
`session_scope`. Models live in services/store/models.py and derive from `Base`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import pydantic_core
from sqlalchemy import MetaData, Table
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util import greenlet_spawn

from services.settings import Settings

# Deterministic constraint names, so Alembic autogenerate and later migrations can refer to
# (and drop) constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# What a unit of work runs on: a session, or the asyncpg connection of a `driver_transaction`
# (`driver_connection` hands either's driver connection to fixed SQL). asyncpg is untyped.
Unit: TypeAlias = AsyncSession | Any


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    if TYPE_CHECKING:
        __table__: ClassVar[Table]  # every model maps one table (SQLAlchemy types it as any FromClause)


def create_engine(settings: Settings, **options: Any) -> AsyncEngine:
    # pre_ping: connections survive a database restart (e.g. failover) without 500s.
    # pool_size: enough for the requests and activities a process serves at once, so a busy
    # process does not open (and close) a connection per request.
    options = {"pool_size": settings.database_pool_size, "max_overflow": 10, "pool_pre_ping": True, **options}
    return create_async_engine(
        settings.database_url,
        # JSONB columns (a state, an event's data) in and out through pydantic-core, not the
        # standard library's json: several times faster on an agreement's state.
        json_serializer=json_text,
        json_deserializer=pydantic_core.from_json,
        **options,
    )


def json_text(value: Any) -> str:
    """A value as the JSON text a JSONB column is written from (statements on the driver's
    connection pass JSONB as this text)."""
    return pydantic_core.to_json(value).decode()


def rows_written(result: Any) -> int:
    """How many rows an UPDATE's or DELETE's result says it wrote (0 when it tells none).
    `execute` is typed to return a plain `Result`, which has no `rowcount`."""
    return int(getattr(result, "rowcount", 0) or 0)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit (async cannot lazy-load).
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit if the block succeeds, roll back if it raises."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


def engine_of(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine `sessionmaker`'s sessions are bound to (one per process)."""
    engine = sessionmaker.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


@asynccontextmanager
async def driver_transaction(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A connection of the engine's pool, as its asyncpg connection in one transaction:
    committed if the block succeeds, rolled back if it raises — without a SQLAlchemy session
    or connection around it (their checkout, begin and commit were ≈ 40 % of a recording's
    CPU). The pool is the engine's, so its size and reconnecting hold (`pooled_driver`). The
    units of work written for a session take this connection too (`driver_connection`)."""
    async with pooled_driver(engine) as driver, driver.transaction():
        yield driver


@asynccontextmanager
async def pooled_driver(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A connection of the engine's pool, as its asyncpg connection, each statement its own
    transaction (the dispatcher's claim and group writes: one statement each, no session).
    A connection asyncpg knows is closed (PostgreSQL restarted while it sat in the pool) is
    dropped at checkout for a fresh one, and one lost during the block is dropped from the
    pool (the caller's retry gets a fresh one), as SQLAlchemy does on a disconnect."""
    pooled = await engine.raw_connection()
    driver = pooled.driver_connection
    if driver is None or driver.is_closed():
        await greenlet_spawn(pooled.invalidate)
        pooled = await engine.raw_connection()
        driver = pooled.driver_connection
    assert driver is not None
    try:
        yield driver
    except BaseException as error:
        if driver.is_closed():
            await greenlet_spawn(pooled.invalidate, error)
        raise
    finally:
        await greenlet_spawn(pooled.close)


async def driver_connection(session: Unit, *, in_transaction: bool = False) -> Any:
    """The session's asyncpg connection, for hot statements written once as SQL: each is
    prepared once per connection (asyncpg's statement cache), so there is no statement build,
    no compile and no cache-key lookup — and a text that never varies (rows passed as arrays)
    is prepared once whatever the number of rows.

    By default each statement is its own transaction (the dispatcher's claim and group
    writes: no BEGIN or COMMIT round trip); give it a session that has done nothing else
    (the session's own transaction is not begun, and its commit sends nothing).
    `in_transaction=True` (the recording): the session's transaction is begun now if it is
    not yet, so the statements run on the connection join it — the session's commit commits
    them, its rollback undoes them, with whatever the session itself executes.

    Given an asyncpg connection instead (`driver_transaction`: the caller holds its
    transaction), it is that connection: a unit of work written for a session runs in it."""
    if not isinstance(session, AsyncSession):
        return session
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    if in_transaction:
        await _begin(raw.dbapi_connection)
    driver = raw.driver_connection
    assert driver is not None
    return driver


async def _begin(adapted: Any) -> None:
    """BEGIN, as SQLAlchemy's asyncpg adapter sends it before its first statement (it begins
    lazily): then the adapter's commit and rollback end the transaction the driver's
    statements ran in. Its own method, so the isolation level set on the engine holds. The
    adapter's method is not public API: tests/store/test_store.py rolls a recording back and
    finds nothing, which fails if a SQLAlchemy upgrade changes it."""
    if adapted._transaction is None:
        await adapted._start_transaction()


def driver_dsn(database_url: str) -> str:
    """A SQLAlchemy URL (`postgresql+asyncpg://…`) as the DSN asyncpg connects with on its
    own (the dispatcher's LISTEN connection, the bench's loaders)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
