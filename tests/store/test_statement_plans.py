"""How PostgreSQL runs the hot fixed statements: their plans and their commits.

The plans PostgreSQL keeps. asyncpg prepares each statement
once per connection, and after five runs PostgreSQL may keep one generic plan for it, made
for arrays of unknown length and for the tables as they were then. A plan that reads a
whole table stays cheap while the table is small and grows with it, so these tests look
at the generic plan of each statement over tables of a thousand rows, in a schema of
their own that copies the real tables (so the other tests' rows do not matter).

A recording's transaction runs its statements on their generic plans, and a claim commits
without waiting for the disk — each for its own transaction only, never for the pooled
connection's next user."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from services.embedded.postgres import EmbeddedPostgres
from services.store import notifications, queries
from services.store.db import driver_dsn, driver_transaction, engine_of
from services.store.outbox import _CLAIM, _RECORD_OUTCOMES
from tests.builders import NOW, party, proposal, replay, staff
from workflows import lifecycle as L
from workflows.notify.rules import Audience

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
        "bigint[], int[], text[], int[], text[], text[], text[], text[], text[], text[]",
        "'{1,2}', '{200,500}', '{NULL,http_500}', '{12,30}', '{endpoint-1}', '{endpoint-2}', "
        "'{event-1,event-2}', '{endpoint-1,endpoint-2}', '{webhook,webhook}', '{endpoint-1,endpoint-2}'",
    )
    assert "Seq Scan on deliveries" not in plan, plan
    assert "Seq Scan on webhook_attempts" not in plan, plan
    # The attempts by their key, the endpoint first (0029); by the id alone, PostgreSQL 18
    # skips through every endpoint of the index and 17 (production's) reads the table.
    assert "Index Cond: ((endpoint_id = ANY" in plan, plan


async def test_a_recordings_transaction_runs_its_statements_on_generic_plans_and_only_it(sessionmaker: Any) -> None:
    prop = proposal([party("jabar", "initiator"), party("jateng")], "ksdd")
    events = L.create(prop, staff("jabar"), NOW, f"agr-{uuid.uuid4()}")
    async with driver_transaction(engine_of(sessionmaker)) as driver:
        await queries.append_events(driver, state=replay(events), events=events)
        assert await driver.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        backend = await driver.fetchval("SELECT pg_backend_pid()")
    async with driver_transaction(engine_of(sessionmaker)) as driver:
        assert await driver.fetchval("SELECT pg_backend_pid()") == backend  # the same pooled connection
        assert await driver.fetchval("SHOW plan_cache_mode") == "auto"


async def test_a_claim_commits_without_waiting_for_the_disk_and_only_the_claim(scratch: Any) -> None:
    async with scratch.transaction():
        await scratch.execute(
            "INSERT INTO deliveries (event_id, recipient, channel, agreement_id, status, payload, due_at) "
            "VALUES ('event-due', 'staff@jabar.example.go.id', 'email', 'agreement-due', 'pending', '{}', $1)",
            NOW,
        )
        assert len(await scratch.fetch(_CLAIM, NOW, 1, timedelta(minutes=5), timedelta(minutes=1))) == 1
        assert await scratch.fetchval("SHOW synchronous_commit") == "off"
    assert await scratch.fetchval("SHOW synchronous_commit") == "on"


async def test_a_claim_leases_a_recordings_deliveries_in_place_without_a_new_index_entry(scratch: Any) -> None:
    # The real table's storage settings (its fillfactor: room on each page), which `LIKE`
    # does not copy; then a recording's worth of deliveries, written together.
    options = await scratch.fetchval("SELECT reloptions FROM pg_class WHERE oid = 'public.deliveries'::regclass")
    assert options, "deliveries keeps room on its pages for the claims' updates"
    await scratch.execute(f"ALTER TABLE deliveries SET ({', '.join(options)})")
    await scratch.execute(
        "INSERT INTO deliveries (event_id, recipient, channel, agreement_id, status, payload, due_at) "
        "SELECT 'event-new', 'endpoint-' || g, 'webhook', 'agreement-new', 'pending', "
        "jsonb_build_object('body', repeat('x', 600)), $1 FROM generate_series(1, 7) AS g",
        NOW,
    )
    async with scratch.transaction():
        claimed = await scratch.fetch(_CLAIM, NOW, 7, timedelta(minutes=5), timedelta(minutes=1))
        updated = await scratch.fetchval("SELECT pg_stat_get_xact_tuples_updated('deliveries'::regclass)")
        in_place = await scratch.fetchval("SELECT pg_stat_get_xact_tuples_hot_updated('deliveries'::regclass)")
    assert len(claimed) == 7 and updated == in_place == 7
    leased = await scratch.fetch("SELECT status, claimed_until FROM deliveries WHERE event_id = 'event-new'")
    assert all(row["status"] == "pending" and row["claimed_until"] is not None for row in leased)


async def test_the_plans_read_of_its_recipients_keeps_one_generic_plan_and_leaves_the_connection_as_it_was(
    pg: EmbeddedPostgres,
) -> None:
    # auto_explain (a superuser's setting) hands the connection the plan each statement ran,
    # nested ones included: the read's query inside `notification_recipients`. A custom plan
    # has the audiences folded in as constants; the generic one refers to the parameters.
    connection = await asyncpg.connect(driver_dsn(pg.url))
    plans: list[str] = []
    connection.add_log_listener(lambda _connection, message: plans.append(str(message)))
    try:
        await connection.execute("LOAD 'auto_explain'")
        await connection.execute(
            "SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; "
            "SET auto_explain.log_level = notice"
        )
        asked = [(Audience(role="staff", org="jabar"), "agreement.submitted")]
        for _ in range(7):  # past the five custom plans PostgreSQL tries before choosing
            await notifications.recipients(connection, asked=asked, orgs=["jabar", "jateng"])
        nested = [plan for plan in plans if "cardinality" in plan]
        assert len(nested) == 7
        assert all("cardinality($2)" in plan for plan in nested), nested[0]
        assert await connection.fetchval("SHOW plan_cache_mode") == "auto"
    finally:
        await connection.close()
