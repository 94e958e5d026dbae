"""A fresh connection runs the hot statements without asking PostgreSQL about types.

asyncpg knows the codecs of `text[]` and `oid[]` only; for any other array type a statement
sends or returns, it first queries PostgreSQL's catalog (9–16 ms of PostgreSQL's CPU) on each
new connection. The recording, the claim and an action's reads pass their arrays as `text[]`
and cast them in the SQL, so preparing them on a new connection sends nothing else.

Against the real (embedded, migrated) PostgreSQL; asyncpg's query logger sees every query the
connection sends of its own (the preparation itself is not logged).
"""

from __future__ import annotations

import asyncpg
import pytest

from services.embedded.postgres import EmbeddedPostgres
from services.store import outbox, queries
from services.store.db import driver_dsn

pytestmark = pytest.mark.asyncio(loop_scope="session")

STATEMENTS = {
    "the recording": queries._RECORD,
    "the recording's lock and head": queries._LOCK_AND_HEAD,
    "a retry's stored hashes": queries._STORED_HASHES,
    "an action's uploaded documents": queries._DOCUMENTS_UPLOADED,
    "an action's agreement": queries._GET_AGREEMENT,
    "the dispatcher's claim": outbox._CLAIM,
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
