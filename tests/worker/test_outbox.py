"""Notifications through the outbox against real parts: the real `record_events` activity
writing events, inbox rows and outbox rows in one transaction into the embedded
PostgreSQL; the real dispatcher sending them to a real SMTP server (aiosmtpd) and a real
HTTP receiver verifying signatures; a `pakta worker` process killed mid-delivery. Every test
works on a database of its own (tests/worker/conftest.py): a dispatcher claims every due
delivery of its database."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from sqlalchemy import update
from temporalio.testing import ActivityEnvironment

from services.store import notifications as store
from services.store import outbox
from services.store.db import create_engine, create_sessionmaker, session_scope
from services.worker.activities.notify import DELIVERED
from services.worker.activities.records import RecordActivities
from services.worker.channels import email as mail
from services.worker.dispatcher import Failure, OutboxDispatcher
from tests.fixtures.servers import settings_on
from tests.receivers import MailSink, WebhookReceiver, block_first, flaky, ok, status
from tests.worker.test_delivery import GIVE_UP_SOON, add_contact, add_endpoint, delivery, fast, lease_ended
from workflows import lifecycle as L
from workflows import messages as m
from workflows.agreement import ActInput, AgreementInput, AgreementWorkflow, workflow_id
from workflows.contracts.records import RecordEventsInput
from workflows.timeline import next_office_moment

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def ksdd(orgs: tuple[str, str]) -> m.Proposal:
    a, b = orgs
    return m.Proposal(
        title="Pengelolaan sampah regional",
        kind="ksdd",
        objectives="TPPAS.",
        sector="environment",
        parties=[
            m.Party(org=a, role="initiator", sector="government", signatory=f"Head of {a}"),
            m.Party(org=b, role="counterparty", sector="government", signatory=f"Head of {b}"),
        ],
        start_date="2027-02-01",
        duration_months=60,
    )


def staff_of(org: str) -> m.Actor:
    return m.Actor(sub=f"staff@{org}", org=org, roles=["staff"])


async def record(sessionmaker, state: m.AgreementState | None, events: list[m.Event], *, wake=None):
    """Record a batch as the agreement workflow does: events, read model and notification
    plan in one transaction. The state after it."""
    for event in events:
        state = L.evolve(state, event)
    activity = RecordActivities(sessionmaker, on_outbox=wake)
    await ActivityEnvironment().run(
        activity.record_events, RecordEventsInput(state=state, events=events, plan_notifications=True)
    )
    return state


async def submitted(sessionmaker, orgs, *, wake=None) -> tuple[list[m.Event], m.AgreementState]:
    """A KSDD between the two organisations, created and submitted (agreement_submitted,
    then step_entered opening the review gate for both regions), recorded."""
    staff = staff_of(orgs[0])
    state = await record(sessionmaker, None, L.create(ksdd(orgs), staff, NOW, str(uuid.uuid4())), wake=wake)
    events = L.decide(state, m.Submit(), staff, NOW)
    return events, await record(sessionmaker, state, events, wake=wake)


async def until(probe, timeout: float = 30.0):  # noqa: ASYNC109 -- a test helper's own bound
    async with asyncio.timeout(timeout):
        while not (result := await probe()):  # noqa: ASYNC110 -- polls what another process writes
            await asyncio.sleep(0.05)
        return result


async def status_of(sessionmaker, event_id: str, recipient: str, channel: str) -> str | None:
    row = await delivery(sessionmaker, event_id, recipient, channel)
    return row["status"] if row else None


# ---------------------------------------------------------------- email and inbox


async def test_a_recording_writes_the_inbox_and_the_outbox_and_the_dispatcher_mails_once(
    settings, sessionmaker, sink: MailSink, orgs
):
    a, b = orgs
    await add_contact(
        sessionmaker, a, f"tkksd@{a}.go.id", ["approver"], gates=["review"], language="en", name="Budi",
        time_zone="Asia/Makassar",
    )  # fmt: skip
    await add_contact(sessionmaker, a, f"Siti@{a}.go.id", ["staff", "partner"], name="Siti")
    await add_contact(sessionmaker, b, f"mitra@{b}.go.id", ["partner"], opt_out=["email"])
    await add_contact(sessionmaker, b, f"dprd@{b}.go.id", ["approver"], gates=["dprd"])  # another gate
    config = fast(settings, sink)
    dispatcher = OutboxDispatcher(config, sessionmaker)
    events, state = await submitted(sessionmaker, orgs, wake=dispatcher.wake)

    # Before any dispatcher runs, the inbox is there and the mails wait in the outbox.
    async with session_scope(sessionmaker) as session:
        inbox = await store.list_inbox(session, sub="siti", org=a, roles=["staff"], gates=[])
    assert {n.template for n in inbox} == {"agreement_submitted"}
    assert await status_of(sessionmaker, events[1].id, f"tkksd@{a}.go.id", "email") == "pending"

    async with dispatcher.running():
        await until(
            lambda: _sent(sessionmaker, [(events[1].id, f"tkksd@{a}.go.id"), (events[0].id, f"siti@{a}.go.id")])
        )
    (approver_mail,) = sink.to(f"tkksd@{a}.go.id")
    assert approver_mail["Subject"] == "Awaiting your decision (TKKSD review): Pengelolaan sampah regional"
    assert approver_mail["Message-ID"] == mail.message_id(events[1].id, f"tkksd@{a}.go.id")
    assert "WITA" in approver_mail.get_body(("plain",)).get_content()
    (staff_mail,) = sink.to(f"siti@{a}.go.id")  # one mail though Siti is in two audiences
    assert staff_mail["Subject"] == "Kerja sama diajukan: Pengelolaan sampah regional"
    assert sink.to(f"mitra@{b}.go.id") == [] and sink.to(f"dprd@{b}.go.id") == []

    # The same batch recorded again (a retried activity) plans and sends nothing twice.
    activity = RecordActivities(sessionmaker)
    retried = await ActivityEnvironment().run(
        activity.record_events, RecordEventsInput(state=state, events=events, plan_notifications=True)
    )
    assert retried.inserted == 0
    async with dispatcher.running():
        await asyncio.sleep(0.5)
    assert len(sink.to(f"siti@{a}.go.id")) == 1
    row = await delivery(sessionmaker, events[1].id, f"tkksd@{a}.go.id", "email")
    assert row["status"] == "sent" and row["attempts"] == 1


async def _sent(sessionmaker, keys) -> bool:
    return all([await status_of(sessionmaker, event, address, "email") == "sent" for event, address in keys])


async def test_time_driven_mail_waits_for_office_hours_where_the_reader_is(settings, sessionmaker, sink, orgs):
    """A reminder that falls due on a Saturday reaches a reader in Amsterdam when their
    office opens on Monday, by the dispatcher's clock."""
    a, _ = orgs
    await add_contact(
        sessionmaker, a, f"kantor@{a}.go.id", ["approver"], gates=["review"], time_zone="Europe/Amsterdam"
    )
    _, state = await submitted(sessionmaker, orgs)
    saturday = datetime(2027, 1, 9, 12, 0, tzinfo=UTC)
    reminder = m.Event(
        id=L.events.event_id(state.id, state.seq + 1),
        agreement_id=state.id,
        seq=state.seq + 1,
        version=state.version,
        type="deadline_reminder",
        at=saturday,
        actor=m.SYSTEM,
        data={"notice": "persiapan-7", "step": "persiapan", "due_at": "2027-01-18T02:00:00+00:00", "days_before": 7},
    )
    await record(sessionmaker, state, [reminder])
    opens = next_office_moment(saturday, "Europe/Amsterdam")
    assert opens - saturday > timedelta(hours=36)
    row = await delivery(sessionmaker, reminder.id, f"kantor@{a}.go.id", "email")
    assert row["status"] == "pending" and row["due_at"] == opens

    clock = [saturday + timedelta(hours=1)]
    dispatcher = OutboxDispatcher(fast(settings, sink), sessionmaker, clock=lambda: clock[0])
    async with dispatcher.running():
        await until(lambda: _ready(sink.to(f"kantor@{a}.go.id")))  # the gate's opening: at once
        await asyncio.sleep(0.5)
        assert _reminders(sink, f"kantor@{a}.go.id") == []  # Saturday afternoon: not yet
        assert await status_of(sessionmaker, reminder.id, f"kantor@{a}.go.id", "email") == "pending"
        clock[0] = opens
        dispatcher.wake()
        await until(lambda: _status_is(sessionmaker, reminder.id, f"kantor@{a}.go.id", "email", "sent"))
    assert len(_reminders(sink, f"kantor@{a}.go.id")) == 1


