"""The notification outbox: email and webhook deliveries written by the recording of a
command's events (in its transaction), sent later by the worker's dispatcher.

An outbox row is a row of the `deliveries` log (one per event, recipient and channel, so a
recording retried or repeated writes nothing twice) with `payload` (what to send) and
`due_at` (when it may go). Its life:

    pending ──claim──▶ sending (leased) ──▶ sent
       ▲                    │
       └──── retry later ───┤──▶ failed (given up)

A claim takes due rows with `FOR UPDATE SKIP LOCKED` and leases them, so two dispatchers
never send the same row; a dispatcher that dies mid-send leaves a lease that runs out, and
the row is claimed again. Leases use the database clock (dispatchers on skewed clocks agree);
`due_at` is reckoned in the dispatcher's clock, which office hours and backoffs are about.

Writing rows also sends `NOTIFY pakta_outbox` in the writer's transaction: PostgreSQL
delivers it on commit (never for a transaction rolled back), so dispatchers listening in
any process look at once; their poll is the safety net for a notification missed.

Keyword-only, and none commits: the caller owns the unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.models import AgreementEvent
from services.store.notification_models import Delivery, InboxNotification, NotificationRead

DELIVERIES = Delivery.__table__
INBOX = InboxNotification.__table__
READS = NotificationRead.__table__
EVENTS = AgreementEvent.__table__
WAITING = ("pending", "sending")
OutboxChannel = Literal["email", "webhook"]
# The PostgreSQL notification channel dispatchers LISTEN on.
NOTIFY_CHANNEL = "pakta_outbox"
_NOTIFY = text(f"NOTIFY {NOTIFY_CHANNEL}")


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
    """A claimed delivery: `attempts` counts this one."""

    event_id: str
    recipient: str
    channel: OutboxChannel
    agreement_id: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    due_at: datetime


def _waiting() -> Any:
    return and_(DELIVERIES.c.payload.is_not(None), DELIVERIES.c.status.in_(WAITING))


async def enqueue(session: AsyncSession, *, rows: Sequence[Outgoing]) -> int:
    """Write deliveries to the outbox; those already in the log (a retried recording) are
    left as they are. The number written; if any, the dispatchers are told on commit."""
    if not rows:
        return 0
    statement = (
        insert(DELIVERIES)
        .values([{**row, "status": "pending", "attempts": 0} for row in rows])
        .on_conflict_do_nothing(index_elements=["event_id", "recipient", "channel"])
        .returning(DELIVERIES.c.event_id)
    )
    written = len((await session.execute(statement)).all())
    if written:
        await session.execute(_NOTIFY)
    return written


async def forget_superseded(session: AsyncSession, *, agreement_id: str, event_ids: Sequence[str]) -> None:
    """Drop the notifications of superseded events (a workflow task that never completed
    recorded them; history decided anew), in the transaction that supersedes them, however
    it came about (a recording, or a `resync` that records nothing): they announce what did
    not happen. Deliveries not sent yet go, and the inbox rows with their reads and log —
    the workflow records other events under the same ids, whose notifications are planned
    anew and must not find the old ones in their place. Mail and webhooks already sent stay
    in the log as sent."""
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
_CLAIM = """
WITH due AS (
    SELECT event_id, recipient, channel FROM deliveries
    WHERE payload IS NOT NULL AND status IN ('pending', 'sending') AND due_at <= $1
      AND (claimed_until IS NULL OR claimed_until < now())
    ORDER BY due_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries AS d
SET status = 'sending',
    attempts = d.attempts + 1,
    claimed_until = now() + CASE d.channel WHEN 'email' THEN $3::interval ELSE $4::interval END,
    updated_at = now()
FROM due
WHERE d.event_id = due.event_id AND d.recipient = due.recipient AND d.channel = due.channel
RETURNING d.event_id, d.recipient, d.channel, d.agreement_id, d.payload, d.attempts, d.created_at, d.due_at
"""


async def claim_due(
    session: AsyncSession, *, now: datetime, limit: int, leases: Mapping[OutboxChannel, timedelta]
) -> list[OutboxRow]:
    """Lease up to `limit` rows due by `now` that nobody holds (or whose holder's lease ran
    out), oldest due first, each for its channel's lease (longer than one send may take).
    Rows another transaction is claiming are skipped, not waited for.

    Unlike the other functions here, the claim is committed when it returns: it runs alone,
    outside the session's transaction (give it a session that has done nothing else)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    rows = await driver.fetch(_CLAIM, now, limit, leases["email"], leases["webhook"])
    claimed = [OutboxRow(**dict(row.items())) for row in rows]
    return sorted(claimed, key=lambda row: row.due_at)


def _key(row: OutboxRow) -> Any:
    return and_(
        DELIVERIES.c.event_id == row.event_id,
        DELIVERIES.c.recipient == row.recipient,
        DELIVERIES.c.channel == row.channel,
    )


async def retry_later(session: AsyncSession, *, row: OutboxRow, error: str, due_at: datetime) -> None:
    """After a failed attempt: back to 'pending', due again at `due_at`, the error kept."""
    await session.execute(
        update(DELIVERIES)
        .where(_key(row), DELIVERIES.c.status != "sent")
        .values(status="pending", claimed_until=None, due_at=due_at, last_error=error[:2000], updated_at=func.now())
    )


async def depth(session: AsyncSession, *, now: datetime) -> tuple[int, datetime | None]:
    """How many deliveries are due and not sent yet, and the oldest one's due time."""
    row = (
        await session.execute(
            select(func.count(), func.min(DELIVERIES.c.due_at)).where(_waiting(), DELIVERIES.c.due_at <= now)
        )
    ).one()
    return int(row[0]), row[1]
