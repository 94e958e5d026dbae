"""A time-driven mail's retry keeps to its reader's office hours: the outbox dispatcher
against the embedded PostgreSQL and a real SMTP server (aiosmtpd) that refuses for now
(451) until told to accept, the dispatcher's clock moved by the test.

The clock is a Friday in January 2027: 16:50 in Jayapura (WIT, UTC+9) is 08:50 in Berlin.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.store import outbox
from services.store.db import session_scope
from services.worker.activities.notify import NotifyActivities
from services.worker.dispatcher import Failure, OutboxDispatcher
from tests.receivers import MailSink
from tests.worker.test_delivery import add_contact, delivery, fast
from tests.worker.test_outbox import record, submitted, until
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts import notify as c
from workflows.notify.rules import Audience, Notification, notifications_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

JAYAPURA, BERLIN = "Asia/Jayapura", "Europe/Berlin"
FRIDAY_1650_WIT = datetime(2027, 1, 8, 7, 50, tzinfo=UTC)  # 08:50 in Berlin
MONDAY_0800_WIT = datetime(2027, 1, 10, 23, 0, tzinfo=UTC)  # Sunday 23:00 UTC
TEN_MINUTES = 600.0  # the retry interval: 16:50 + 10 min is 17:00, when the office closes


class RefusingForNow(MailSink):
    """The test mail sink, answering every recipient "451 try again later" while `refusing`."""

    refusing = True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # aiosmtpd's hook
        if self.refusing:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def refusing():
    server = RefusingForNow().start()
    yield server
    server.stop()


def reminder_of(state: m.AgreementState, at: datetime) -> m.Event:
    """The review step's deadline reminder, as a tick at `at` records it: time-driven mail."""
    return m.Event(
        id=L.events.event_id(state.id, state.seq + 1),
        agreement_id=state.id,
        seq=state.seq + 1,
        version=state.version,
        type="deadline_reminder",
        at=at,
        actor=m.SYSTEM,
        data={"notice": "persiapan-7", "step": "persiapan", "due_at": "2027-01-18T02:00:00+00:00", "days_before": 7},
    )


async def readers_in_jayapura_and_berlin(sessionmaker, orgs) -> tuple[str, str]:
    a, b = orgs
    jayapura, berlin = f"tkksd@{a}.go.id", f"mitra@{b}.go.id"
    await add_contact(sessionmaker, a, jayapura, ["approver"], gates=["review"], time_zone=JAYAPURA)
    await add_contact(sessionmaker, b, berlin, ["approver"], gates=["review"], time_zone=BERLIN)
    return jayapura, berlin


async def _tried_once(sessionmaker, keys) -> list[dict]:
    """The rows once each has had one try, failed, and is pending again (not leased)."""
    rows = [await delivery(sessionmaker, event_id, address, "email") for event_id, address in keys]
    done = all(r is not None and r["attempts"] == 1 and r["claimed_until"] is None and r["last_error"] for r in rows)
    return rows if done else []


async def _status_is(sessionmaker, event_id, address, status) -> bool:
    row = await delivery(sessionmaker, event_id, address, "email")
    return row is not None and row["status"] == status