def _reminders(sink: MailSink, address: str) -> list:
    return [x for x in sink.to(address) if "Pengingat" in x["Subject"]]


async def test_mail_server_down_retries_then_gives_up(settings, sessionmaker, orgs):
    a, _ = orgs
    await add_contact(sessionmaker, a, f"siti@{a}.go.id", ["staff"])
    events, _ = await submitted(sessionmaker, orgs)
    config = fast(settings, None, delivery_give_up_hours=GIVE_UP_SOON)  # nothing listens on port 9
    async with OutboxDispatcher(config, sessionmaker).running():
        await until(lambda: _status_is(sessionmaker, events[0].id, f"siti@{a}.go.id", "email", "failed"))
    row = await delivery(sessionmaker, events[0].id, f"siti@{a}.go.id", "email")
    assert row["attempts"] > 1 and "SMTP" in row["last_error"]


async def test_a_sender_address_no_envelope_can_carry_is_retried_until_the_setting_is_mended(
    settings, sessionmaker, sink: MailSink, orgs
):
    # The recipient is fine; PAKTA_MAIL_FROM is not: the mail is an outage to wait out (a
    # setting to mend, as a refused login), never given up at its first attempt.
    a, _ = orgs
    await add_contact(sessionmaker, a, f"siti@{a}.go.id", ["staff"])
    events, _ = await submitted(sessionmaker, orgs)
    broken = fast(settings, sink, mail_from="Pakta <pakta@ñ.example>")
    async with OutboxDispatcher(broken, sessionmaker).running():
        await until(lambda: _attempted_more_than(sessionmaker, events[0].id, f"siti@{a}.go.id", 1))
    row = await delivery(sessionmaker, events[0].id, f"siti@{a}.go.id", "email")
    assert row["status"] != "failed" and "PAKTA_MAIL_FROM" in row["last_error"] and not sink.messages
    async with OutboxDispatcher(fast(settings, sink), sessionmaker).running():
        await until(lambda: _status_is(sessionmaker, events[0].id, f"siti@{a}.go.id", "email", "sent"))
    assert len(sink.to(f"siti@{a}.go.id")) == 1


