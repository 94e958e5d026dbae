"""Keyword-only data functions of notification delivery: contacts, webhook endpoints and
their attempts, the exactly-once delivery log, the in-app inbox.

As in `queries`, none commits (the caller owns the unit of work) and reads return frozen
records. Times that decide correctness (leases, "failing since") come from the database
clock, so workers with skewed clocks agree.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Row,
    and_,
    any_,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.db import Unit, driver_connection, json_text, rows_written
from services.store.models import Agreement, AgreementSummary
from services.store.notification_models import (
    Contact,
    Delivery,
    InboxNotification,
    NotificationRead,
    WebhookAttempt,
    WebhookEndpoint,
)
from workflows.messages import TERMINAL_STAGES, AgreementState
from workflows.notify.rules import Audience, Notification

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from services.store.outbox import Outgoing

CONTACTS = Contact.__table__
ENDPOINTS = WebhookEndpoint.__table__
ATTEMPTS = WebhookAttempt.__table__
DELIVERIES = Delivery.__table__
INBOX = InboxNotification.__table__
READS = NotificationRead.__table__
AGREEMENTS = Agreement.__table__
SUMMARIES = AgreementSummary.__table__
INBOX_NAMESPACE = uuid.UUID("5b0f8a0e-3c1d-4f7e-9d2a-6c4b1e8f2a33")

Channel = Literal["email", "webhook", "inbox"]


class DeliveryKey(TypedDict):
    """One delivery in the `deliveries` log."""

    event_id: str
    recipient: str
    channel: Channel


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class ContactRecord:
    id: str
    org: str
    sub: str | None
    name: str
    email: str
    language: Literal["id", "en"]  # held by a check constraint
    roles: list[str]
    gates: list[str]
    opt_out: list[str]
    time_zone: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: str
    org: str
    url: str
    events: list[str]
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    enabled: bool
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    created_by: str
    created_at: datetime

    def subscribed(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    id: int
    endpoint_id: str
    event_id: str
    event_type: str
    agreement_id: str
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    error: str | None
    duration_ms: int | None


@dataclass(frozen=True, slots=True)
class InboxRecord:
    id: str
    event_id: str
    event_type: str
    agreement_id: str
    seq: int
    audience_key: str
    template: str
    data: dict[str, Any]
    at: datetime
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claim:
    """Outcome of claiming a delivery: `claimed` (send now; `attempt` counts from 1),
    `sent` (delivered before: do nothing) or `busy` (another attempt holds the lease)."""

    status: Literal["claimed", "sent", "busy"]
    attempt: int = 0


_Record = TypeVar("_Record", bound="DataclassInstance")


def _record(cls: type[_Record], row: Row[*tuple[Any, ...]]) -> _Record:
    return cls(**{field.name: getattr(row, field.name) for field in fields(cls)})


# ---------------------------------------------------------------- contacts


async def create_contact(
    session: AsyncSession,
    *,
    org: str,
    name: str,
    email: str,
    roles: Sequence[str],
    created_by: str,
    sub: str | None = None,
    language: str = "id",
    gates: Sequence[str] = (),
    opt_out: Sequence[str] = (),
    time_zone: str | None = None,
) -> ContactRecord | None:
    """Add a contact; None if the organisation already has one with this address."""
    row = (
        await session.execute(
            insert(CONTACTS)
            .values(
                id=str(uuid.uuid4()),
                org=org,
                sub=sub,
                name=name,
                email=email.strip().lower(),
                language=language,
                roles=list(roles),
                gates=list(gates),
                opt_out=list(opt_out),
                time_zone=time_zone,
                created_by=created_by,
            )
            .on_conflict_do_nothing(index_elements=["org", "email"])
            .returning(*CONTACTS.c)
        )
    ).first()
    return _record(ContactRecord, row) if row else None


async def list_contacts(session: AsyncSession, *, org: str | None) -> list[ContactRecord]:
    query = select(*CONTACTS.c).order_by(CONTACTS.c.org, CONTACTS.c.email)
    if org is not None:
        query = query.where(CONTACTS.c.org == org)
    return [_record(ContactRecord, r) for r in await session.execute(query)]


async def get_contact(session: AsyncSession, *, contact_id: str) -> ContactRecord | None:
    row = (await session.execute(select(*CONTACTS.c).where(CONTACTS.c.id == contact_id))).first()
    return _record(ContactRecord, row) if row else None


async def delete_contact(session: AsyncSession, *, contact_id: str) -> bool:
    result = cast(CursorResult[Any], await session.execute(CONTACTS.delete().where(CONTACTS.c.id == contact_id)))
    return result.rowcount > 0


async def contacts_for(session: AsyncSession, *, audience: Audience, template: str) -> list[ContactRecord]:
    """The contacts an audience reaches by email: matching org (any, for org=None), role
    and gate, and not opted out of email or of this kind of notification."""
    query = (
        select(*CONTACTS.c)
        .where(_reaches(audience), ~CONTACTS.c.opt_out.overlap(["email", template]))
        .order_by(CONTACTS.c.email, CONTACTS.c.org)
    )
    return [_record(ContactRecord, r) for r in await session.execute(query)]


async def contacts_reached(
    session: Unit, *, asked: Iterable[tuple[Audience, str]]
) -> dict[tuple[str, str], list[ContactRecord]]:
    """`contacts_for` of many (audience, template) pairs in one query, keyed by (audience
    key, template): a recording plans a batch's notifications for several audiences, and a
    round trip each was most of the plan's cost. The query fetches every contact who might
    match one of them; each pair then keeps those `Audience.matches` and that are not opted
    out of its template — the same contacts, in the same order, as `contacts_for`."""
    reached, _ = await recipients(session, asked=asked, orgs=())
    return reached


async def recipients(
    session: Unit, *, asked: Iterable[tuple[Audience, str]], orgs: Iterable[str]
) -> tuple[dict[tuple[str, str], list[ContactRecord]], list[EndpointRecord]]:
    """`contacts_reached` of `asked` and `endpoints_for` of `orgs`, in one statement: what a
    recording's plan reads, in one round trip instead of two. Needs no transaction: the
    plan is written after it whatever a contact's change in between (as before, when each
    statement read its own snapshot)."""
    read = await recipients_read(session, asked=asked, orgs=orgs)
    return read.reached, read.endpoints


@dataclass(frozen=True, slots=True)
class RecipientsRead:
    """`recipients` as read, with their version (`RecipientsVersion`) in the same snapshot:
    None when nothing was asked, so nothing read, or when there is no version to check."""

    reached: dict[tuple[str, str], list[ContactRecord]]
    endpoints: list[EndpointRecord]
    version: int | None


async def recipients_read(
    session: Unit, *, asked: Iterable[tuple[Audience, str]], orgs: Iterable[str]
) -> RecipientsRead:
    """`recipients`, and the version they were read at: a plan made of them is written only
    while it is still the version (`queries.append_at_once`), so they may be kept and used
    again until someone changes a contact or an endpoint (`services.worker.recipients`)."""
    pairs = {(audience.key, template): (audience, template) for audience, template in asked}
    parties = list(orgs)
    if not pairs and not parties:
        return RecipientsRead({}, [], None)
    audiences = list({audience.key: audience for audience, _ in pairs.values()}.values())
    driver = await driver_connection(session, in_transaction=True)
    row = await driver.fetchrow(
        _RECIPIENTS,
        [audience.org for audience in audiences],
        [audience.role for audience in audiences],
        [audience.gate for audience in audiences],
        parties,
    )
    candidates = [ContactRecord(*contact) for contact in row["contacts"]]
    reached = {
        key: [
            c
            for c in candidates
            if template not in c.opt_out and audience.matches(org=c.org, roles=c.roles, gates=c.gates)
        ]
        for key, (audience, template) in pairs.items()
    }
    return RecipientsRead(reached, [EndpointRecord(*endpoint) for endpoint in row["endpoints"]], row["version"])


# The contacts any of the audiences ($1 orgs, $2 roles, $3 gates; NULL: any) reaches by email,
# as `_reaches` says it, and the enabled webhook endpoints of the organisations $4, each as an
# array of rows of `ContactRecord`'s and `EndpointRecord`'s columns: one fixed text, whatever
# the audiences. The query is the function `notification_recipients` (migration
# 2026_12_01_0020), which keeps one generic plan per connection where a statement of its own
# was planned afresh at every recording. The function is STABLE, so it reads with the
# statement's snapshot: the version beside it is the one of the rows it reads (NULL, its row
# gone: none to keep them by, and the recording checks none — they were just read).
_RECIPIENTS = """
SELECT r.contacts, r.endpoints, (SELECT version FROM notification_recipients_version) AS version
FROM notification_recipients($1::text[], $2::text[], $3::text[], $4::text[]) AS r
"""

# The version a plan's recipients were read at, still current in the reading statement's
# snapshot: `queries.append_at_once` writes nothing otherwise.
RECIPIENTS_CURRENT = "(SELECT version FROM notification_recipients_version) = {version}::bigint"


def _reaches(audience: Audience) -> ColumnElement[bool]:
    """The contacts `audience` matches, as SQL (`Audience.matches`)."""
    clauses = [literal(audience.role) == any_(CONTACTS.c.roles)]
    if audience.org is not None:
        clauses.append(CONTACTS.c.org == audience.org)
    if audience.gate is not None:
        clauses.append(literal(audience.gate) == any_(CONTACTS.c.gates))
    return and_(*clauses)


# ---------------------------------------------------------------- webhook endpoints


async def create_endpoint(
    session: AsyncSession, *, org: str, url: str, events: Sequence[str], secret: str, created_by: str
) -> EndpointRecord:
    row = (
        await session.execute(
            insert(ENDPOINTS)
            .values(id=str(uuid.uuid4()), org=org, url=url, events=list(events), secret=secret, created_by=created_by)
            .returning(*ENDPOINTS.c)
        )
    ).one()
    return _record(EndpointRecord, row)


async def list_endpoints(session: AsyncSession, *, org: str | None) -> list[EndpointRecord]:
    query = select(*ENDPOINTS.c).order_by(ENDPOINTS.c.created_at, ENDPOINTS.c.id)
    if org is not None:
        query = query.where(ENDPOINTS.c.org == org)
    return [_record(EndpointRecord, r) for r in await session.execute(query)]


async def get_endpoint(session: AsyncSession, *, endpoint_id: str) -> EndpointRecord | None:
    row = (await session.execute(select(*ENDPOINTS.c).where(ENDPOINTS.c.id == endpoint_id))).first()
    return _record(EndpointRecord, row) if row else None


async def delete_endpoint(session: AsyncSession, *, endpoint_id: str) -> bool:
    result = cast(CursorResult[Any], await session.execute(ENDPOINTS.delete().where(ENDPOINTS.c.id == endpoint_id)))
    return result.rowcount > 0


async def rotate_secret(
    session: AsyncSession, *, endpoint_id: str, secret: str, grace: timedelta
) -> EndpointRecord | None:
    """New secret now; the old one keeps signing (as a second signature) for `grace`."""
    row = (
        await session.execute(
            update(ENDPOINTS)
            .where(ENDPOINTS.c.id == endpoint_id)
            .values(previous_secret=ENDPOINTS.c.secret, previous_secret_expires_at=func.now() + grace, secret=secret)
            .returning(*ENDPOINTS.c)
        )
    ).first()
    return _record(EndpointRecord, row) if row else None


async def enable_endpoint(session: AsyncSession, *, endpoint_id: str) -> EndpointRecord | None:
    row = (
        await session.execute(
            update(ENDPOINTS)
            .where(ENDPOINTS.c.id == endpoint_id)
            .values(enabled=True, failing_since=None, disabled_at=None, disabled_reason=None)
            .returning(*ENDPOINTS.c)
        )
    ).first()
    return _record(EndpointRecord, row) if row else None


async def endpoints_for(session: Unit, *, orgs: Iterable[str]) -> list[EndpointRecord]:
    """Enabled endpoints of these organisations (subscriptions are filtered by the caller)."""
    _, endpoints = await recipients(session, asked=(), orgs=orgs)
    return endpoints


async def endpoint_succeeded(session: AsyncSession, *, endpoint_id: str) -> None:
    await session.execute(
        update(ENDPOINTS)
        .where(ENDPOINTS.c.id == endpoint_id, ENDPOINTS.c.failing_since.is_not(None))
        .values(failing_since=None)
    )


async def endpoint_failed(session: AsyncSession, *, endpoint_id: str) -> None:
    await session.execute(
        update(ENDPOINTS)
        .where(ENDPOINTS.c.id == endpoint_id, ENDPOINTS.c.failing_since.is_(None))
        .values(failing_since=func.now())
    )


async def disable_if_failing(
    session: AsyncSession, *, endpoint_id: str, failing_for: timedelta, reason: str
) -> EndpointRecord | None:
    """Switch the endpoint off if it has not succeeded for `failing_for`; the endpoint if
    this call disabled it (None if it was healthy enough, already off, or gone)."""
    row = (
        await session.execute(
            update(ENDPOINTS)
            .where(
                ENDPOINTS.c.id == endpoint_id,
                ENDPOINTS.c.enabled,
                ENDPOINTS.c.failing_since <= func.now() - failing_for,
            )
            .values(enabled=False, disabled_at=func.now(), disabled_reason=reason)
            .returning(*ENDPOINTS.c)
        )
    ).first()
    return _record(EndpointRecord, row) if row else None


async def start_attempt(
    session: AsyncSession, *, endpoint_id: str, event_id: str, event_type: str, agreement_id: str, attempt: int
) -> int:
    attempt_id: int = (
        await session.execute(
            insert(ATTEMPTS)
            .values(
                endpoint_id=endpoint_id,
                event_id=event_id,
                event_type=event_type,
                agreement_id=agreement_id,
                attempt=attempt,
            )
            .returning(ATTEMPTS.c.id)
        )
    ).scalar_one()
    return attempt_id


async def finish_attempt(
    session: AsyncSession,
    *,
    endpoint_id: str,
    attempt_id: int,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    await session.execute(
        update(ATTEMPTS)
        # The endpoint leads the table's key (migration 0029): by the id alone, a whole scan.
        .where(ATTEMPTS.c.endpoint_id == endpoint_id, ATTEMPTS.c.id == attempt_id)
        .values(finished_at=func.now(), status_code=status_code, error=error, duration_ms=duration_ms)
    )


class AttemptEnd(TypedDict):
    endpoint_id: str
    attempt_id: int
    status_code: int | None
    error: str | None
    duration_ms: int


async def list_attempts(
    session: AsyncSession, *, endpoint_id: str, limit: int = 100, before_id: int | None = None
) -> list[AttemptRecord]:
    query = select(*ATTEMPTS.c).where(ATTEMPTS.c.endpoint_id == endpoint_id).order_by(ATTEMPTS.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(ATTEMPTS.c.id < before_id)
    return [_record(AttemptRecord, r) for r in await session.execute(query)]


# ---------------------------------------------------------------- the delivery log


async def claim_delivery(
    session: AsyncSession, *, event_id: str, recipient: str, channel: Channel, agreement_id: str, lease: timedelta
) -> Claim:
    """Claim (event, recipient, channel) for one send. Not 'sent' and no live lease: the row
    becomes 'sending' with a lease of `lease` and this attempt's number. The lease keeps a
    second execution of the same delivery (Temporal retried it while the first still runs)
    from sending in parallel; it expires by itself when a worker dies mid-send."""
    row = (
        await session.execute(
            insert(DELIVERIES)
            .values(
                event_id=event_id,
                recipient=recipient,
                channel=channel,
                agreement_id=agreement_id,
                status="sending",
                attempts=1,
                claimed_until=func.now() + lease,
            )
            .on_conflict_do_update(
                index_elements=["event_id", "recipient", "channel"],
                set_={
                    "status": "sending",
                    "attempts": DELIVERIES.c.attempts + 1,
                    "claimed_until": func.now() + lease,
                    "updated_at": func.now(),
                },
                where=and_(
                    DELIVERIES.c.status != "sent",
                    or_(DELIVERIES.c.claimed_until.is_(None), DELIVERIES.c.claimed_until < func.now()),
                ),
            )
            .returning(DELIVERIES.c.attempts)
        )
    ).first()
    if row is not None:
        return Claim("claimed", row.attempts)
    status = (
        await session.execute(
            select(DELIVERIES.c.status).where(
                DELIVERIES.c.event_id == event_id, DELIVERIES.c.recipient == recipient, DELIVERIES.c.channel == channel
            )
        )
    ).scalar_one()
    return Claim("sent" if status == "sent" else "busy")


def _key(event_id: str, recipient: str, channel: Channel) -> ColumnElement[bool]:
    return and_(DELIVERIES.c.event_id == event_id, DELIVERIES.c.recipient == recipient, DELIVERIES.c.channel == channel)


async def mark_sent(session: AsyncSession, *, event_id: str, recipient: str, channel: Channel) -> None:
    await mark_all_sent(session, keys=[{"event_id": event_id, "recipient": recipient, "channel": channel}])


async def mark_all_sent(session: AsyncSession, *, keys: Sequence[DeliveryKey]) -> None:
    if not keys:
        return
    key = tuple_(DELIVERIES.c.event_id, DELIVERIES.c.recipient, DELIVERIES.c.channel)
    await session.execute(
        update(DELIVERIES)
        .where(key.in_([(k["event_id"], k["recipient"], k["channel"]) for k in keys]))
        .values(status="sent", sent_at=func.now(), claimed_until=None, last_error=None, updated_at=func.now())
    )


async def release_delivery(
    session: AsyncSession,
    *,
    event_id: str,
    recipient: str,
    channel: Channel,
    attempt: int,
    error: str,
    failed: bool = False,
) -> bool:
    """After a failed attempt: free the lease so the next retry may claim at once, and keep
    the error; `failed=True` when the delivery is refused for good. Only while the row is
    still the claim of `attempt` (its `Claim.attempt`) and still being sent, as the outbox's
    `retry_later` and `give_up`: an outcome recorded after its lease ran out (a stalled
    worker, a wait for a database connection) may find Temporal's next attempt's claim
    there — freed, a third execution would claim and send while the second still sends;
    marked 'failed', the second's delivery would be recorded as given up. Every claim counts
    one attempt more, so no other live claim has this number. False when it was no longer
    this claim's (nothing written)."""
    result = await session.execute(
        update(DELIVERIES)
        .where(_key(event_id, recipient, channel), DELIVERIES.c.status == "sending", DELIVERIES.c.attempts == attempt)
        .values(
            status="failed" if failed else "sending", claimed_until=None, last_error=error[:2000], updated_at=func.now()
        )
    )
    return rows_written(result) == 1


