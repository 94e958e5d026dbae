"""The notification outbox: email and webhook deliveries written by the recording of a
command's events (in its transaction), sent later by the worker's dispatcher.

An outbox row is a row of the `deliveries` log (one per event, recipient and channel, so a
recording retried or repeated writes nothing twice) with `payload` (what to send) and
`due_at` (when it may go). Its life:

    pending ──claim──▶ pending, leased ──▶ sent
       ▲                    │
       └──── retry later ───┤──▶ failed (given up)

A claim takes due rows with `FOR UPDATE SKIP LOCKED` and leases them (`claimed_until`; the
status stays 'pending', so the claim's update is HOT: see `_CLAIM`), so two dispatchers
never send the same row; a dispatcher that dies mid-send leaves a lease that runs out, and
the row is claimed again. Leases use the database clock (dispatchers on skewed clocks agree);
`due_at` is reckoned in the dispatcher's clock, which office hours and backoffs are about.

Writing rows also sends `pg_notify('pakta_outbox', '')` in the writer's transaction: PostgreSQL
delivers it on commit (never for a transaction rolled back), so dispatchers listening in
any process look at once; their poll is the safety net for a notification missed.

Keyword-only, and none commits: the caller owns the unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.db import Unit, driver_connection, rows_written
from services.store.models import AgreementEvent
from services.store.notification_models import Delivery, InboxNotification, NotificationRead

# NOTIFY_CHANNEL: the channel the outbox's writes notify, which dispatchers LISTEN on.
from services.store.notifications import NOTIFY_CHANNEL as NOTIFY_CHANNEL
from services.store.notifications import (
    AttemptEnd,
    DeliveryKey,
    EndpointRecord,
    write_plan,
)

DELIVERIES = Delivery.__table__
INBOX = InboxNotification.__table__
READS = NotificationRead.__table__
EVENTS = AgreementEvent.__table__
WAITING = ("pending", "sending")
OutboxChannel = Literal["email", "webhook"]


class Outgoing(TypedDict):
    """One delivery to write to the outbox."""

    event_id: str
    recipient: str  # the address, or the endpoint id
    channel: OutboxChannel
    agreement_id: str
    payload: dict[str, Any]
    due_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A claimed delivery: `attempts` counts this one. A webhook's carries its payload (the
    event) decoded, its endpoint as the claim found it (None: deleted) and the id of the
    attempt the claim started (None: the endpoint is deleted or switched off, and nothing
    was started). A mail's payload is left empty: its notification and reader come as the
    stored JSON text (`notice_json`, `recipient_json`; None if the payload lacks them), which
    the dispatcher keys what it parsed and rendered by — an event's readers share one
    notice, and the same readers come back event after event."""

    event_id: str
    recipient: str
    channel: OutboxChannel
    agreement_id: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    due_at: datetime
    unbegun: int = 0  # releases never begun since its last try that began (`release_unbegun`)
    notice_json: str | None = None
    recipient_json: str | None = None
    endpoint: EndpointRecord | None = None
    attempt_id: int | None = None


def _waiting() -> Any:
    return and_(DELIVERIES.c.payload.is_not(None), DELIVERIES.c.status.in_(WAITING))


async def enqueue(session: AsyncSession, *, rows: Sequence[Outgoing]) -> int:
    """Write deliveries to the outbox; those already in the log (a retried recording) are
    left as they are. The number written; if any, the dispatchers are told on commit."""
    _, written = await write_plan(session, outgoing=rows)
    return written


async def forget_superseded(session: AsyncSession, *, agreement_id: str, event_ids: Sequence[str]) -> None:
    """Drop the notifications of superseded events (a workflow task that never completed
    recorded them; history decided anew), in the transaction that supersedes them, however
    it came about (a recording, or a `resync` that records nothing): they announce what did
    not happen. Deliveries not sent yet go, and the inbox rows with their reads (and the
    lines the delivery log held for inbox notifications until they were no longer written,
    `notifications._PLAN_WRITES`) — the workflow records other events under the same ids,
    whose notifications are planned anew and must not find the old ones in their place. Mail
    and webhooks already sent stay in the log as sent."""
    if not event_ids:
        return
    ids = list(event_ids)
    await session.execute(
        DELIVERIES.delete().where(
            DELIVERIES.c.agreement_id == agreement_id,
            DELIVERIES.c.event_id.in_(ids),
            or_(_waiting(), DELIVERIES.c.channel == "inbox"),
        )
    )
    await session.execute(INBOX.delete().where(INBOX.c.agreement_id == agreement_id, INBOX.c.event_id.in_(ids)))
    await session.execute(READS.delete().where(READS.c.event_id.in_(ids)))