async def _attempted_more_than(sessionmaker, event_id, recipient, attempts) -> bool:
    row = await delivery(sessionmaker, event_id, recipient, "email")
    return row is not None and row["attempts"] > attempts


@pytest.mark.parametrize("address", ["ñoño@{a}.go.id", '"siti\x01"@{a}.go.id'])
async def test_an_address_no_smtp_envelope_can_carry_is_given_up_at_once_and_the_next_mail_still_goes(
    settings, sessionmaker, sink: MailSink, orgs, address
):
    # The contacts' check lets such an address through (non-ASCII, or a control character
    # inside quotes): its mail can never be sent, so it is a refusal, not an outage retried
    # at every lease for as long as deliveries are kept.
    a, _ = orgs
    unsendable = address.format(a=a)
    await add_contact(sessionmaker, a, unsendable, ["staff"])
    await add_contact(sessionmaker, a, f"budi@{a}.go.id", ["staff"])
    dispatcher = OutboxDispatcher(fast(settings, sink), sessionmaker)
    async with dispatcher.running():
        events, _ = await submitted(sessionmaker, orgs, wake=dispatcher.wake)
        await until(lambda: _status_is(sessionmaker, events[0].id, unsendable, "email", "failed"))
        await until(lambda: _ready(sink.to(f"budi@{a}.go.id")))
    row = await delivery(sessionmaker, events[0].id, unsendable, "email")
    assert row["attempts"] == 1 and "address" in row["last_error"]


@pytest.fixture
async def other_test(pg):
    """A session on the database the session's other tests share (`settings` of
    tests/conftest.py), standing for another test writing there."""
    engine = create_engine(settings_on(pg.url))
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_deliveries_another_test_left_due_never_reach_this_tests_receiver_or_mail_sink(
    other_test, settings, sessionmaker, receiver: WebhookReceiver, sink: MailSink, orgs
):
    """Another test left a webhook and mails due — the webhook for an endpoint at the address
    this test's receiver now has (its receiver had the port before) — and stopped without a
    dispatcher. This test's dispatcher sends this test's own deliveries and does not touch
    the other test's (a CI run once saw one arrive, when every dispatcher claimed from the
    database the session shared)."""
    a, b = orgs
    others = (f"other-{a}", f"other-{b}")
    receiver.behaviours = {"/mine": ok, "/left-over": ok}
    left_over = await add_endpoint(other_test, receiver, others[0], "/left-over", events=["agreement_submitted"])
    await add_contact(other_test, others[0], f"siti@{others[0]}.go.id", ["staff"])
    left_events, left_state = await submitted(other_test, others)
    try:
        mine = await add_endpoint(sessionmaker, receiver, a, "/mine", events=["agreement_submitted"])
        await add_contact(sessionmaker, a, f"siti@{a}.go.id", ["staff"])
        events, _ = await submitted(sessionmaker, orgs)
        async with OutboxDispatcher(fast(settings, sink), sessionmaker).running():
            await until(lambda: _status_is(sessionmaker, events[0].id, mine.id, "webhook", "sent"))
            await until(lambda: _status_is(sessionmaker, events[0].id, f"siti@{a}.go.id", "email", "sent"))

        assert receiver.at("/left-over") == [] and sink.to(f"siti@{others[0]}.go.id") == []
        for recipient, channel in ((left_over.id, "webhook"), (f"siti@{others[0]}.go.id", "email")):
            left = await delivery(other_test, left_events[0].id, recipient, channel)
            assert (left["status"], left["attempts"]) == ("pending", 0)
    finally:
        async with session_scope(other_test) as session:  # what the other test left goes
            await outbox.forget_superseded(session, agreement_id=left_state.id, event_ids=[e.id for e in left_events])