async def test_a_reminder_failing_at_friday_close_is_retried_at_monday_office_hours_other_mail_on_the_plain_backoff(
    settings, sessionmaker, refusing: RefusingForNow, orgs
):
    """The mail server refuses for now at 16:50 on a Friday in Jayapura, with ten minutes'
    backoff. The reminder to the reader there is tried again at 08:00 on Monday, their time
    — not at 17:00 on Friday, after their office closed. The same reminder to a partner in
    Berlin (08:50 there) is retried as before, at 09:00: inside their office hours, nothing
    moves. The step's opening to the reader in Jayapura, news a person brought, retries on
    the plain backoff at 17:00: someone waits on it."""
    jayapura, berlin = await readers_in_jayapura_and_berlin(sessionmaker, orgs)
    events, state = await submitted(sessionmaker, orgs)
    opened = events[1]  # step_entered: the review gate opens for both regions
    reminder = reminder_of(state, FRIDAY_1650_WIT)
    await record(sessionmaker, state, [reminder])

    clock = [FRIDAY_1650_WIT]
    # The give-up hours far off: the opening was written by today's clock, weeks before.
    config = fast(
        settings,
        refusing,
        delivery_retry_initial_seconds=TEN_MINUTES,
        delivery_retry_max_seconds=3600.0,
        delivery_give_up_hours=24 * 365 * 2,
    )
    dispatcher = OutboxDispatcher(config, sessionmaker, clock=lambda: clock[0])
    keys = [(reminder.id, jayapura), (reminder.id, berlin), (opened.id, jayapura)]
    async with dispatcher.running():
        to_jayapura, to_berlin, opened_to_jayapura = await until(lambda: _tried_once(sessionmaker, keys))
    assert to_jayapura["due_at"] == MONDAY_0800_WIT
    assert to_berlin["due_at"] == FRIDAY_1650_WIT + timedelta(seconds=TEN_MINUTES)  # 09:00 in Berlin
    assert opened_to_jayapura["due_at"] == FRIDAY_1650_WIT + timedelta(seconds=TEN_MINUTES)  # 17:00 in Jayapura
    assert all(r["status"] == "pending" and "451" in r["last_error"] for r in (to_jayapura, to_berlin))

    # The server accepts again. At 17:00 in Jayapura the partner's reminder and the opening
    # go; the reminder to Jayapura waits for Monday morning there, and goes then.
    refusing.refusing = False
    clock[0] = FRIDAY_1650_WIT + timedelta(seconds=TEN_MINUTES)
    async with dispatcher.running():
        await until(lambda: _status_is(sessionmaker, reminder.id, berlin, "sent"))
        await until(lambda: _status_is(sessionmaker, opened.id, jayapura, "sent"))
        clock[0] = MONDAY_0800_WIT - timedelta(seconds=1)
        dispatcher.wake()
        await asyncio.sleep(0.5)
        assert await _status_is(sessionmaker, reminder.id, jayapura, "pending")  # 07:59: not yet
        clock[0] = MONDAY_0800_WIT
        dispatcher.wake()
        await until(lambda: _status_is(sessionmaker, reminder.id, jayapura, "sent"))
    assert len(refusing.to(jayapura)) == 2 and len(refusing.to(berlin)) == 2  # the opening and the reminder


async def test_a_reminder_planned_for_monday_has_its_give_up_hours_from_monday(
    settings, sessionmaker, refusing: RefusingForNow, orgs
):
    """A reminder written at 20:00 on a Friday in Jayapura waits for Monday 08:00 there; with
    24 give-up hours, counted from when it was written they were over before its first try,
    and its first failure was given up at once. They count from Monday morning: it is
    retried."""
    jayapura, _ = await readers_in_jayapura_and_berlin(sessionmaker, orgs)
    _, state = await submitted(sessionmaker, orgs)
    friday_evening = datetime(2027, 1, 8, 11, 0, tzinfo=UTC)  # 20:00 in Jayapura
    reminder = reminder_of(state, friday_evening)
    await record(sessionmaker, state, [reminder])
    async with session_scope(sessionmaker) as session:  # written by the tick's clock
        await session.execute(
            text("UPDATE deliveries SET created_at = :at WHERE event_id = :event"),
            {"at": friday_evening, "event": reminder.id},
        )
    written = await delivery(sessionmaker, reminder.id, jayapura, "email")
    assert written["due_at"] == MONDAY_0800_WIT

    config = fast(settings, refusing, delivery_retry_initial_seconds=TEN_MINUTES, delivery_give_up_hours=24)
    async with OutboxDispatcher(config, sessionmaker, clock=lambda: MONDAY_0800_WIT).running():
        (row,) = await until(lambda: _tried_once(sessionmaker, [(reminder.id, jayapura)]))
    assert (row["status"], row["due_at"]) == ("pending", MONDAY_0800_WIT + timedelta(seconds=TEN_MINUTES))


