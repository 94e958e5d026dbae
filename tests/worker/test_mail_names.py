"""What mails say (issue #11, branch mailnames15): organisations named as the agreement and
the register name them, not by their ids — whatever the outbox row holds, since the rows
hold ids. Real parts: the `record_events` activity writing the outbox into the embedded
PostgreSQL, the dispatcher and the legacy delivery activity sending to a real SMTP server
(aiosmtpd)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from services.store import notifications as store
from services.store import queries, register
from services.store.db import session_scope
from services.worker.activities.notify import NotifyActivities
from services.worker.dispatcher import OutboxDispatcher
from tests.builders import NOW, happy_step, partner, party, proposal, replay, run, staff
from tests.provinces import unused_province
from tests.receivers import MailSink
from tests.worker.test_delivery import add_contact, fast
from tests.worker.test_outbox import record, until
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts import notify as c
from workflows.notify.rules import Notification
from workflows.timeline import next_office_hours

pytestmark = pytest.mark.asyncio(loop_scope="session")


def mailed(sink: MailSink, *addresses: str):
    """A probe for `until`: every address has its mail."""

    async def probe() -> bool:
        return all(sink.to(address) for address in addresses)

    return probe


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


def html(message) -> str:
    return message.get_body(("html",)).get_content()


async def registered(sessionmaker, org: str, name_id: str, name_en: str | None = None, level: str = "regency") -> None:
    entry = register.Entry(
        org=org,
        name_id=name_id,
        name_en=name_en,
        level=level,
        province_code=unused_province() if level in ("province", "regency") else None,
    )
    async with session_scope(sessionmaker) as session:
        await register.put(session, entry=entry, updated_by="operator@pakta")


async def history(sessionmaker, prop: m.Proposal, stage: str) -> m.AgreementState:
    """An agreement taken along the happy path to `stage`, its events recorded without their
    notifications (what came before the test's news); its state."""
    events = L.create(prop, staff(prop.parties[0].org), NOW, f"agr-{uuid.uuid4()}")
    state = replay(events)
    while state.stage != stage:
        state, more = happy_step(state, NOW)
        events += more
    async with session_scope(sessionmaker) as session:
        await queries.append_events(session, state=state, events=events)
    return state


async def test_a_draft_accepted_by_a_party_recorded_without_a_name_is_mailed_with_the_registers_name(
    settings, sessionmaker, sink: MailSink, orgs
):
    province, regency = orgs
    # The regency's party is recorded without a name (as before 53e132c), and registered after.
    state = await history(sessionmaker, proposal([party(province, "initiator"), party(regency)], "ksdd"), "negotiation")
    assert next(p for p in state.parties if p.org == regency).name is None
    await registered(
        sessionmaker, regency, f"Pemerintah Kabupaten {regency}", f"Regency Government of {regency}", "regency"
    )
    await add_contact(sessionmaker, province, f"siti@{province}.go.id", ["staff"], name="Siti")
    await add_contact(sessionmaker, province, f"budi@{province}.go.id", ["staff"], name="Budi", language="en")
    # `record` evolves the state it is given by the events, as the recording does.
    _, submitted = run(state, staff(province), m.SubmitDraft(document="a" * 64))
    state = await record(sessionmaker, state, submitted)
    version = state.drafts[-1].version
    _, accepted = run(state, partner(regency), m.AcceptDraft(version=version))
    await record(sessionmaker, state, accepted)

    async with OutboxDispatcher(fast(settings, sink), sessionmaker).running():
        await until(mailed(sink, f"siti@{province}.go.id", f"budi@{province}.go.id"))
    (indonesian,) = sink.to(f"siti@{province}.go.id")
    assert indonesian["Subject"] == (
        f"Versi {version} disetujui oleh Pemerintah Kabupaten {regency}: Kerja sama ksdd kesehatan"
    )
    assert f"Pemerintah Kabupaten {regency} menyetujui versi {version}" in plain(indonesian)
    assert f"Pemerintah Kabupaten {regency} menyetujui" in html(indonesian)
    (english,) = sink.to(f"budi@{province}.go.id")
    assert english["Subject"] == (
        f"Version {version} accepted by Regency Government of {regency}: Kerja sama ksdd kesehatan"
    )
    assert f"Regency Government of {regency} accepted version {version}" in plain(english)


async def test_an_evaluation_escalation_names_the_parties_that_have_not_reported(
    settings, sessionmaker, sink: MailSink, orgs
):
    province, regency = orgs
    # The province's party recorded a name of its own: it wins over the register's. The
    # regency's was recorded as its id: the register's name replaces it.
    by_id = party(regency).model_copy(update={"name": regency})
    own = party(province, "initiator").model_copy(update={"name": f"Pemprov {province}"})
    state = await history(sessionmaker, proposal([own, by_id], "ksdd"), "implementation")
    in_force = datetime(2027, 2, 1, 3, 0, tzinfo=UTC)  # no evaluation before the effective date
    _, opened = run(state, staff(province), m.StartEvaluation(), in_force)
    state = await record(sessionmaker, state, opened)
    await registered(sessionmaker, province, f"Pemerintah Provinsi {province}", level="province")
    await registered(sessionmaker, regency, f"Pemerintah Kabupaten {regency}", level="regency")
    await add_contact(sessionmaker, province, f"tkksd@{province}.go.id", ["approver"], gates=["review"])
    escalated = m.Event(
        id=L.events.event_id(state.id, state.seq + 1),
        agreement_id=state.id,
        seq=state.seq + 1,
        version=state.version,
        type="evaluation_escalated",
        at=in_force + timedelta(days=40),  # a Saturday: mailed when the office opens
        actor=m.SYSTEM,
        data={"notice": "report-escalation:1", "evaluation": 1, "round": 1, "to": "coordinators"},
    )
    await record(sessionmaker, state, [escalated])

    # Time-driven: mailed at the reader's office hours.
    clock = next_office_hours(escalated.at, m.DEFAULT_TIME_ZONE) + timedelta(minutes=1)
    async with OutboxDispatcher(fast(settings, sink), sessionmaker, clock=lambda: clock).running():
        await until(mailed(sink, f"tkksd@{province}.go.id"))
    (mail,) = sink.to(f"tkksd@{province}.go.id")
    body = plain(mail)
    # By name, in the names' order.
    assert f"(belum melapor: Pemerintah Kabupaten {regency}, Pemprov {province})" in body, body
    assert f"belum melapor: {province}" not in body and f", {regency})" not in body


async def test_a_mail_written_to_the_outbox_before_names_and_one_the_legacy_workflow_delivers_name_the_party(
    settings, sessionmaker, sink: MailSink, orgs
):
    province, regency = orgs
    state = await history(sessionmaker, proposal([party(province, "initiator"), party(regency)], "ksdd"), "negotiation")
    await registered(sessionmaker, regency, f"Pemerintah Kabupaten {regency}", level="regency")
    # The row as the outbox held it before this change (and still does): the notice names
    # the regency by its id only.
    notice = {
        "event_id": f"{state.id}/signed",
        "event_type": "document_signed",
        "agreement_id": state.id,
        "seq": state.seq,
        "at": "2027-01-04T09:00:00Z",
        "audience": {"org": province, "role": "staff", "gate": None},
        "template": "document_signed",
        "data": {
            "title": state.title,
            "kind": "ksdd",
            "stage": "negotiation",
            "version": 2,
            "document_kind": "ksb",
            "by_org": regency,
            "signed_by": "Bupati",
        },
    }
    row = {
        "event_id": notice["event_id"],
        "recipient": f"siti@{province}.go.id",
        "channel": "email",
        "agreement_id": state.id,
        "payload": {"notification": notice, "recipient": {"address": f"siti@{province}.go.id", "name": "Siti"}},
        "due_at": datetime.now(UTC),
    }
    async with session_scope(sessionmaker) as session:
        await store.write_plan(session, outgoing=[row])
    async with OutboxDispatcher(fast(settings, sink), sessionmaker).running():
        await until(mailed(sink, f"siti@{province}.go.id"))
    (mail,) = sink.to(f"siti@{province}.go.id")
    assert mail["Subject"] == f"Ditandatangani oleh Pemerintah Kabupaten {regency}: {state.title}"
    assert f"Bupati (Pemerintah Kabupaten {regency}) telah menandatangani versi 2" in plain(mail)

    # The legacy NotifyWorkflow's delivery (runs from before the outbox) names it too.
    legacy = NotifyActivities(fast(settings, sink), sessionmaker)
    note = Notification.model_validate({**notice, "event_id": f"{state.id}/signed-legacy"})
    reader = c.EmailRecipient(address=f"budi@{province}.go.id", name="Budi", language="en")
    result = await ActivityEnvironment().run(
        legacy.deliver_email, c.DeliverEmailInput(notification=note, recipient=reader)
    )
    assert result.outcome == "sent"
    (english,) = sink.to(f"budi@{province}.go.id")
    # No English name in the register: its Indonesian one.
    assert english["Subject"] == f"Signed by Pemerintah Kabupaten {regency}: {state.title}"


async def test_the_dispatcher_reads_a_claims_names_in_one_statement_and_not_again_for_the_next_news(
    settings, statements, sink: MailSink, orgs
):
    sessionmaker, sent = statements
    province, regency = orgs
    state = await history(sessionmaker, proposal([party(province, "initiator"), party(regency)], "ksdd"), "negotiation")
    await registered(sessionmaker, regency, f"Pemerintah Kabupaten {regency}", level="regency")
    readers = [f"siti@{province}.go.id", f"budi@{province}.go.id"]
    for address in readers:
        await add_contact(sessionmaker, province, address, ["staff"])
    _, submitted = run(state, staff(province), m.SubmitDraft(document="a" * 64))
    state = await record(sessionmaker, state, submitted)
    _, accepted = run(state, partner(regency), m.AcceptDraft(version=state.drafts[-1].version))
    state = await record(sessionmaker, state, accepted)

    def name_reads() -> int:
        return sum("recorded.name" in statement for statement in sent)

    sent.clear()
    dispatcher = OutboxDispatcher(fast(settings, sink), sessionmaker)
    async with dispatcher.running():
        await until(mailed(sink, *readers))
        assert name_reads() == 1  # one claim of two mails: one read
        _, commented = run(state, staff(regency), m.Comment(text="Kami setuju."))
        await record(sessionmaker, state, commented, wake=dispatcher.wake)
        await until(lambda: _both_twice(sink, readers))
    assert name_reads() == 1  # the next news about the same agreement: its names were kept
    assert all(f"Pemerintah Kabupaten {regency}" in mail["Subject"] for r in readers for mail in sink.to(r))


async def _both_twice(sink: MailSink, readers: list[str]) -> bool:
    return all(len(sink.to(reader)) == 2 for reader in readers)