async def _status_is(sessionmaker, event_id, recipient, channel, expected) -> bool:
    return await status_of(sessionmaker, event_id, recipient, channel) == expected


# ---------------------------------------------------------------- webhooks


async def test_webhooks_are_signed_retried_and_filtered(settings, sessionmaker, receiver: WebhookReceiver, orgs):
    a, b = orgs
    receiver.behaviours = {"/flaky": flaky(2), "/ok": ok}
    everything = await add_endpoint(sessionmaker, receiver, a, "/flaky")
    await add_endpoint(sessionmaker, receiver, a, "/withdrawn", events=["agreement_withdrawn"])
    await add_endpoint(sessionmaker, receiver, b, "/ok", events=["agreement_submitted"])
    await add_endpoint(sessionmaker, receiver, f"x-{a}", "/outsider")  # party to nothing
    dispatcher = OutboxDispatcher(fast(settings), sessionmaker)
    async with dispatcher.running():
        events, state = await submitted(sessionmaker, orgs, wake=dispatcher.wake)
        await until(lambda: _ready(len(receiver.processed) == 4))  # creation and the batch at /flaky, one at /ok
    assert receiver.raw_counts("/flaky") == dict.fromkeys(
        [L.events.event_id(state.id, 1), events[0].id, events[1].id], 3
    )
    assert _all_signed(receiver)
    assert receiver.at("/withdrawn") == [] and receiver.at("/outsider") == []
    assert receiver.raw_counts("/ok") == {events[0].id: 1}
    assert receiver.at("/ok")[0].headers["webhook-id"] == events[0].id

    async def recorded():
        async with session_scope(sessionmaker) as session:
            attempts = await store.list_attempts(session, endpoint_id=everything.id)
        return attempts if all(x.finished_at for x in attempts) and len(attempts) == 9 else None

    attempts = await until(recorded)
    assert sorted(x.status_code for x in attempts if x.event_id == events[1].id) == [200, 503, 503]
    row = await delivery(sessionmaker, events[1].id, everything.id, "webhook")
    assert row["status"] == "sent" and row["attempts"] == 3


def _all_signed(receiver: WebhookReceiver) -> bool:
    """Every request the receiver got verified with its endpoint's secret (only this test's
    endpoints can be sent to: its dispatcher works on the test's own database)."""
    return all(r.verified for r in receiver.requests)


async def _ready(value):
    return value


async def test_a_refusal_is_not_retried_and_a_429_is(settings, sessionmaker, receiver, orgs):
    a, _ = orgs
    receiver.behaviours = {"/refuse": status(400), "/busy": _too_many_then_ok}
    refusing = await add_endpoint(sessionmaker, receiver, a, "/refuse", events=["agreement_submitted"])
    busy = await add_endpoint(sessionmaker, receiver, a, "/busy", events=["agreement_submitted"])
    events, _ = await submitted(sessionmaker, orgs)
    async with OutboxDispatcher(fast(settings), sessionmaker).running():
        await until(lambda: _status_is(sessionmaker, events[0].id, busy.id, "webhook", "sent"))
        await until(lambda: _status_is(sessionmaker, events[0].id, refusing.id, "webhook", "failed"))
    assert len(receiver.at("/refuse")) == 1  # a 400 is final
    assert len(receiver.at("/busy")) == 2  # a 429 is retried
    row = await delivery(sessionmaker, events[0].id, refusing.id, "webhook")
    assert row["last_error"].startswith("HTTP 400")
    async with session_scope(sessionmaker) as session:
        assert (await store.get_endpoint(session, endpoint_id=refusing.id)).enabled