async def test_a_reminder_claimed_after_its_readers_office_closed_waits_for_it_to_open_uncounted(
    settings, sessionmaker, orgs
):
    """A reminder due at 16:59 on a Friday in Jayapura is claimed at 17:05 there (its last
    claim's lease ran out after a crash, or the dispatcher was behind): it is not sent after
    hours but given back, its claim not counted, due at 08:00 on Monday. The partner in
    Berlin (09:05 there) gets the same reminder at once."""
    jayapura, berlin = await readers_in_jayapura_and_berlin(sessionmaker, orgs)
    _, state = await submitted(sessionmaker, orgs)
    reminder = reminder_of(state, FRIDAY_1650_WIT + timedelta(minutes=9))
    await record(sessionmaker, state, [reminder])
    sink = MailSink().start()
    try:
        clock = [FRIDAY_1650_WIT + timedelta(minutes=15)]
        dispatcher = OutboxDispatcher(fast(settings, sink), sessionmaker, clock=lambda: clock[0])
        async with dispatcher.running():
            await until(lambda: _status_is(sessionmaker, reminder.id, berlin, "sent"))
            row = await until(lambda: _moved_to(sessionmaker, reminder.id, jayapura, MONDAY_0800_WIT))
            assert (row["status"], row["attempts"], row["claimed_until"]) == ("pending", 0, None)
            assert [x for x in sink.to(jayapura) if "Pengingat" in x["Subject"]] == []
            clock[0] = MONDAY_0800_WIT
            dispatcher.wake()
            await until(lambda: _status_is(sessionmaker, reminder.id, jayapura, "sent"))
        row = await delivery(sessionmaker, reminder.id, jayapura, "email")
        assert row["attempts"] == 1  # the one try, on Monday
    finally:
        sink.stop()


async def _moved_to(sessionmaker, event_id, address, due_at) -> dict | None:
    row = await delivery(sessionmaker, event_id, address, "email")
    return row if row is not None and row["due_at"] == due_at and row["claimed_until"] is None else None


async def test_a_reminder_never_begun_is_released_to_its_readers_office_hours(settings, sessionmaker, orgs):
    """A reminder whose try never began (it waited for a connection past its time), released
    before in a row, is due later by the backoff — moved to the next office hours where its
    reader is when that falls after 17:00 on a Friday there."""
    jayapura, _ = await readers_in_jayapura_and_berlin(sessionmaker, orgs)
    _, state = await submitted(sessionmaker, orgs)
    reminder = reminder_of(state, FRIDAY_1650_WIT)
    await record(sessionmaker, state, [reminder])
    async with session_scope(sessionmaker) as session:  # released once before
        await session.execute(
            text("UPDATE deliveries SET unbegun = 1 WHERE event_id = :event AND recipient = :address"),
            {"event": reminder.id, "address": jayapura},
        )
    config = fast(settings, delivery_retry_initial_seconds=TEN_MINUTES, delivery_give_up_hours=24 * 365 * 2)
    dispatcher = OutboxDispatcher(config, sessionmaker, clock=lambda: FRIDAY_1650_WIT)
    async with session_scope(sessionmaker) as session:
        claimed = await outbox.claim_due(
            session,
            now=FRIDAY_1650_WIT,
            limit=100,
            leases={"email": timedelta(minutes=1), "webhook": timedelta(minutes=1)},
        )
    try:
        (row,) = [r for r in claimed if (r.event_id, r.recipient) == (reminder.id, jayapura)]
        await dispatcher._failed(row, Failure("waited for a connection", begun=False))
        released = await delivery(sessionmaker, reminder.id, jayapura, "email")
        assert (released["unbegun"], released["attempts"], released["due_at"]) == (2, 0, MONDAY_0800_WIT)
    finally:
        async with session_scope(sessionmaker) as session:  # the rest claimed here: not left leased
            await session.execute(text("UPDATE deliveries SET claimed_until = NULL"))


