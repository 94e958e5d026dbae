"""Idempotency keys: the first response per (caller, key), kept for retries.

Keyword-only functions over an `AsyncSession`; none commits (the caller owns the unit of
work).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.models import IdempotencyKey

KEYS = IdempotencyKey.__table__


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: dict[str, Any]
    etag: str | None


async def find_response(session: AsyncSession, *, scope: str, key: str, since: datetime) -> StoredResponse | None:
    """The response stored for the key, unless it is older than `since` (then it is gone)."""
    row = (
        await session.execute(
            select(KEYS.c.fingerprint, KEYS.c.status, KEYS.c.body, KEYS.c.etag).where(
                KEYS.c.scope == scope, KEYS.c.key == key, KEYS.c.created_at >= since
            )
        )
    ).first()
    return None if row is None else StoredResponse(row.fingerprint, row.status, row.body, row.etag)


async def remember_response(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    status: int,
    body: dict[str, Any],
    etag: str | None,
    expired_before: datetime,
    agreement_id: str | None = None,
    version: int | None = None,
) -> StoredResponse:
    """Store the first response for the key (a concurrent twin's response, if it stored
    first, wins and is returned); drop the key's expired predecessor. A success names the
    agreement and the `version` it showed (see `forget_answers_from`)."""
    await session.execute(
        delete(KEYS).where(KEYS.c.scope == scope, KEYS.c.key == key, KEYS.c.created_at < expired_before)
    )
    await session.execute(
        insert(KEYS)
        .values(
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            status=status,
            body=body,
            etag=etag,
            agreement_id=agreement_id,
            version=version,
        )
        .on_conflict_do_nothing(index_elements=[KEYS.c.scope, KEYS.c.key])
    )
    stored = await find_response(session, scope=scope, key=key, since=expired_before)
    assert stored is not None
    return stored


async def forget_answers_from(session: AsyncSession, *, agreement_id: str, version: int) -> int:
    """Forget the answers that showed the agreement at `version` or later: the recording
    behind them was superseded (history does not hold it), so replaying them would tell a
    caller its command happened when it did not. A retry with the key performs it again."""
    result = await session.execute(delete(KEYS).where(KEYS.c.agreement_id == agreement_id, KEYS.c.version >= version))
    return int(getattr(result, "rowcount", 0) or 0)


async def forget_expired(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(delete(KEYS).where(KEYS.c.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