# The claim, the one statement every dispatcher round runs: written once as SQL and run as
# a prepared statement on the driver's connection, on its own (one statement is its own
# transaction). Built with SQLAlchemy each round it cost a statement build, a cache-key
# lookup, BEGIN and COMMIT round trips — a tenth of the dispatcher's CPU under the bench.
# `_waiting()` above says the same of which rows wait.
#
# It also starts the attempts of the webhooks it claims (recorded before any request
# leaves, so an attempt cut short by a crash shows): each claimed webhook's endpoint as it
# is now and, if it is there and on, its new attempt's id. The endpoints read and the
# attempts written come from one snapshot, so an attempt is only started against an
# endpoint seen enabled. A statement of its own per round before, it cost a round trip, a
# group write and its futures.
_ENDPOINT_FIELDS = [field.name for field in fields(EndpointRecord)]
_ENDPOINT_COLUMNS = ", ".join(f"e.{name} AS endpoint_{name}" for name in _ENDPOINT_FIELDS)
_ROW_FIELDS = [field.name for field in fields(OutboxRow) if field.name not in ("endpoint", "attempt_id")]
_CLAIM = f"""
WITH due AS (
    SELECT event_id, recipient, channel FROM deliveries
    WHERE payload IS NOT NULL AND status IN ('pending', 'sending') AND due_at <= $1
      AND (claimed_until IS NULL OR claimed_until < now())
    ORDER BY due_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
),
claimed AS (
    -- The status stays as it is ('pending'): the lease alone says the row is being sent.
    -- `status` is in the due index's predicate, so changing it made every claim a non-HOT
    -- update (a new entry in both of the table's indexes); this update changes no indexed
    -- column and stays on the row's page when it has room (the table's fillfactor, 0017).
    UPDATE deliveries AS d
    SET attempts = d.attempts + 1,
        claimed_until = now() + CASE d.channel WHEN 'email' THEN $3::interval ELSE $4::interval END,
        updated_at = now()
    FROM due
    WHERE d.event_id = due.event_id AND d.recipient = due.recipient AND d.channel = due.channel
    RETURNING d.event_id, d.recipient, d.channel, d.agreement_id, d.payload, d.attempts, d.created_at, d.due_at,
              d.unbegun
),
started AS (
    INSERT INTO webhook_attempts (endpoint_id, event_id, event_type, agreement_id, attempt)
    -- A payload without its event fails at the send, as it always did, never the claim
    -- (a claim failing would hold up every delivery behind it).
    SELECT c.recipient, c.event_id, coalesce(c.payload -> 'event' ->> 'type', ''),
           coalesce(c.payload -> 'event' ->> 'agreement_id', c.agreement_id), c.attempts
    FROM claimed AS c JOIN webhook_endpoints AS e ON e.id = c.recipient AND e.enabled
    WHERE c.channel = 'webhook'
    RETURNING id, endpoint_id, event_id, attempt
),
-- The claim commits without waiting for its WAL to reach the disk (this transaction only):
-- a flush per claim was most of PostgreSQL's CPU for it. A claim is a lease: lost in a crash
-- of PostgreSQL (the last fraction of a second of such commits can be), its rows are due
-- again, as when a lease runs out — and a send cut short by that crash is sent again either
-- way, since its outcome could not be recorded; only its attempt row may be missing. The
-- outcomes (`_RECORD_OUTCOMES`) commit synchronously, and their flush takes the claim
-- before them to the disk too. Other sessions see a claim at once, flushed or not.
relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
-- A mail's payload as the text of its two parts, not decoded here (see `OutboxRow`).
SELECT c.event_id, c.recipient, c.channel, c.agreement_id, c.attempts, c.created_at, c.due_at, c.unbegun,
       CASE WHEN c.channel = 'email' THEN '{{}}'::jsonb ELSE c.payload END AS payload,
       CASE WHEN c.channel = 'email' THEN (c.payload -> 'notification')::text END AS notice_json,
       CASE WHEN c.channel = 'email' THEN (c.payload -> 'recipient')::text END AS recipient_json,
       s.id AS attempt_id, {_ENDPOINT_COLUMNS}
FROM claimed AS c
CROSS JOIN relaxed
LEFT JOIN webhook_endpoints AS e ON c.channel = 'webhook' AND e.id = c.recipient
LEFT JOIN started AS s ON s.endpoint_id = c.recipient AND s.event_id = c.event_id AND s.attempt = c.attempts
ORDER BY c.due_at
"""