async def test_the_old_delivery_activitys_reminder_failing_at_friday_close_is_retried_at_monday_office_hours(
    settings, sessionmaker, refusing: RefusingForNow, orgs
):
    """The delivery activity of the NotifyWorkflows still running retries through Temporal:
    a reminder refused for now at 16:50 on a Friday in Jayapura asks Temporal to retry it at
    08:00 on Monday there (the failure's `next_retry_delay`), not after the policy's ten
    minutes. The same reminder to Berlin, and the step's opening to Jayapura, leave the
    retry to the policy's backoff."""
    a, b = orgs
    jayapura, berlin = await readers_in_jayapura_and_berlin(sessionmaker, orgs)
    events, state = await submitted(sessionmaker, orgs)
    reminder = reminder_of(state, FRIDAY_1650_WIT)
    after = L.evolve(state, reminder)

    def told(event: m.Event, state: m.AgreementState, org: str) -> Notification:
        approvers = Audience(org=org, role="approver", gate="review")
        return next(n for n in notifications_for(event, state) if n.audience == approvers)

    config = fast(settings, refusing, delivery_retry_initial_seconds=TEN_MINUTES)
    activities = NotifyActivities(config, sessionmaker, clock=lambda: FRIDAY_1650_WIT)
    delays = {}
    for name, note, address, zone in [
        ("reminder to Jayapura", told(reminder, after, a), jayapura, JAYAPURA),
        ("reminder to Berlin", told(reminder, after, b), berlin, BERLIN),
        ("opening to Jayapura", told(events[1], state, a), jayapura, JAYAPURA),
    ]:
        letter = c.DeliverEmailInput(notification=note, recipient=c.EmailRecipient(address=address, time_zone=zone))
        with pytest.raises(ApplicationError, match="will retry") as raised:
            await ActivityEnvironment().run(activities.deliver_email, letter)
        delays[name] = raised.value.next_retry_delay
    assert delays == {
        "reminder to Jayapura": MONDAY_0800_WIT - FRIDAY_1650_WIT,
        "reminder to Berlin": None,
        "opening to Jayapura": None,
    }


async def test_a_reminder_never_begun_at_friday_close_keeps_its_first_try_past_a_short_give_up(
    settings, sessionmaker, orgs
):
    """A reminder claimed at 16:50 on a Friday in Jayapura that waited for a connection past
    17:00 was never tried: released to Monday 08:00 there, past its give-up of a day, it was
    given up untried — a claim outside office hours keeps its first try however late
    (`_postponed`), and so does a claim whose try never began."""
    jayapura, _ = await readers_in_jayapura_and_berlin(sessionmaker, orgs)
    _, state = await submitted(sessionmaker, orgs)
    reminder = reminder_of(state, FRIDAY_1650_WIT)
    await record(sessionmaker, state, [reminder])
    config = fast(settings, delivery_retry_initial_seconds=TEN_MINUTES, delivery_give_up_hours=24)
    after_close = FRIDAY_1650_WIT + timedelta(minutes=10, seconds=30)  # 17:00:30 in Jayapura
    dispatcher = OutboxDispatcher(config, sessionmaker, clock=lambda: after_close)
    async with session_scope(sessionmaker) as session:
        claimed = await outbox.claim_due(
            session,
            now=FRIDAY_1650_WIT,
            limit=100,
            leases={"email": timedelta(minutes=1), "webhook": timedelta(minutes=1)},
        )
    try:
        (row,) = [r for r in claimed if (r.event_id, r.recipient) == (reminder.id, jayapura)]
        await dispatcher._failed(row, Failure("waited for a connection", begun=False))
        released = await delivery(sessionmaker, reminder.id, jayapura, "email")
        assert (released["status"], released["attempts"], released["due_at"]) == ("pending", 0, MONDAY_0800_WIT)
    finally:
        async with session_scope(sessionmaker) as session:  # the rest claimed here: not left leased
            await session.execute(text("UPDATE deliveries SET claimed_until = NULL"))
