"""A fresh connection runs the hot statements without asking PostgreSQL about types.

asyncpg knows the codecs of `text[]` and `oid[]` only; for any other array type a statement
sends or returns, it first queries PostgreSQL's catalog (9–16 ms of PostgreSQL's CPU) on each
new connection. The recordings (at once too, with the plan's writes), a plan's writes alone, the
claim, the dispatcher's outcomes and an action's reads pass their arrays as `text[]` and cast
them in the SQL, and a creation's organisation settings return their `int[]` and `date[]` as
`text[]` — so preparing any of them on a new connection sends nothing else. (The plan's
recipients, `record[]` returned, still ask, once per connection: plain rows from a
set-returning function cost more per call than the one look-up — `perf-pg7`.)

Against the real (embedded, migrated) PostgreSQL; asyncpg's query logger sees every query the
connection sends of its own (the preparation itself is not logged).
"""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
import pytest
from sqlalchemy import text

from services.embedded.postgres import EmbeddedPostgres
from services.store import notifications, organisations, outbox, queries
from services.store.db import driver_dsn, session_scope

pytestmark = pytest.mark.asyncio(loop_scope="session")

STATEMENTS = {
    "the recording": queries._RECORD,
    "the plain recording at once": queries._RECORD_AT_ONCE,
    "a notification plan's writes": notifications._PLAN,
    "the recording's lock and head": queries._LOCK_AND_HEAD,
    "a retry's stored hashes": queries._STORED_HASHES,
    "an action's uploaded documents": queries._DOCUMENTS_UPLOADED,
    "an action's agreement": queries._GET_AGREEMENT,
    "the dispatcher's claim": outbox._CLAIM,
    "the dispatcher's outcomes": outbox._RECORD_OUTCOMES,
    "a creation's organisation settings": organisations._SETTINGS_OF,
    "a page's reader's zone and names": organisations._READER_OF,
}


@pytest.mark.parametrize("statement", STATEMENTS)
async def test_a_new_connection_prepares_the_statement_without_a_type_look_up(pg: EmbeddedPostgres, statement):
    connection = await asyncpg.connect(driver_dsn(pg.url))
    sent: list[str] = []
    connection.add_query_logger(lambda record: sent.append(record.query))
    try:
        await connection.prepare(STATEMENTS[statement])
    finally:
        await connection.close()
    assert sent == [], sent


SETTINGS_STORED = {
    "none set": (None, None),
    "empty lists": ([], []),
    "the edges of every range": (
        [730, 365, 0],
        [date(1945, 8, 17), date(2028, 2, 29), date(2100, 12, 31)],
    ),
    "a year of days off": ([1], [date(2028, 1, 1) + timedelta(days=n) for n in range(366)]),
}


@pytest.mark.parametrize("stored", SETTINGS_STORED)
@pytest.mark.parametrize(
    "session_settings",
    [
        "SET DateStyle = 'ISO, MDY'",
        "SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Pacific/Kiritimati'; SET lc_time = 'C'",
        "SET DateStyle = 'German'; SET TimeZone = 'America/Adak'; SET IntervalStyle = 'sql_standard'",
    ],
)
async def test_a_creation_reads_the_settings_as_stored_whatever_the_sessions_date_style(
    sessionmaker, orgs, stored, session_settings
):
    # The reminder days and days off come back as text (no type look-up); what a creation
    # sees must be what the settings' own read sees with the columns' types, the days in the
    # order stored (the API stores them sorted; apply_defaults sorts them again).
    org = orgs[0]
    reminder_days, days_off = SETTINGS_STORED[stored]
    async with session_scope(sessionmaker) as session:
        await organisations.put_settings(
            session,
            org=org,
            time_zone="Asia/Jayapura",
            expiry_reminder_days=reminder_days,
            days_off=days_off,
            updated_by="admin",
        )
    async with session_scope(sessionmaker) as session:
        for statement in session_settings.split("; "):
            await session.execute(text(statement))
        as_typed = await organisations.get_settings(session, org=org)
        as_text = await organisations._settings_of(session, orgs=[org, org, "no-such-org"])
    assert as_text == {org: as_typed}
    assert as_typed is not None and (as_typed.expiry_reminder_days, as_typed.days_off) == (reminder_days, days_off)