async def gave_up_delivery(
    session: AsyncSession, *, event_id: str, recipient: str, channel: Channel, error: str
) -> None:
    """A delivery whose retries ran out (NotifyWorkflow's decision, after its last attempt):
    'failed', the error kept, unless it was sent. Not a claim's outcome, so it checks none;
    its lease is left as it is — an attempt Temporal timed out may still hold it, and if
    that attempt's mail goes after all, its `mark_sent` records it (a late failure of it
    writes nothing: the row is no longer 'sending')."""
    await session.execute(
        update(DELIVERIES)
        .where(_key(event_id, recipient, channel), DELIVERIES.c.status != "sent")
        .values(status="failed", last_error=error[:2000], updated_at=func.now())
    )


async def get_delivery(
    session: AsyncSession, *, event_id: str, recipient: str, channel: Channel
) -> dict[str, Any] | None:
    row = (await session.execute(select(*DELIVERIES.c).where(_key(event_id, recipient, channel)))).first()
    return dict(row._mapping) if row else None


# ---------------------------------------------------------------- the in-app inbox


def inbox_id(notification: Notification) -> str:
    # The only unique key of the inbox: a retried recording finds its notifications by it
    # (`ON CONFLICT (id)`), so it must stay a function of the event and the audience alone.
    return str(uuid.uuid5(INBOX_NAMESPACE, f"{notification.event_id}/{notification.audience.key}"))


