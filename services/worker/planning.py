"""One notification plan per recorded batch, written in the recording's own transaction.

The notification rules (`workflows.notify.rules`) decide who hears about each event; this
module resolves them to recipients and writes what follows, inside the caller's unit of
work (the `record_events` activity's transaction on the driver's connection, or the
dispatcher's session when an endpoint is switched off):

- the in-app inbox notifications, directly (storing them *is* their delivery);
- one outbox row per email recipient and per subscribed webhook endpoint, which the
  dispatcher (`services.worker.dispatcher`) sends. Time-driven mail is due when the
  recipient's office opens in their own zone.

Since the plan commits with the events, an accepted command's notifications are never lost
and a batch recorded twice (a retried activity) plans nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.store import notifications as store
from services.store import outbox
from services.store.db import Unit
from services.worker.recipients import KnownRecipients
from workflows import messages as m
from workflows.contracts.notify import EmailRecipient
from workflows.lifecycle import party_orgs
from workflows.notify.rules import OFFICE_HOURS_ONLY, Notification, mail_time, notifications_for


@dataclass(frozen=True, slots=True)
class Planned:
    inbox: int = 0  # inbox notifications newly stored
    outbox: int = 0  # email and webhook deliveries newly written to the outbox


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan resolved to its rows, not yet written: the inbox notifications and the outbox's
    deliveries."""

    inbox: list[Notification]
    outgoing: list[outbox.Outgoing]
    # The version of the recipients it was made of (`store.recipients_read`); None: it
    # reached no one, so read none.
    recipients_version: int | None = None


async def plan(
    session: Unit,
    *,
    events: Sequence[m.Event] = (),
    state: m.AgreementState | None = None,
    notices: Sequence[Notification] = (),
    now: datetime | None = None,
) -> Planned:
    """Plan the notifications of `events` (the rules run against `state`, the state after
    them) and of ready-made `notices`: inbox rows now, email and webhook rows in the outbox,
    due `now` (the worker's clock), time-driven mail at office hours after the event."""
    resolved = await resolve(session, events=events, state=state, notices=notices, now=now)
    # The inbox and the outbox in one statement.
    inbox, written = await store.write_plan(session, inbox=resolved.inbox, outgoing=resolved.outgoing)
    return Planned(inbox=inbox, outbox=written)


async def resolve(
    session: Unit,
    *,
    events: Sequence[m.Event] = (),
    state: m.AgreementState | None = None,
    notices: Sequence[Notification] = (),
    now: datetime | None = None,
    known: KnownRecipients | None = None,
) -> Plan:
    """`plan`'s rows, read in one statement (the audiences' contacts and the parties'
    endpoints) — or, with `known`, from what this worker read before, of a version the
    writing statement checks — and not written: the recording at once writes them with its
    rows."""
    now = now or datetime.now(UTC)
    notes = list(notices)
    if state is not None:
        notes += [note for event in events for note in notifications_for(event, state)]
    webhooks = state is not None and bool(events)
    asked = [(note.audience, note.template) for note in notes]
    orgs = party_orgs(state) if webhooks and state is not None else ()
    read = await (known.read if known is not None else store.recipients_read)(session, asked=asked, orgs=orgs)
    reached, endpoints = read.reached, read.endpoints
    rows: list[outbox.Outgoing] = []
    mailed: set[tuple[str, str]] = set()
    # A region's own days off, as its party in the agreement has them (filled from the
    # organisation's settings, the days its deadlines are counted by): a time-driven mail to
    # one of its people waits for a day of service there. No read: the state has them.
    days_off = {party.org: party.days_off for party in state.parties if party.days_off} if state else {}
    for note in notes:
        timed = note.event_type in OFFICE_HOURS_ONLY
        # Only the days from the mail's own on go in its row: its tries come after it.
        since = note.at.date() - timedelta(days=1)
        ahead = {org: [d for d in days if d >= since] for org, days in days_off.items()} if timed else {}
        for contact in reached[(note.audience.key, note.template)]:
            # One mail per event and address, even if the contact is in two audiences.
            if (note.event_id, contact.email) in mailed:
                continue
            mailed.add((note.event_id, contact.email))
            recipient = EmailRecipient(
                address=contact.email,
                name=contact.name,
                language=contact.language,
                time_zone=contact.time_zone,
                days_off=ahead.get(contact.org, []),
            )
            rows.append(
                {
                    "event_id": note.event_id,
                    "recipient": contact.email.strip().lower(),
                    "channel": "email",
                    "agreement_id": note.agreement_id,
                    "payload": {
                        "notification": note.model_dump(mode="json"),
                        "recipient": recipient.model_dump(mode="json"),
                    },
                    "due_at": _mail_due(note, recipient, now),
                }
            )
    rows += [
        {
            "event_id": event.id,
            "recipient": endpoint.id,
            "channel": "webhook",
            "agreement_id": event.agreement_id,
            "payload": {"event": event.model_dump(mode="json")},
            "due_at": now,
        }
        for event in events
        for endpoint in endpoints
        if endpoint.subscribed(event.type)
    ]
    return Plan(inbox=notes, outgoing=rows, recipients_version=read.version)


def _mail_due(note: Notification, recipient: EmailRecipient, now: datetime) -> datetime:
    """News a person brought goes at once; news time brought (reminders, escalations) waits
    for office hours where its reader is — a partner abroad, a weekend, a holiday, the
    region's own day off — reckoned from the moment it is about (a tick's planned time, not
    when a late worker got to it). The dispatcher keeps its retries to the same hours
    (`mail_time`)."""
    return (
        mail_time(note, note.at, recipient.time_zone, recipient.days_off)
        if note.event_type in OFFICE_HOURS_ONLY
        else now
    )