async def _too_many_then_ok(receiver: WebhookReceiver, request) -> int:
    return 429 if receiver.attempts_of(request) == 1 else 200


async def test_an_endpoint_failing_too_long_is_disabled_and_its_staff_told(
    settings, sessionmaker, receiver, sink, orgs
):
    a, _ = orgs
    receiver.behaviours = {"/down": status(503)}
    down = await add_endpoint(sessionmaker, receiver, a, "/down", events=["agreement_submitted", "step_entered"])
    await add_contact(sessionmaker, a, f"siti@{a}.go.id", ["staff"], language="en")
    config = fast(settings, sink, delivery_give_up_hours=1.5 / 3600, webhook_disable_after_hours=0)
    async with OutboxDispatcher(config, sessionmaker).running():
        await submitted(sessionmaker, orgs)
        mails = await until(
            lambda: _ready([x for x in sink.to(f"siti@{a}.go.id") if x["Subject"].startswith("Webhook disabled")])
        )
        await asyncio.sleep(0.5)  # the other delivery to it gives up too: no second notice
    assert len(mails) == 1 and receiver.url("/down") in mails[0]["Subject"]
    assert len([x for x in sink.to(f"siti@{a}.go.id") if x["Subject"].startswith("Webhook disabled")]) == 1
    async with session_scope(sessionmaker) as session:
        endpoint = await store.get_endpoint(session, endpoint_id=down.id)
        inbox = await store.list_inbox(session, sub="siti", org=a, roles=["staff"], gates=[])
    assert not endpoint.enabled and endpoint.disabled_reason.startswith("HTTP 503")
    notice = next(n for n in inbox if n.template == "webhook_disabled")
    assert notice.data["endpoint_id"] == down.id and notice.data["url"] == receiver.url("/down")


async def test_an_endpoint_answering_again_ends_its_failing_spell_and_a_switched_off_one_gets_nothing(
    settings, sessionmaker, receiver, orgs
):
    a, _ = orgs
    receiver.behaviours = {"/down": status(503), "/back": flaky(1), "/off": ok}
    down = await add_endpoint(sessionmaker, receiver, a, "/down", events=["agreement_submitted"])
    back = await add_endpoint(sessionmaker, receiver, a, "/back", events=["agreement_submitted"])
    off = await add_endpoint(sessionmaker, receiver, a, "/off", events=["agreement_submitted"])
    events, _ = await submitted(sessionmaker, orgs)  # planned for all three, none sent yet
    async with session_scope(sessionmaker) as session:  # switched off before its turn
        await session.execute(update(store.ENDPOINTS).where(store.ENDPOINTS.c.id == off.id).values(enabled=False))
    async with OutboxDispatcher(fast(settings), sessionmaker).running():
        await until(lambda: _status_is(sessionmaker, events[0].id, back.id, "webhook", "sent"))
        await until(lambda: _status_is(sessionmaker, events[0].id, off.id, "webhook", "failed"))
        await until(lambda: _ready(len(receiver.at("/down")) >= 2))
    async with session_scope(sessionmaker) as session:
        assert (await store.get_endpoint(session, endpoint_id=down.id)).failing_since is not None
        assert (await store.get_endpoint(session, endpoint_id=back.id)).failing_since is None
        back_attempts = await store.list_attempts(session, endpoint_id=back.id)
        assert await store.list_attempts(session, endpoint_id=off.id) == []
    assert sorted((x.attempt, x.status_code, x.error) for x in back_attempts) == [
        (1, 503, "http_status"),
        (2, 200, None),
    ]
    assert all(x.finished_at is not None and x.duration_ms is not None for x in back_attempts)
    assert receiver.at("/off") == []
    row = await delivery(sessionmaker, events[0].id, off.id, "webhook")
    assert row["last_error"] == "endpoint removed or disabled"


async def test_a_webhook_attempt_is_on_record_while_its_request_is_still_out(settings, sessionmaker, receiver, orgs):
    a, _ = orgs
    receiver.behaviours = {"/slow": block_first}
    endpoint = await add_endpoint(sessionmaker, receiver, a, "/slow", events=["agreement_submitted"])
    events, _ = await submitted(sessionmaker, orgs)
    async with OutboxDispatcher(fast(settings), sessionmaker).running():
        await receiver.blocked.wait()  # the request has arrived and is not answered
        async with session_scope(sessionmaker) as session:
            (started,) = await store.list_attempts(session, endpoint_id=endpoint.id)
        receiver.release.set()
        await until(lambda: _status_is(sessionmaker, events[0].id, endpoint.id, "webhook", "sent"))
    assert (started.event_id, started.event_type, started.agreement_id) == (
        events[0].id,
        events[0].type,
        events[0].agreement_id,
    )
    assert started.attempt == 1 and started.finished_at is None


