"""Reading the read model back in tests: one agreement's row, its audit trail."""

from __future__ import annotations

from services.store import queries


async def row(sessionmaker, agreement_id: str) -> queries.AgreementRecord | None:
    async with sessionmaker() as session:
        return await queries.get_agreement(session, agreement_id=agreement_id)


async def events_of(sessionmaker, agreement_id: str) -> list[queries.EventRecord]:
    async with sessionmaker() as session:
        return await queries.list_events(session, agreement_id=agreement_id)