async def claim_due(
    session: Unit, *, now: datetime, limit: int, leases: Mapping[OutboxChannel, timedelta]
) -> list[OutboxRow]:
    """Lease up to `limit` rows due by `now` that nobody holds (or whose holder's lease ran
    out), oldest due first, each for its channel's lease (longer than one send may take),
    and start the attempts of the webhooks among them. Rows another transaction is claiming
    are skipped, not waited for.

    Unlike the other functions here, the claim is committed when it returns: it runs alone,
    outside the session's transaction (give it a session that has done nothing else, or a
    pooled driver connection: `services.store.db.pooled_driver`)."""
    driver = await driver_connection(session)
    rows = await driver.fetch(_CLAIM, now, limit, leases["email"], leases["webhook"])
    return [
        OutboxRow(
            **{name: row[name] for name in _ROW_FIELDS},
            endpoint=EndpointRecord(**{name: row[f"endpoint_{name}"] for name in _ENDPOINT_FIELDS})
            if row["endpoint_id"] is not None
            else None,
            attempt_id=row["attempt_id"],
        )
        for row in rows
    ]


# The dispatcher's group write (`services.worker.batching`), run like the claim: one SQL
# statement, prepared once per connection, its own transaction. Through SQLAlchemy it cost
# a statement build, BEGIN and COMMIT per group — a sixth of the dispatcher's CPU.

# The outcomes of the sends finishing together, all or nothing: the attempts ended, each
# endpoint's health by its latest answer (a success ends a failing spell, a failure starts
# one), the deliveries sent. A data-modifying WITH runs every part to completion.
#
# The rows are found by `= ANY` of the arrays (then matched to their values by position),
# not by a join to `unnest` of them: the prepared statement's plan is made once per
# connection, for arrays of unknown length, and a join to `unnest` (100 rows, the planner
# assumes) was planned as a hash join over whole tables until they held thousands of rows —
# every group write read all of `deliveries` and `webhook_attempts` (under the bench, half
# of PostgreSQL's CPU for the dispatcher). `= ANY` of an array is planned as a few index
# lookups from a few hundred rows on.
#
# The numbers come as `text[]`, cast here (once per statement): for `bigint[]` and `int[]`
# asyncpg asked PostgreSQL's catalog about the types on every new connection (it knows the
# codecs of `text[]` and `oid[]` only).
_RECORD_OUTCOMES = """
WITH ended AS (
    UPDATE webhook_attempts AS a
    SET finished_at = now(),
        status_code = ($2::text[]::int[])[array_position($1::text[]::bigint[], a.id)],
        error = ($3::text[])[array_position($1::text[]::bigint[], a.id)],
        duration_ms = ($4::text[]::int[])[array_position($1::text[]::bigint[], a.id)]
    -- The endpoint leads the table's one key (migration 0029); an id is unique by itself
    -- (its sequence's), the endpoint only finds it.
    WHERE a.endpoint_id = ANY($10::text[]) AND a.id = ANY($1::text[]::bigint[])
),
recovered AS (
    UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ANY($5::text[]) AND failing_since IS NOT NULL
),
failing AS (
    UPDATE webhook_endpoints SET failing_since = now() WHERE id = ANY($6::text[]) AND failing_since IS NULL
),
sent AS (
    UPDATE deliveries AS d
    SET status = 'sent', sent_at = now(), claimed_until = NULL, last_error = NULL, updated_at = now()
    WHERE d.event_id = ANY($7::text[]) AND d.recipient = ANY($8::text[]) AND d.channel = ANY($9::text[])
      AND (d.event_id, d.recipient, d.channel) IN (SELECT * FROM unnest($7::text[], $8::text[], $9::text[]))
)
SELECT 1
"""


async def record_outcomes(
    session: Unit, *, ended: Sequence[AttemptEnd], answered: Mapping[str, bool], sent: Sequence[DeliveryKey]
) -> None:
    """Webhook attempts ended, endpoints' latest answers (`answered`: endpoint id → whether it
    succeeded) and deliveries sent, in one statement: all recorded, or none. Committed when
    it returns, like `claim_due`."""
    if not (ended or answered or sent):
        return
    driver = await driver_connection(session)
    await driver.execute(
        _RECORD_OUTCOMES,
        [str(e["attempt_id"]) for e in ended],
        [_number_text(e["status_code"]) for e in ended],
        [e["error"] for e in ended],
        [_number_text(e["duration_ms"]) for e in ended],
        [endpoint_id for endpoint_id, succeeded in answered.items() if succeeded],
        [endpoint_id for endpoint_id, succeeded in answered.items() if not succeeded],
        [k["event_id"] for k in sent],
        [k["recipient"] for k in sent],
        [k["channel"] for k in sent],
        [e["endpoint_id"] for e in ended],
    )