async def add_to_inbox(session: AsyncSession, *, notification: Notification) -> bool:
    """Store an in-app notification (storing it is its delivery, one transaction): True if
    it is new, False if a retry or a replay finds it stored."""
    return await add_all_to_inbox(session, notifications=[notification]) == 1


async def add_all_to_inbox(session: AsyncSession, *, notifications: Sequence[Notification]) -> int:
    """`add_to_inbox` for many, in one statement: how many were new."""
    inbox, _ = await write_plan(session, inbox=notifications)
    return inbox


# The PostgreSQL notification channel dispatchers LISTEN on (`services.worker.wakeup`).
NOTIFY_CHANNEL = "pakta_outbox"

# A notification plan's writes in one statement, fixed text (rows come as arrays), run on the
# driver's connection in the caller's transaction: the inbox notifications (storing one is
# its delivery), the outbox's deliveries, and — if any was new — `pg_notify`, which
# PostgreSQL delivers to the dispatchers on commit (never for a transaction rolled back).
# Rows already there (a retried recording) are left as they are.
#
# An inbox notification gets no line of its own in the delivery log: its row in
# `notifications`, unique by its id, is the exactly-once record (a retry finds it there and
# inserts nothing), and no query read the line, a 'sent' row of channel 'inbox' per
# notification — three rows, their key entries and ≈ 1 KB of WAL a transition under the
# bench. Lines written before stay, read by nothing, and go with their events when these are
# superseded (`outbox.forget_superseded`).
# Through SQLAlchemy these were three multi-row inserts and a NOTIFY, the inserts compiled
# afresh each time (their text varies with the number of rows); a data-modifying WITH built
# there was dearer still, compiled afresh too.
#
# Every array is sent as `text[]` (numbers and times as their text, cast here, once per
# statement): asyncpg knows the codecs of `text[]` and `oid[]` only, and for `int[]` or
# `timestamptz[]` it asked PostgreSQL's catalog first, once per statement on every new
# connection (9–16 ms of PostgreSQL's CPU each) — the recording at once included.
#
# A notification's id is its event and audience (`inbox_id`, a UUID of the two, as it has
# always been), so the primary key alone finds a retry's row: no second unique index of
# the same pair, whose entry every notification paid for (migration 2026_12_02_0026).
_PLAN_WRITES = """
inbox AS (
    INSERT INTO notifications (
        id, event_id, event_type, agreement_id, seq, audience_key, audience_org, audience_role, audience_gate,
        template, data, at
    )
    SELECT n.id, n.event_id, n.event_type, n.agreement_id, n.seq, n.audience_key, n.audience_org, n.audience_role,
        n.audience_gate, n.template, n.data::jsonb, n.at
    FROM unnest(
        {p1}::text[], {p2}::text[], {p3}::text[], {p4}::text[], {p5}::text[]::int[], {p6}::text[], {p7}::text[],
        {p8}::text[], {p9}::text[], {p10}::text[], {p11}::text[], {p12}::text[]::timestamptz[]
    ) AS n(id, event_id, event_type, agreement_id, seq, audience_key, audience_org, audience_role, audience_gate,
        template, data, at)
    WHERE {when}
    {inbox_conflict}
    RETURNING 1
),
outgoing AS (
    INSERT INTO deliveries (event_id, recipient, channel, agreement_id, payload, due_at, status, attempts)
    SELECT o.event_id, o.recipient, o.channel, o.agreement_id, o.payload::jsonb, o.due_at, 'pending', 0
    FROM unnest({p13}::text[], {p14}::text[], {p15}::text[], {p16}::text[], {p17}::text[], {p18}::text[]::timestamptz[])
        AS o(event_id, recipient, channel, agreement_id, payload, due_at)
    WHERE {when}
    {outbox_conflict}
    RETURNING 1
),
told AS (
    SELECT pg_notify({p19}, '') FROM outgoing LIMIT 1
)
"""
PLAN_COUNTS = (
    "(SELECT count(*) FROM inbox) AS inbox, (SELECT count(*) FROM outgoing) AS outbox, (SELECT count(*) FROM told)"
)
PLAN_PARAMETERS = 19


