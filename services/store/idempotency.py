"""Idempotency keys: the first response per (caller, key), kept for retries.

Keyword-only functions over an `AsyncSession`; none commits (the caller owns the unit of
work).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic_core
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.db import driver_connection, json_text, rows_written
from services.store.models import IdempotencyKey

KEYS = IdempotencyKey.__table__


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: dict[str, Any]
    etag: str | None


# A keyed action's lookup and record, as fixed SQL on the session's asyncpg connection (as
# the read model's hot reads, services.store.queries): no statement built, compiled and
# cache-keyed per request — ≈ 1,200 SQLAlchemy calls per keyed action before.
_FIND = (
    "SELECT fingerprint, status, body::text, etag FROM idempotency_keys"
    " WHERE scope = $1::text AND key = $2::text AND created_at >= $3::timestamptz"
)
_DROP_EXPIRED = (
    "DELETE FROM idempotency_keys WHERE scope = $1::text AND key = $2::text AND created_at < $3::timestamptz"
)
_STORE = (
    "INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, etag, agreement_id, version)"
    " VALUES ($1::text, $2::text, $3::bpchar, $4::integer, $5::text::jsonb, $6::text, $7::text, $8::integer)"
    " ON CONFLICT (scope, key) DO NOTHING RETURNING 1"
)


async def find_response(session: AsyncSession, *, scope: str, key: str, since: datetime) -> StoredResponse | None:
    """The response stored for the key, unless it is older than `since` (then it is gone)."""
    # in_transaction: a session that commits at the edge (the web forms') runs it in its
    # unit of work; a statement-by-statement one (AUTOCOMMIT) begins nothing.
    driver = await driver_connection(session, in_transaction=True)
    row = await driver.fetchrow(_FIND, scope, key, since)
    return None if row is None else StoredResponse(row[0], row[1], pydantic_core.from_json(row[2]), row[3])


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
    driver = await driver_connection(session, in_transaction=True)
    await driver.execute(_DROP_EXPIRED, scope, key, expired_before)
    stored = await driver.fetchval(
        _STORE, scope, key, fingerprint, status, json_text(body), etag, agreement_id, version
    )
    if stored is not None:  # this response is the key's first
        return StoredResponse(fingerprint, status, body, etag)
    twin = await find_response(session, scope=scope, key=key, since=expired_before)
    assert twin is not None
    return twin


async def forget_answers_from(session: AsyncSession, *, agreement_id: str, version: int) -> int:
    """Forget the answers that showed the agreement at `version` or later: the recording
    behind them was superseded (history does not hold it), so replaying them would tell a
    caller its command happened when it did not. A retry with the key performs it again."""
    result = await session.execute(delete(KEYS).where(KEYS.c.agreement_id == agreement_id, KEYS.c.version >= version))
    return rows_written(result)


async def forget_expired(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(delete(KEYS).where(KEYS.c.created_at < before))
    return rows_written(result)