async def test_a_webhook_delivery_whose_payload_lost_its_event_does_not_hold_up_the_others(
    settings, sessionmaker, receiver, orgs
):
    a, _ = orgs
    receiver.behaviours = {"/ok": ok}
    endpoint = await add_endpoint(sessionmaker, receiver, a, "/ok", events=["agreement_submitted"])
    async with session_scope(sessionmaker) as session:  # due first, so every claim takes it
        await outbox.enqueue(
            session,
            rows=[
                {
                    "event_id": f"broken-{uuid.uuid4()}",
                    "recipient": endpoint.id,
                    "channel": "webhook",
                    "agreement_id": "none",
                    "payload": {},
                    "due_at": datetime.now(UTC) - timedelta(days=1),
                }
            ],
        )
    events, _ = await submitted(sessionmaker, orgs)
    async with OutboxDispatcher(fast(settings), sessionmaker).running():
        await until(lambda: _status_is(sessionmaker, events[0].id, endpoint.id, "webhook", "sent"))
    assert receiver.raw_counts("/ok") == {events[0].id: 1}


# ---------------------------------------------------------------- exactly once


async def test_two_dispatchers_never_send_the_same_delivery(settings, sessionmaker, receiver, orgs):
    a, b = orgs
    paths = [f"/slow{n}" for n in range(3)]
    receiver.behaviours = dict.fromkeys(paths, _slow_ok)
    for path in paths:
        await add_endpoint(sessionmaker, receiver, a, path)
    events, state = await submitted(sessionmaker, orgs)
    # Requests are counted: one answered but timed out (this process stalled past the
    # timeout) would be sent again. `fast`'s 60 s is no race.
    config = fast(settings)
    async with OutboxDispatcher(config, sessionmaker).running(), OutboxDispatcher(config, sessionmaker).running():
        await until(lambda: _ready(len(receiver.requests) >= 9))
        await asyncio.sleep(1.0)
    every_event = {L.events.event_id(state.id, 1): 1, events[0].id: 1, events[1].id: 1}
    assert len(receiver.requests) == 9 and all(receiver.raw_counts(path) == every_event for path in paths)
    assert b


async def _one_mail_due_long_ago(
    sessionmaker: Any,
) -> tuple[dict[str, str], Callable[[timedelta], Awaitable[list[outbox.OutboxRow]]]]:
    """A mail due before any other test's rows, and a claim (with a lease of its own) that
    takes only it."""
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    key = {"event_id": f"late-{uuid.uuid4()}", "recipient": "late@example.org", "channel": "email"}
    async with session_scope(sessionmaker) as session:
        await outbox.enqueue(session, rows=[{**key, "agreement_id": "none", "payload": {}, "due_at": long_ago}])  # type: ignore[typeddict-item]

    async def claim(lease: timedelta) -> list[outbox.OutboxRow]:
        async with session_scope(sessionmaker) as session:
            return await outbox.claim_due(
                session, now=long_ago + timedelta(days=1), limit=10, leases={"email": lease, "webhook": lease}
            )

    return key, claim


async def test_a_dispatchers_failure_recorded_after_its_lease_ran_out_leaves_the_next_dispatchers_claim_alone(
    sessionmaker,
):
    """Dispatcher A's claim runs out before A records its failure (its send, or the wait for a
    database connection after it, took longer than the lease), and dispatcher B has claimed
    the row since and is sending it. A's `retry_later` must not free B's claim: a third
    dispatcher would take the row while B still sends it, and the receiver get it twice."""
    key, claim = await _one_mail_due_long_ago(sessionmaker)
    try:
        [by_a] = await claim(timedelta(milliseconds=1))
        await asyncio.sleep(0.05)  # A's lease runs out
        [by_b] = await claim(timedelta(hours=1))
        assert (by_a.attempts, by_b.attempts) == (1, 2)
        async with session_scope(sessionmaker) as session:  # A's late failure
            await outbox.retry_later(session, row=by_a, error="timed out", due_at=datetime(2000, 1, 1, tzinfo=UTC))
        assert await claim(timedelta(hours=1)) == []  # B still holds it: nobody else sends it
        row = await delivery(sessionmaker, **key)
        assert row is not None and row["claimed_until"] is not None and row["attempts"] == 2
    finally:
        async with session_scope(sessionmaker) as session:
            await store.mark_sent(session, **key)  # type: ignore[arg-type]