# What a row already there does to the plan's writes: left as it is (a retried recording,
# a replay), or — for rows that cannot be there yet — the statement fails.
_LEFT_AS_THEY_ARE = {
    "inbox_conflict": "ON CONFLICT (id) DO NOTHING",
    "outbox_conflict": "ON CONFLICT (event_id, recipient, channel) DO NOTHING",
}
_REFUSED = dict.fromkeys(_LEFT_AS_THEY_ARE, "")


def plan_writes(*, first: int = 1, when: str = "true", new_rows: bool = False) -> str:
    """The plan's writes as the CTEs `inbox`, `outgoing` and `told`, their
    parameters (`plan_arguments`) numbered from `$first`, each writing only `when` holds:
    the recording's single statement joins them to its own (`queries.append_at_once`).

    Rows already there are left as they are — unless `new_rows`: the plan is of events
    this very statement inserts after the head it checked, whose rows (keyed by the events'
    ids) cannot be there yet, so they are plain inserts and one there after all fails the
    statement with a unique violation, nothing written. A plain insert skips what `ON
    CONFLICT` costs every row: a look-up in the key before the insert and a second WAL
    record confirming it (≈ 12 a transition under the bench)."""
    numbers = {f"p{n}": f"${first + n - 1}" for n in range(1, PLAN_PARAMETERS + 1)}
    conflicts = _REFUSED if new_rows else _LEFT_AS_THEY_ARE
    return _PLAN_WRITES.format(when=when, **numbers, **conflicts)


