"""The reports' query of an organisation's signed agreements is answered by the GIN index on
`agreements.orgs`: an organisation's report reads its own agreements, not every agreement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text

from services.store import reports


async def test_an_organisation_s_signed_agreements_are_found_through_the_index_on_orgs(sessionmaker, orgs) -> None:
    org, _ = orgs
    statements: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    engine = sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        async with sessionmaker() as session:
            assert await reports.signed_agreements(session, org=org) == []
            (statement, parameters), *_ = [s for s in statements if "FROM agreements" in s[0]]
            # With sequential scans priced out, the planner takes the index if the query can use it.
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            conn = await session.connection()
            plan = "\n".join(r[0] for r in await conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert "ix_agreements_orgs" in plan, plan