def _number_text(number: int | None) -> str | None:
    return None if number is None else str(number)


def _key(row: OutboxRow) -> Any:
    return and_(
        DELIVERIES.c.event_id == row.event_id,
        DELIVERIES.c.recipient == row.recipient,
        DELIVERIES.c.channel == row.channel,
    )


async def retry_later(session: AsyncSession, *, row: OutboxRow, error: str, due_at: datetime) -> bool:
    """After a failed attempt: back to 'pending', due again at `due_at`, the error kept —
    only while the row is still this claim's (`attempts` as claimed). A failure recorded
    after its lease ran out (a send, or the wait for a connection to record it, slower than
    the lease) found another dispatcher's claim there: freed, a third would take the row
    while the second still sent it. Every claim after this one counts one more attempt, and
    only its own `release_unbegun` gives it back, so no other live claim has this number.
    A try that began ends a run of tries never begun (`unbegun` back to 0). False when the
    row was no longer this claim's (nothing written)."""
    result = await session.execute(
        update(DELIVERIES)
        .where(_key(row), DELIVERIES.c.status != "sent", DELIVERIES.c.attempts == row.attempts)
        .values(
            status="pending",
            claimed_until=None,
            due_at=due_at,
            last_error=error[:2000],
            unbegun=0,
            updated_at=func.now(),
        )
    )
    return _applied(result)


async def give_up(session: AsyncSession, *, row: OutboxRow, error: str) -> bool:
    """A delivery given up (a permanent failure, or failing past the give-up hours): 'failed',
    the error kept — only while the row is still this claim's, as `retry_later`. A give-up
    recorded after its lease ran out must not mark 'failed' a row another dispatcher has
    claimed since and may be delivering: that claim's own outcome decides. False when the row
    was no longer this claim's (nothing written)."""
    result = await session.execute(
        update(DELIVERIES)
        .where(_key(row), DELIVERIES.c.status != "sent", DELIVERIES.c.attempts == row.attempts)
        .values(status="failed", claimed_until=None, last_error=error[:2000], updated_at=func.now())
    )
    return _applied(result)


async def release_unbegun(session: AsyncSession, *, row: OutboxRow, due_at: datetime | None = None) -> bool:
    """A claimed delivery that never reached its receiver (it waited for a connection past
    its time): its claim's attempt given back, one more release never begun counted
    (`unbegun`), due at `due_at` (None: as it was, and the update stays HOT — `due_at` is
    in the due index). False when the row was no longer this claim's (nothing written)."""
    values: dict[str, Any] = {
        "claimed_until": None,
        "attempts": DELIVERIES.c.attempts - 1,
        "unbegun": DELIVERIES.c.unbegun + 1,
        "updated_at": func.now(),
    }
    if due_at is not None:
        values["due_at"] = due_at
    result = await session.execute(
        update(DELIVERIES)
        .where(_key(row), DELIVERIES.c.status != "sent", DELIVERIES.c.attempts == row.attempts)
        .values(**values)
    )
    return _applied(result)


async def postpone(session: AsyncSession, *, row: OutboxRow, due_at: datetime) -> bool:
    """A claimed mail that may not go yet (claimed outside its reader's office hours): its
    claim's attempt given back — nothing was tried, so it is no step nearer its give-up and
    its run of tries never begun goes on (`unbegun` as it was) — due at `due_at`, only while
    the row is still this claim's (as `release_unbegun`). False when it was no longer
    (nothing written)."""
    result = await session.execute(
        update(DELIVERIES)
        .where(_key(row), DELIVERIES.c.status != "sent", DELIVERIES.c.attempts == row.attempts)
        .values(claimed_until=None, attempts=DELIVERIES.c.attempts - 1, due_at=due_at, updated_at=func.now())
    )
    return _applied(result)


def _applied(result: Any) -> bool:
    """An outcome's UPDATE found its row still its claim's (one row written)."""
    return rows_written(result) == 1


async def depth(session: AsyncSession, *, now: datetime) -> tuple[int, datetime | None]:
    """How many deliveries are due and not sent yet, and the oldest one's due time."""
    row = (
        await session.execute(
            select(func.count(), func.min(DELIVERIES.c.due_at)).where(_waiting(), DELIVERIES.c.due_at <= now)
        )
    ).one()
    return int(row[0]), row[1]