_PLAN = f"WITH {plan_writes()}\nSELECT {PLAN_COUNTS}"


async def write_plan(
    session: Unit, *, inbox: Sequence[Notification] = (), outgoing: Sequence[Outgoing] = ()
) -> tuple[int, int]:
    """Store `inbox` notifications (storing one is its delivery) and write `outgoing` deliveries
    to the outbox, in the session's transaction; how many of each were new. If a delivery
    was, the dispatchers are told on commit."""
    if not inbox and not outgoing:
        return 0, 0
    driver = await driver_connection(session, in_transaction=True)
    row = await driver.fetchrow(_PLAN, *plan_arguments(inbox, outgoing))
    return row["inbox"], row["outbox"]


def instant_text(moment: datetime) -> str:
    """`moment` as `timestamptz` input text, the same instant asyncpg's codec sends (a naive
    time taken as the process's local time): ISO 8601 in UTC, which reads the same under
    any session's `TimeZone` and `DateStyle`."""
    return moment.astimezone(UTC).isoformat()


def plan_arguments(inbox: Sequence[Notification], outgoing: Sequence[Outgoing]) -> list[Any]:
    """The parameters of `plan_writes`, in order: the rows as arrays, one per column."""
    return [
        [inbox_id(n) for n in inbox],
        [n.event_id for n in inbox],
        [n.event_type for n in inbox],
        [n.agreement_id for n in inbox],
        [str(n.seq) for n in inbox],
        [n.audience.key for n in inbox],
        [n.audience.org for n in inbox],
        [n.audience.role for n in inbox],
        [n.audience.gate for n in inbox],
        [n.template for n in inbox],
        [json_text(n.data) for n in inbox],
        [instant_text(n.at) for n in inbox],
        [o["event_id"] for o in outgoing],
        [o["recipient"] for o in outgoing],
        [o["channel"] for o in outgoing],
        [o["agreement_id"] for o in outgoing],
        [json_text(o["payload"]) for o in outgoing],
        [instant_text(o["due_at"]) for o in outgoing],
        NOTIFY_CHANNEL,
    ]