async def test_a_dispatchers_give_up_recorded_after_its_lease_ran_out_leaves_the_next_dispatchers_claim_alone(
    sessionmaker,
):
    """As above, for a give-up: A's late 'failed' must not land on the row B has claimed since
    and is delivering — B's own outcome decides (sent, retried or given up)."""
    key, claim = await _one_mail_due_long_ago(sessionmaker)
    try:
        [by_a] = await claim(timedelta(milliseconds=1))
        await asyncio.sleep(0.05)  # A's lease runs out
        [by_b] = await claim(timedelta(hours=1))
        async with session_scope(sessionmaker) as session:  # A's late give-up
            await outbox.give_up(session, row=by_a, error="550 refused")
        row = await delivery(sessionmaker, **key)
        assert row is not None and row["status"] != "failed" and row["claimed_until"] is not None
        async with session_scope(sessionmaker) as session:  # B's own give-up is recorded
            await outbox.give_up(session, row=by_b, error="550 refused")
        row = await delivery(sessionmaker, **key)
        assert row is not None and row["status"] == "failed" and row["last_error"] == "550 refused"
    finally:
        async with session_scope(sessionmaker) as session:
            await store.mark_sent(session, **key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "failure",
    [Failure("451 try later"), Failure("550 refused", permanent=True), Failure("no connection", begun=False)],
    ids=["retried", "given up", "not begun"],
)
async def test_a_dispatchers_outcome_after_its_lease_ran_out_is_counted_as_superseded_and_changes_nothing(
    settings, sessionmaker, failure
):
    """Whatever A's late outcome — a retry, a give-up, a mail never begun — it finds B's claim
    on the row: nothing written, and the metrics and the log say so (not a retry or a failure
    that did not happen)."""
    key, claim = await _one_mail_due_long_ago(sessionmaker)
    superseded = DELIVERED.labels(channel="email", outcome="superseded")
    dispatcher = OutboxDispatcher(fast(settings), sessionmaker)
    try:
        [by_a] = await claim(timedelta(milliseconds=1))
        await asyncio.sleep(0.05)  # A's lease runs out
        [_] = await claim(timedelta(hours=1))
        before_row, before = await delivery(sessionmaker, **key), superseded._value.get()
        with structlog.testing.capture_logs() as logs:
            await dispatcher._failed(by_a, failure)
        assert superseded._value.get() == before + 1
        assert [line["event"] for line in logs] == ["delivery_outcome_superseded"]
        assert await delivery(sessionmaker, **key) == before_row
    finally:
        async with session_scope(sessionmaker) as session:
            await store.mark_sent(session, **key)  # type: ignore[arg-type]


async def test_dispatcher_processes_are_woken_by_a_commit_elsewhere_and_send_each_delivery_once(
    settings, sessionmaker, receiver, orgs
):
    """Two `pakta dispatcher` processes, no worker, polling only once a minute: the
    recording's NOTIFY (sent on commit, in this process) wakes them, and they share the
    deliveries without sending any twice."""
    a, _ = orgs
    paths = [f"/apart{n}" for n in range(3)]
    receiver.behaviours = dict.fromkeys(paths, _slow_ok)
    for path in paths:
        await add_endpoint(sessionmaker, receiver, a, path)
    env = {
        **os.environ,
        "PAKTA_DATABASE_URL": settings.database_url,
        "PAKTA_METRICS_PORT": "0",
        "PAKTA_LOG_JSON": "false",
        "PAKTA_WEBHOOK_TIMEOUT_SECONDS": "60",  # counted requests: no timeout may race a stall here
        "PAKTA_OUTBOX_POLL_SECONDS": "60",
        "PAKTA_SMTP_PORT": "9",
    }
    dispatchers = [await _pakta("dispatcher", env=env), await _pakta("dispatcher", env=env)]
    try:
        for process in dispatchers:  # listening before anything is recorded
            assert process.stdout is not None
            async with asyncio.timeout(60):
                while b"outbox_listening" not in await process.stdout.readline():
                    assert process.returncode is None
        events, state = await submitted(sessionmaker, orgs)
        await until(lambda: _ready(len(receiver.requests) >= 9))
        await asyncio.sleep(1.0)
    finally:
        for process in dispatchers:
            process.send_signal(signal.SIGTERM)
        for process in dispatchers:
            await process.wait()
    every_event = {L.events.event_id(state.id, 1): 1, events[0].id: 1, events[1].id: 1}
    assert len(receiver.requests) == 9 and all(receiver.raw_counts(path) == every_event for path in paths)
    assert [process.returncode for process in dispatchers] == [0, 0]


