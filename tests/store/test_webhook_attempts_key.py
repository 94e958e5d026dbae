"""`webhook_attempts` in one b-tree, its primary key on (endpoint_id, id) (migration 0029):
the migration on a database with attempts in it, down and up again, and the queries the
one key has to serve."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from alembic import command

from services.settings import Settings
from services.store.db import driver_dsn
from services.store.migrate import alembic_config

pytestmark = pytest.mark.asyncio(loop_scope="session")

BEFORE = "2026_12_02_0028"
ATTEMPTS = 3000
ONE_KEY = {
    "pk_webhook_attempts": (
        "CREATE UNIQUE INDEX pk_webhook_attempts ON public.webhook_attempts USING btree (endpoint_id, id)"
    )
}
TWO_INDEXES = {
    "pk_webhook_attempts": "CREATE UNIQUE INDEX pk_webhook_attempts ON public.webhook_attempts USING btree (id)",
    "ix_webhook_attempts_endpoint_id_id": (
        "CREATE INDEX ix_webhook_attempts_endpoint_id_id ON public.webhook_attempts USING btree (endpoint_id, id DESC)"
    ),
}


async def migrate(settings: Settings, how: str, revision: str) -> None:
    # In a thread: Alembic's env runs an event loop of its own.
    await asyncio.to_thread(getattr(command, how), alembic_config(settings.database_url), revision)


async def indexes(connection: Any) -> dict[str, str]:
    rows = await connection.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition, i.indisvalid "
        "FROM pg_index AS i WHERE i.indrelid = 'webhook_attempts'::regclass"
    )
    assert all(row["indisvalid"] for row in rows)
    return {row["name"]: row["definition"] for row in rows}


async def the_attempts(connection: Any) -> list[Any]:
    return list(await connection.fetch("SELECT * FROM webhook_attempts ORDER BY id"))


async def plan(connection: Any, statement: str, *args: Any) -> str:
    """The plan of `statement` where the table has an index that serves it: sequential
    scans are put off (not forbidden: one still shows when no index will do)."""
    async with connection.transaction():
        await connection.execute("SET LOCAL enable_seqscan = off")
        rows = await connection.fetch(f"EXPLAIN (COSTS OFF) {statement}", *args)
    return "\n".join(row[0] for row in rows)


async def refused_twice(connection: Any, columns: str, values: str) -> bool:
    try:
        await connection.execute(
            f"INSERT INTO webhook_attempts ({columns}, event_id, event_type, agreement_id, attempt) "
            f"VALUES ({values}, 'event-again', 'agreement.submitted', 'agreement-again', 1)"
        )
    except asyncpg.UniqueViolationError:
        return True
    return False


async def test_the_attempts_move_to_one_key_down_and_up_again_and_every_attempt_stays(own_database: Settings) -> None:
    await migrate(own_database, "downgrade", BEFORE)
    connection = await asyncpg.connect(driver_dsn(own_database.database_url))
    try:
        await connection.execute(
            "INSERT INTO webhook_endpoints (id, org, url, events, secret, created_by) "
            "SELECT 'endpoint-' || g, 'org-' || g, 'https://example.org/' || g, ARRAY['*'], 'secret', 'test' "
            "FROM generate_series(1, 7) AS g"
        )
        await connection.execute(
            "INSERT INTO webhook_attempts (endpoint_id, event_id, event_type, agreement_id, attempt, "
            "finished_at, status_code, duration_ms) "
            "SELECT 'endpoint-' || (1 + g % 7), 'event-' || g, 'agreement.submitted', 'agreement-' || g / 10, 1, "
            "CASE WHEN g % 3 > 0 THEN now() END, CASE WHEN g % 3 > 0 THEN 200 END, g % 100 "
            "FROM generate_series(1, $1::int) AS g",
            ATTEMPTS,
        )
        attempts = await the_attempts(connection)
        assert await indexes(connection) == TWO_INDEXES

        await migrate(own_database, "upgrade", "head")
        assert await indexes(connection) == ONE_KEY
        assert await the_attempts(connection) == attempts
        await migrate(own_database, "downgrade", BEFORE)
        assert await indexes(connection) == TWO_INDEXES
        assert await the_attempts(connection) == attempts
        assert await refused_twice(connection, "id, endpoint_id", "1, 'endpoint-5'")  # id 1 is endpoint-2's
        await migrate(own_database, "upgrade", "head")
        assert await indexes(connection) == ONE_KEY
        assert await the_attempts(connection) == attempts

        # An attempt is still refused a second time; an id the sequence gave is unique by
        # itself, the key no longer says so across endpoints.
        first = attempts[0]
        assert await refused_twice(connection, "id, endpoint_id", f"{first['id']}, '{first['endpoint_id']}'")
        assert not await refused_twice(connection, "id, endpoint_id", f"{first['id']}, 'endpoint-5'")
    finally:
        await connection.close()


async def test_the_one_key_serves_the_listing_the_outcomes_and_the_endpoints_cascade(own_database: Settings) -> None:
    connection = await asyncpg.connect(driver_dsn(own_database.database_url))
    try:
        assert list(await indexes(connection)) == ["pk_webhook_attempts"]
        # `list_attempts`: an endpoint's attempts, newest first, from a cursor; no sort.
        listing = await plan(
            connection,
            "SELECT * FROM webhook_attempts WHERE endpoint_id = $1 AND id < $2 ORDER BY id DESC LIMIT 100",
            "endpoint-1",
            10,
        )
        assert "Index Scan Backward using pk_webhook_attempts" in listing and "Sort" not in listing, listing
        # `finish_attempt` and the dispatcher's outcomes: by the endpoint and the id.
        finish = await plan(
            connection, "UPDATE webhook_attempts SET finished_at = now() WHERE endpoint_id = $1 AND id = $2", "e", 1
        )
        outcomes = await plan(
            connection,
            "UPDATE webhook_attempts SET finished_at = now() "
            "WHERE endpoint_id = ANY($1::text[]) AND id = ANY($2::bigint[])",
            ["e", "f"],
            [1, 2],
        )
        # The foreign key's cascade when an endpoint goes: its attempts by the key's first column.
        cascade = await plan(connection, "DELETE FROM webhook_attempts WHERE endpoint_id = $1", "e")
        for found in (finish, outcomes, cascade):
            assert "Scan on pk_webhook_attempts" in found or "Scan using pk_webhook_attempts" in found, found
            assert "Seq Scan" not in found, found
    finally:
        await connection.close()