def _audience_matches(org: str, roles: Sequence[str], gates: Sequence[str]) -> ColumnElement[bool]:
    return and_(
        or_(INBOX.c.audience_org.is_(None), INBOX.c.audience_org == org),
        INBOX.c.audience_role.in_(list(roles)),
        or_(INBOX.c.audience_gate.is_(None), INBOX.c.audience_gate.in_(list(gates))),
    )


async def list_inbox(
    session: AsyncSession,
    *,
    sub: str,
    org: str,
    roles: Sequence[str],
    gates: Sequence[str],
    unread_only: bool = False,
    limit: int = 50,
) -> list[InboxRecord]:
    """The notifications a user's token matches, one per event (a user in two audiences of
    an event sees it once), unread first, newest first."""
    one_per_event = (
        select(*INBOX.c)
        .where(_audience_matches(org, roles, gates))
        .ext(distinct_on(INBOX.c.event_id))
        .order_by(INBOX.c.event_id, INBOX.c.audience_key)
    ).subquery()
    read_at = READS.c.read_at
    query = (
        select(*one_per_event.c, read_at)
        .outerjoin(READS, and_(READS.c.event_id == one_per_event.c.event_id, READS.c.sub == sub))
        .order_by(read_at.is_(None).desc(), one_per_event.c.at.desc(), one_per_event.c.id)
        .limit(limit)
    )
    if unread_only:
        query = query.where(read_at.is_(None))
    return [_record(InboxRecord, r) for r in await session.execute(query)]


