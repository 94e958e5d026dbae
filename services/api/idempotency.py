"""`Idempotency-Key` on actions, as the IETF draft (draft-ietf-httpapi-idempotency-key-
header) and Stripe's practice have it:

- the same key with the same request gets the first response again — status, body and
  ETag — however often it is retried, with `Idempotent-Replayed: true`;
- the same key with a different request is refused with 422 naming the key;
- keys are scoped to the caller (organisation and subject): two callers never share one;
- responses are kept `PAKTA_IDEMPOTENCY_RETENTION_HOURS` (7 days by default), long enough
  for any client's retries; after that the key is new again.

What is stored is what the decider and the workflow answered — the snapshot, or a refusal
(4xx). A 5xx or 503 is not stored: retrying it may well succeed. The command itself is
applied once in any case: its Temporal update id derives from the same scope and key. A
stored success is forgotten in the transaction that supersedes the recording it showed
(Temporal's history does not hold it), so a retry performs the command again rather than
being told it happened.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.auth import Principal
from services.errors import Unprocessable
from services.store import idempotency as store
from services.store.db import session_scope


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def scope_of(principal: Principal) -> str:
    return f"{principal.org}/{principal.sub}"


class KeyReused(Unprocessable):
    code = "idempotency_key_reused"


class InvalidKey(Unprocessable):
    code = "invalid_idempotency_key"


MAX_KEY_LENGTH = 200  # the header's limit (services.api.routes.agreements)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_key(key: str) -> None:
    """Refuse a key that cannot be stored as one. The header's own limits keep these out of
    the API, and the server's parser refuses a control character in any header; a web
    form's hidden key came as sent: a NUL failed PostgreSQL's look-up (a 500), and a key of
    100,000 characters is more than the keys' index takes."""
    if 0 < len(key) <= MAX_KEY_LENGTH and not _CONTROL.search(key):
        return
    raise InvalidKey(f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} characters, none of them a control character.")


def _response(stored: store.StoredResponse) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true", **({"ETag": stored.etag} if stored.etag else {})}
    return JSONResponse(stored.body, status_code=stored.status, headers=headers)


def _check(stored: store.StoredResponse, key: str, request_fingerprint: str) -> None:
    if stored.fingerprint != request_fingerprint:
        raise KeyReused(f"Idempotency-Key {key!r} was already used for a different request.", key=key)


@dataclass(frozen=True)
class KeyedRequest:
    """A request carrying an Idempotency-Key: whose, which key, what request, and when."""

    principal: Principal
    key: str
    request_fingerprint: str
    now: datetime
    retention: timedelta

    @property
    def scope(self) -> str:
        return scope_of(self.principal)

    @property
    def since(self) -> datetime:
        return self.now - self.retention


# Where the records go: a sessionmaker (each call its own unit of work, committed at once),
# or a session whose statements each commit as they run (`services.api.deps.ReadSessionDep`,
# the action route's): then on the connection the request already holds, with no checkout,
# no check of the connection and no BEGIN or COMMIT — each statement is durable when it
# returns, as a unit of work's commit would be. Never a session that commits at the edge:
# a refusal stored there would roll back with the error it answers.
Records = async_sessionmaker[AsyncSession] | AsyncSession


@asynccontextmanager
async def _unit(records: Records) -> AsyncIterator[AsyncSession]:
    if isinstance(records, AsyncSession):
        yield records
        return
    async with session_scope(records) as session:
        yield session


async def replay(records: Records, keyed: KeyedRequest) -> JSONResponse | None:
    """The first response to this key, if this is a retry of the same request."""
    async with _unit(records) as session:
        stored = await store.find_response(session, scope=keyed.scope, key=keyed.key, since=keyed.since)
    if stored is None:
        return None
    _check(stored, keyed.key, keyed.request_fingerprint)
    return _response(stored)


async def remember(
    records: Records,
    keyed: KeyedRequest,
    *,
    status: int,
    body: dict[str, Any],
    etag: str | None,
    shows: tuple[str, int] | None = None,
) -> JSONResponse | None:
    """Store this response as the key's first; if a concurrent twin stored first, its
    response (or, for another request, the refusal) is what the caller gets. A success
    `shows` an agreement at a version: if that version's recording is superseded, the
    answer is forgotten with it (services.store.queries) and a retry performs again.
    (Statement by statement, an expired predecessor may be dropped and the new answer not
    yet stored when the process dies: the key is then new, as the expired one was.)"""
    async with _unit(records) as session:
        stored = await store.remember_response(
            session,
            scope=keyed.scope,
            key=keyed.key,
            fingerprint=keyed.request_fingerprint,
            status=status,
            body=body,
            etag=etag,
            expired_before=keyed.since,
            agreement_id=shows[0] if shows else None,
            version=shows[1] if shows else None,
        )
    _check(stored, keyed.key, keyed.request_fingerprint)
    if (stored.status, stored.body) != (status, body):
        return _response(stored)
    return None