async def _pakta(command: str, *, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", command, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def _slow_ok(receiver: WebhookReceiver, request) -> int:
    await asyncio.sleep(0.3)
    return 200


async def test_a_worker_killed_mid_delivery_delivers_once_after_restart(
    temporal_env, settings, sessionmaker, receiver, orgs, task_queue
):
    """A `pakta worker` process records a command (its outbox dispatcher then sends) and is
    SIGKILLed while a webhook request is in flight (the receiver holds it); another
    dispatcher takes over once the lease runs out. What was sent is not sent again; the
    interrupted delivery goes again under the same webhook-id, so the receiver,
    deduplicating on it as the spec asks, processes every (event, endpoint) once."""
    a, b = orgs
    receiver.behaviours = {"/ok": ok, "/hold": block_first}
    served = await add_endpoint(sessionmaker, receiver, b, "/ok", events=["agreement_submitted"])
    held = await add_endpoint(sessionmaker, receiver, a, "/hold", events=["step_entered"])
    config = fast(settings, None)
    env = {
        **os.environ,
        "PAKTA_DATABASE_URL": config.database_url,
        "PAKTA_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PAKTA_TEMPORAL_TASK_QUEUE": task_queue,
        "PAKTA_METRICS_PORT": "0",
        "PAKTA_LOG_JSON": "false",
        "PAKTA_PORTFOLIO_SWEEP": "false",
        "PAKTA_WEBHOOK_TIMEOUT_SECONDS": str(config.webhook_timeout_seconds),
        "PAKTA_DELIVERY_RETRY_INITIAL_SECONDS": "0.1",
        "PAKTA_DELIVERY_RETRY_MAX_SECONDS": "0.5",
        "PAKTA_OUTBOX_POLL_SECONDS": "0.2",
        "PAKTA_SMTP_PORT": "9",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "worker", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    agreement_id = str(uuid.uuid4())
    staff = staff_of(a)
    try:
        client = temporal_env.client
        await client.start_workflow(
            AgreementWorkflow.run,
            AgreementInput(agreement_id=agreement_id, proposal=ksdd(orgs), actor=staff),
            id=workflow_id(agreement_id),
            task_queue=task_queue,
        )
        handle = client.get_workflow_handle(workflow_id(agreement_id))
        await handle.execute_update(AgreementWorkflow.ready, staff, rpc_timeout=timedelta(seconds=60))
        await handle.execute_update(AgreementWorkflow.act, ActInput(command=m.Submit(), actor=staff))
        submitted_id, entered_id = L.events.event_id(agreement_id, 2), L.events.event_id(agreement_id, 3)
        await asyncio.wait_for(receiver.blocked.wait(), timeout=60)
        # Kill once the other delivery is logged as sent (killing between the receiver's
        # 200 and that log entry is the window only the webhook-id covers). The held request
        # cannot time out meanwhile, however long that takes (`fast`'s webhook timeout).
        await until(lambda: _status_is(sessionmaker, submitted_id, served.id, "webhook", "sent"))
        process.send_signal(signal.SIGKILL)
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert receiver.raw_counts("/hold") == {entered_id: 1}  # in flight when the worker died
    held_row = await delivery(sessionmaker, entered_id, held.id, "webhook")
    assert held_row is not None and held_row["status"] == "pending"  # leased: waiting for the lease to run out
    assert held_row["claimed_until"] is not None and held_row["attempts"] == 1

    # Its lease (1.5 times the webhook timeout) is run out by the test, as its time would.
    await lease_ended(sessionmaker, entered_id, held.id)
    async with OutboxDispatcher(config, sessionmaker).running():  # after the lease: sent again
        await until(lambda: _status_is(sessionmaker, entered_id, held.id, "webhook", "sent"), timeout=60)
    assert receiver.raw_counts("/ok") == {submitted_id: 1}  # done before the kill: not redone
    assert receiver.raw_counts("/hold") == {entered_id: 2}  # the interrupted one, same webhook-id
    assert _all_signed(receiver)
    assert sorted(receiver.processed) == sorted([("/ok", submitted_id), ("/hold", entered_id)])
    async with session_scope(sessionmaker) as session:
        attempts = await store.list_attempts(session, endpoint_id=held.id)
    assert sorted((x.attempt, x.status_code, x.finished_at is None) for x in attempts) == [
        (1, None, True),
        (2, 200, False),
    ]