async def count_unread(session: AsyncSession, *, sub: str, org: str, roles: Sequence[str], gates: Sequence[str]) -> int:
    read = select(READS.c.event_id).where(READS.c.sub == sub, READS.c.event_id == INBOX.c.event_id)
    return (
        await session.execute(
            select(func.count(func.distinct(INBOX.c.event_id))).where(
                _audience_matches(org, roles, gates), ~read.exists()
            )
        )
    ).scalar_one()


async def mark_read(
    session: AsyncSession,
    *,
    sub: str,
    org: str,
    roles: Sequence[str],
    gates: Sequence[str],
    notification_id: str | None,
) -> int:
    """Mark one notification (or, with None, every one) the user can see as read; the
    number of events newly marked. Unknown or not the user's: 0."""
    events = select(INBOX.c.event_id).where(_audience_matches(org, roles, gates))
    if notification_id is not None:
        events = events.where(INBOX.c.id == notification_id)
    event_ids = (await session.execute(events.distinct())).scalars().all()
    if not event_ids:
        return 0
    statement = insert(READS).values([{"sub": sub, "event_id": event_id} for event_id in event_ids])
    result = cast(CursorResult[Any], await session.execute(statement.on_conflict_do_nothing()))
    return result.rowcount or 0


async def inbox_visible(
    session: AsyncSession, *, notification_id: str, org: str, roles: Sequence[str], gates: Sequence[str]
) -> bool:
    return (
        await session.execute(
            select(INBOX.c.id).where(INBOX.c.id == notification_id, _audience_matches(org, roles, gates))
        )
    ).first() is not None


