"""The plans PostgreSQL keeps for the hot fixed statements. asyncpg prepares each statement
once per connection, and after five runs PostgreSQL may keep one generic plan for it, made
for arrays of unknown length and for the tables as they were then. A plan that reads a
whole table stays cheap while the table is small and grows with it, so these tests look
at the generic plan of each statement over tables of a thousand rows, in a schema of
their own that copies the real tables (so the other tests' rows do not matter)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from services.embedded.postgres import EmbeddedPostgres
from services.store.db import driver_dsn
from services.store.outbox import _RECORD_OUTCOMES

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROWS = 1000


@pytest_asyncio.fixture(loop_scope="session")
async def scratch(pg: EmbeddedPostgres) -> AsyncIterator[Any]:
    """A connection whose unqualified table names are copies of the real tables, filled
    with `ROWS` deliveries and webhook attempts and analysed."""
    schema = f"plans_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(driver_dsn(pg.url))
    try:
        await connection.execute(f"CREATE SCHEMA {schema}")
        for table in ("webhook_endpoints", "webhook_attempts", "deliveries"):
            await connection.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
        await connection.execute(f"SET search_path = {schema}, public")
        await connection.execute(
            "INSERT INTO webhook_endpoints (id, org, url, events, secret, enabled, created_by, created_at) "
            "SELECT 'endpoint-' || g, 'org-' || g, 'https://example.org/' || g, ARRAY['*'], 'secret', true, "
            "'test', now() FROM generate_series(1, 20) AS g"
        )
        await connection.execute(
            "INSERT INTO deliveries (event_id, recipient, channel, agreement_id, status, payload, due_at) "
            "SELECT 'event-' || g / 7, 'endpoint-' || g % 7, 'webhook', 'agreement-' || g / 100, 'sent', "
            "jsonb_build_object('body', repeat('x', 600)), now() FROM generate_series(1, $1::int) AS g",
            ROWS,
        )
        await connection.execute(
            "INSERT INTO webhook_attempts (endpoint_id, event_id, event_type, agreement_id, attempt) "
            "SELECT 'endpoint-' || g % 7, 'event-' || g / 7, 'agreement.submitted', 'agreement-' || g / 100, 1 "
            "FROM generate_series(1, $1::int) AS g",
            ROWS,
        )
        await connection.execute("ANALYZE webhook_endpoints, webhook_attempts, deliveries")
        yield connection
    finally:
        await connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await connection.close()


async def generic_plan(connection: Any, statement: str, types: str, literals: str) -> str:
    """EXPLAIN of `statement`'s generic plan — the one a prepared statement may keep — run
    with `literals` (its parameters as SQL)."""
    async with connection.transaction():
        await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await connection.execute(f"PREPARE probe ({types}) AS {statement}")
        rows = await connection.fetch(f"EXPLAIN (COSTS OFF) EXECUTE probe ({literals})")
        await connection.execute("DEALLOCATE probe")
    return "\n".join(row[0] for row in rows)


async def test_the_dispatchers_outcomes_find_their_rows_by_key_not_by_reading_the_tables(scratch: Any) -> None:
    plan = await generic_plan(
        scratch,
        _RECORD_OUTCOMES,
        "bigint[], int[], text[], int[], text[], text[], text[], text[], text[]",
        "'{1,2}', '{200,500}', '{NULL,http_500}', '{12,30}', '{endpoint-1}', '{endpoint-2}', "
        "'{event-1,event-2}', '{endpoint-1,endpoint-2}', '{webhook,webhook}'",
    )
    assert "Seq Scan on deliveries" not in plan, plan
    assert "Seq Scan on webhook_attempts" not in plan, plan
