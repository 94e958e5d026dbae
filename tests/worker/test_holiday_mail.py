"""A time-driven mail keeps to its reader's days of service, not just weekdays: it does not
go out on a national holiday or cuti bersama, nor on its reader's region's own day off, and
a failure before a long weekend is tried again after it before it is given up. The outbox
dispatcher against the embedded PostgreSQL and a real SMTP server (aiosmtpd), its clock moved
by the test.

Lebaran 2027 (the `holidays` library): Nyepi on Monday 8 March, cuti bersama on the 9th,
Idul Fitri on Wednesday 10 and Thursday 11 March, cuti bersama on Friday 12 and Monday 15
March. The last office day before it is Friday 5 March, the first after it Tuesday 16 March.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.store import organisations
from services.store.db import session_scope
from services.worker.dispatcher import OutboxDispatcher
from tests.receivers import MailSink
from tests.worker.test_delivery import add_contact, delivery, fast
from tests.worker.test_mail_timeout import Counted
from tests.worker.test_office_hours_retry import (
    FRIDAY_1650_WIT,
    JAYAPURA,
    MONDAY_0800_WIT,
    TEN_MINUTES,
    RefusingForNow,
    _status_is,
    _tried_once,
    reminder_of,
)
from tests.worker.test_outbox import NOW, ksdd, record, staff_of, until
from workflows import lifecycle as L
from workflows import messages as m

pytestmark = pytest.mark.asyncio(loop_scope="session")

JAKARTA = "Asia/Jakarta"
IDUL_FITRI_0900_WIT = datetime(2027, 3, 10, 0, 0, tzinfo=UTC)  # Wednesday, 1 Syawal
AFTER_LEBARAN_0800_WIT = datetime(2027, 3, 15, 23, 0, tzinfo=UTC)  # Tuesday 16 March
AFTER_LEBARAN_0800_WIB = datetime(2027, 3, 16, 1, 0, tzinfo=UTC)
EVE_OF_LEBARAN_1650_WIT = datetime(2027, 3, 5, 7, 50, tzinfo=UTC)  # Friday 5 March


@pytest.fixture
def refusing():
    server = RefusingForNow().start()
    yield server
    server.stop()


async def submitted(sessionmaker, proposal: m.Proposal) -> tuple[list[m.Event], m.AgreementState]:
    """`proposal` created by its initiator's staff and submitted (the review gate opens for
    both regions), recorded."""
    staff = staff_of(proposal.parties[0].org)
    state = await record(sessionmaker, None, L.create(proposal, staff, NOW, str(uuid.uuid4())))
    events = L.decide(state, m.Submit(), staff, NOW)
    return events, await record(sessionmaker, state, events)


async def approvers(sessionmaker, orgs, zones: tuple[str, str]) -> tuple[str, str]:
    """A holder of the review gate at each region, in `zones`: the readers a deadline
    reminder at the review step reaches."""
    (a, b), readers = orgs, (f"tkksd@{orgs[0]}.go.id", f"tkksd@{orgs[1]}.go.id")
    for org, address, zone in zip((a, b), readers, zones, strict=True):
        await add_contact(sessionmaker, org, address, ["approver"], gates=["review"], time_zone=zone)
    return readers


async def test_a_reminder_due_on_idul_fitri_goes_at_eight_on_the_first_office_day_after_lebaran_news_at_once(
    settings, sessionmaker, orgs
):
    """A deadline reminder falls due at 09:00 on 1 Syawal in Jayapura: it is due for its
    readers at 08:00 on Tuesday 16 March, the first office day after the cuti bersama, in
    each reader's own zone (Jayapura, Jakarta) — not at 09:00 on the holiday. A comment a
    person wrote on the holiday reaches the other region's staff at once: someone is
    waiting on it."""
    a, b = orgs
    jayapura, jakarta = await approvers(sessionmaker, orgs, (JAYAPURA, JAKARTA))
    await add_contact(sessionmaker, b, f"staf@{b}.go.id", ["staff"], time_zone=JAYAPURA)
    _, state = await submitted(sessionmaker, ksdd(orgs))
    reminder = reminder_of(state, IDUL_FITRI_0900_WIT)
    state = await record(sessionmaker, state, [reminder])
    comment = L.decide(state, m.Comment(text="Selamat Idul Fitri; draf menyusul."), staff_of(a), IDUL_FITRI_0900_WIT)
    await record(sessionmaker, state, comment)

    assert (await delivery(sessionmaker, reminder.id, jayapura, "email"))["due_at"] == AFTER_LEBARAN_0800_WIT
    assert (await delivery(sessionmaker, reminder.id, jakarta, "email"))["due_at"] == AFTER_LEBARAN_0800_WIB

    sink = MailSink().start()
    try:
        clock = [IDUL_FITRI_0900_WIT + timedelta(hours=1)]
        dispatcher = OutboxDispatcher(fast(settings, sink), sessionmaker, clock=lambda: clock[0])
        async with dispatcher.running():
            await until(lambda: _status_is(sessionmaker, comment[0].id, f"staf@{b}.go.id", "sent"))
            await asyncio.sleep(0.5)
            assert await _status_is(sessionmaker, reminder.id, jayapura, "pending")  # 10:00 on the holiday
            clock[0] = AFTER_LEBARAN_0800_WIT
            dispatcher.wake()
            await until(lambda: _status_is(sessionmaker, reminder.id, jayapura, "sent"))
            assert await _status_is(sessionmaker, reminder.id, jakarta, "pending")  # 07:00 in Jakarta
            clock[0] = AFTER_LEBARAN_0800_WIB
            dispatcher.wake()
            await until(lambda: _status_is(sessionmaker, reminder.id, jakarta, "sent"))
    finally:
        sink.stop()


async def test_a_regions_own_day_off_holds_its_readers_reminder_and_not_another_regions(settings, sessionmaker, orgs):
    """The first region registers Monday 11 January 2027 as a day off of its own (no national
    holiday); the agreement's party takes it from the register. A reminder due at 09:00 that
    Monday reaches that region's reader at 08:00 on Tuesday, and the other region's reader in
    the same zone that Monday at 09:00."""
    a, _ = orgs
    monday = date(2027, 1, 11)
    async with session_scope(sessionmaker) as session:
        await organisations.put_settings(
            session, org=a, time_zone=None, expiry_reminder_days=None, updated_by="test", days_off=[monday]
        )
        proposal = await organisations.apply_defaults(session, ksdd(orgs))
    ours, theirs = await approvers(sessionmaker, orgs, (JAKARTA, JAKARTA))
    _, state = await submitted(sessionmaker, proposal)
    monday_0900_wib = datetime(2027, 1, 11, 2, 0, tzinfo=UTC)
    reminder = reminder_of(state, monday_0900_wib)
    await record(sessionmaker, state, [reminder])

    assert (await delivery(sessionmaker, reminder.id, theirs, "email"))["due_at"] == monday_0900_wib
    assert (await delivery(sessionmaker, reminder.id, ours, "email"))["due_at"] == monday_0900_wib + timedelta(hours=23)


async def test_a_reminder_failing_on_the_eve_of_lebaran_is_retried_after_it_within_the_give_up(
    settings, sessionmaker, refusing: RefusingForNow, orgs
):
    """The mail server refuses for now at 16:50 on Friday 5 March in Jayapura, the last office
    hour before Lebaran. The reminder is tried again at 08:00 on Tuesday 16 March there — not
    on Nyepi or the cuti bersama — though the 72 give-up hours ended on the Monday before:
    it gets its try in the first office hours after them, and is sent then."""
    jayapura, _ = await approvers(sessionmaker, orgs, (JAYAPURA, JAKARTA))
    _, state = await submitted(sessionmaker, ksdd(orgs))
    reminder = reminder_of(state, EVE_OF_LEBARAN_1650_WIT)
    await record(sessionmaker, state, [reminder])

    clock = [EVE_OF_LEBARAN_1650_WIT]
    config = fast(settings, refusing, delivery_retry_initial_seconds=TEN_MINUTES, delivery_give_up_hours=72)
    dispatcher = OutboxDispatcher(config, sessionmaker, clock=lambda: clock[0])
    async with dispatcher.running():
        (row,) = await until(lambda: _tried_once(sessionmaker, [(reminder.id, jayapura)]))
    assert (row["status"], row["due_at"]) == ("pending", AFTER_LEBARAN_0800_WIT)

    refusing.refusing = False
    clock[0] = AFTER_LEBARAN_0800_WIT
    async with dispatcher.running():
        await until(lambda: _status_is(sessionmaker, reminder.id, jayapura, "sent"))
    assert (await delivery(sessionmaker, reminder.id, jayapura, "email"))["attempts"] == 2


async def test_a_reminder_failing_at_friday_close_with_a_days_give_up_is_tried_on_monday_before_it_is_given_up(
    settings, sessionmaker, refusing: RefusingForNow, orgs
):
    """A reminder first due at 16:50 on a Friday in Jayapura, with 24 give-up hours (over on
    Saturday afternoon), fails: it was given up then, its Monday try past the give-up. It is
    tried at 08:00 on Monday; failing again then, it is given up — no try after that."""
    jayapura, _ = await approvers(sessionmaker, orgs, (JAYAPURA, JAKARTA))
    _, state = await submitted(sessionmaker, ksdd(orgs))
    reminder = reminder_of(state, FRIDAY_1650_WIT)
    await record(sessionmaker, state, [reminder])

    clock = [FRIDAY_1650_WIT]
    config = fast(settings, refusing, delivery_retry_initial_seconds=TEN_MINUTES, delivery_give_up_hours=24)
    dispatcher = OutboxDispatcher(config, sessionmaker, clock=lambda: clock[0])
    async with dispatcher.running():
        (row,) = await until(lambda: _tried_once(sessionmaker, [(reminder.id, jayapura)]))
    assert (row["status"], row["due_at"]) == ("pending", MONDAY_0800_WIT)

    clock[0] = MONDAY_0800_WIT
    async with dispatcher.running():
        await until(lambda: _status_is(sessionmaker, reminder.id, jayapura, "failed"))
    row = await delivery(sessionmaker, reminder.id, jayapura, "email")
    assert row["attempts"] == 2 and "451" in row["last_error"]
    assert len(refusing.to(jayapura)) == 0  # refused both times


async def test_a_retried_reminder_claimed_after_friday_close_with_a_days_give_up_waits_for_monday(
    settings, sessionmaker, orgs
):
    """A reminder first due at 16:50 on a Friday in Jayapura, tried once and due again at
    16:55, is claimed at 17:05 there (the dispatcher was behind): not sent after hours, and —
    with 24 give-up hours, over on Saturday — no longer given up for lack of office hours
    before them: its claim is given back, due at 08:00 on Monday, its last try."""
    jayapura, _ = await approvers(sessionmaker, orgs, (JAYAPURA, JAKARTA))
    _, state = await submitted(sessionmaker, ksdd(orgs))
    reminder = reminder_of(state, FRIDAY_1650_WIT)
    await record(sessionmaker, state, [reminder])
    async with session_scope(sessionmaker) as session:  # tried once at 16:50, refused for now
        await session.execute(
            text(
                "UPDATE deliveries SET attempts = 1, last_error = '451 Try again later', due_at = :due "
                "WHERE event_id = :event AND recipient = :address"
            ),
            {"due": FRIDAY_1650_WIT + timedelta(minutes=5), "event": reminder.id, "address": jayapura},
        )
    sink = MailSink().start()
    try:
        config = fast(settings, sink, delivery_give_up_hours=24)
        after_close = FRIDAY_1650_WIT + timedelta(minutes=15)
        async with OutboxDispatcher(config, sessionmaker, clock=lambda: after_close).running():
            row = await until(lambda: _due_at(sessionmaker, reminder.id, jayapura, MONDAY_0800_WIT))
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert [x for x in sink.to(jayapura) if "Pengingat" in x["Subject"]] == []
    finally:
        sink.stop()


async def _due_at(sessionmaker, event_id, address, due_at) -> dict | None:
    row = await delivery(sessionmaker, event_id, address, "email")
    if row is not None and row["status"] == "failed":
        raise AssertionError(f"given up: {row['last_error']}")
    return row if row is not None and row["due_at"] == due_at and row["claimed_until"] is None else None


async def _tried_and_due_monday(sessionmaker, reminder: m.Event, address: str) -> None:
    """The reminder as a failure at 16:50 on Friday leaves it: tried once, due at 08:00 on
    Monday (its last try, 24 give-up hours being over on Saturday)."""
    async with session_scope(sessionmaker) as session:
        await session.execute(
            text(
                "UPDATE deliveries SET attempts = 1, last_error = '451 Try again later', due_at = :due "
                "WHERE event_id = :event AND recipient = :address"
            ),
            {"due": MONDAY_0800_WIT, "event": reminder.id, "address": address},
        )


async def test_a_reminders_last_try_that_found_no_free_mail_connection_on_monday_morning_is_tried_again_that_day(
    settings, sessionmaker, orgs
):
    """A reminder first due at 16:50 on a Friday, with 24 give-up hours, failed then: its last
    try is at 08:00 on Monday, when the weekend's mail all falls due. No connection to the
    mail server is free for it within the mail timeout (a server slower to set up than that):
    the try never began, the server never saw the mail. It was counted as the last try and
    given up. It is released uncounted and sent once a connection is free that morning."""
    jayapura, _ = await approvers(sessionmaker, orgs, (JAYAPURA, JAKARTA))
    _, state = await submitted(sessionmaker, ksdd(orgs))
    reminder = reminder_of(state, FRIDAY_1650_WIT)
    await record(sessionmaker, state, [reminder])
    await _tried_and_due_monday(sessionmaker, reminder, jayapura)

    monday = [MONDAY_0800_WIT]
    async with Counted(pause=0.0, greeting=0.3, gone_after_setup=True).running() as busy:
        config = fast(settings, smtp_port=busy.port, smtp_timeout_seconds=0.5, delivery_give_up_hours=24)
        async with OutboxDispatcher(config, sessionmaker, clock=lambda: monday[0]).running():
            row = await until(lambda: _released_again(sessionmaker, reminder.id, jayapura))
    assert (row["status"], row["attempts"]) == ("pending", 1)  # not counted: it never began
    assert MONDAY_0800_WIT <= row["due_at"] < MONDAY_0800_WIT + timedelta(hours=9)  # that day
    assert busy.received == 0

    sink = MailSink().start()
    try:
        monday[0] = row["due_at"]
        async with OutboxDispatcher(
            fast(settings, sink, delivery_give_up_hours=24), sessionmaker, clock=lambda: monday[0]
        ).running():
            await until(lambda: _status_is(sessionmaker, reminder.id, jayapura, "sent"))
        assert (await delivery(sessionmaker, reminder.id, jayapura, "email"))["attempts"] == 2
        assert len(sink.to(jayapura)) == 1
    finally:
        sink.stop()


async def test_a_reminders_last_try_that_never_finds_a_free_mail_connection_is_given_up_at_that_days_close(
    settings, sessionmaker, orgs
):
    """The bound: a mail server that never has a connection free keeps the reminder's last
    try to its office day. Released at 16:59:30 on Monday, the next release (a minute on)
    would fall after 17:00: it is given up then, not moved to Tuesday."""
    jayapura, _ = await approvers(sessionmaker, orgs, (JAYAPURA, JAKARTA))
    _, state = await submitted(sessionmaker, ksdd(orgs))
    reminder = reminder_of(state, FRIDAY_1650_WIT)
    await record(sessionmaker, state, [reminder])
    await _tried_and_due_monday(sessionmaker, reminder, jayapura)

    before_close = MONDAY_0800_WIT + timedelta(hours=8, minutes=59, seconds=30)
    async with Counted(pause=0.0, greeting=0.3, gone_after_setup=True).running() as busy:
        config = fast(
            settings,
            smtp_port=busy.port,
            smtp_timeout_seconds=0.5,
            delivery_give_up_hours=24,
            delivery_retry_initial_seconds=60.0,
            delivery_retry_max_seconds=600.0,
        )
        async with OutboxDispatcher(config, sessionmaker, clock=lambda: before_close).running():
            await until(lambda: _status_is(sessionmaker, reminder.id, jayapura, "failed"))
    row = await delivery(sessionmaker, reminder.id, jayapura, "email")
    assert row["attempts"] == 2 and "connection" in row["last_error"]
    assert row["unbegun"] == 1 and busy.received == 0  # released at once, tried once more, and no more


async def _released_again(sessionmaker, event_id, address) -> dict | None:
    row = await delivery(sessionmaker, event_id, address, "email")
    if row is not None and row["status"] == "failed":
        raise AssertionError(f"given up: {row['last_error']}")
    return row if row is not None and row["unbegun"] >= 2 and row["claimed_until"] is None else None


async def test_a_reminders_last_try_to_a_reader_whose_zone_is_no_longer_known_is_given_up_at_jakartas_close(
    settings, sessionmaker, orgs
):
    """A reader's zone recorded in the plan (checked when the contact was saved) that a later
    tzdata release dropped counts as Jakarta's, as everywhere the mail's hours are counted.
    The last try's bound read that zone as it was: every release of a try that never began
    raised, its claim was left to the lease and taken again, the mail never given up."""
    jayapura, _ = await approvers(sessionmaker, orgs, (JAYAPURA, JAKARTA))
    _, state = await submitted(sessionmaker, ksdd(orgs))
    reminder = reminder_of(state, FRIDAY_1650_WIT)
    await record(sessionmaker, state, [reminder])
    await _tried_and_due_monday(sessionmaker, reminder, jayapura)
    async with session_scope(sessionmaker) as session:
        await session.execute(
            text(
                "UPDATE deliveries SET payload = jsonb_set(payload, '{recipient,time_zone}', '\"Asia/Atlantis\"') "
                "WHERE event_id = :event AND recipient = :address"
            ),
            {"event": reminder.id, "address": jayapura},
        )

    before_close_wib = datetime(2027, 1, 11, 9, 59, 30, tzinfo=UTC)  # Monday 16:59:30 in Jakarta
    async with Counted(pause=0.0, greeting=0.3, gone_after_setup=True).running() as busy:
        config = fast(
            settings,
            smtp_port=busy.port,
            smtp_timeout_seconds=0.5,
            delivery_give_up_hours=24,
            delivery_retry_initial_seconds=60.0,
            delivery_retry_max_seconds=600.0,
        )
        async with OutboxDispatcher(config, sessionmaker, clock=lambda: before_close_wib).running():
            await until(lambda: _status_is(sessionmaker, reminder.id, jayapura, "failed"))
    row = await delivery(sessionmaker, reminder.id, jayapura, "email")
    assert row["attempts"] == 2 and "connection" in row["last_error"]
    assert busy.received == 0