# ---------------------------------------------------------------- what awaits a caller


async def open_agreements(
    session: AsyncSession, *, viewer_org: str | None, ministry: bool, limit: int = 500
) -> list[AgreementState]:
    """Agreements still running that a caller may act on: their organisation's (all, for
    `viewer_org=None`), plus those at the ministry gate for ministry approvers."""
    # Ordered and filtered on the summaries (their copy of the same columns, written in the
    # same transaction), whose `updated_at` index the lists keep: `agreements` indexes no
    # column a transition changes, so its updates stay HOT (migration 2026_12_02_0022).
    # The newest ids first, limited, then their states: a join under the limit would be
    # costed for every open row and planned in parallel, slower than this walk of the index.
    summary = SUMMARIES.c
    newest = (
        select(summary.id, summary.updated_at)
        .where(summary.stage.not_in(sorted(TERMINAL_STAGES)))
        .order_by(summary.updated_at.desc(), summary.id.desc())
        .limit(limit)
    )
    if viewer_org is not None:
        visible = literal(viewer_org) == any_(summary.orgs)
        if ministry:
            visible = or_(visible, summary.ministry_visible)
        newest = newest.where(visible)
    ids = newest.subquery()
    query = (
        select(AGREEMENTS.c.state)
        .join_from(ids, AGREEMENTS, AGREEMENTS.c.id == ids.c.id)
        .order_by(ids.c.updated_at.desc(), ids.c.id.desc())
    )
    return [AgreementState.model_validate(r.state) for r in await session.execute(query)]
