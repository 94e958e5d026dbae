"""What notifications cost the worker, and that the savings keep every guarantee, against
real parts: mail over SMTP connections kept open (a real aiosmtpd server, stopped and
started again under a client holding a connection); the group commit of the dispatcher's
bookkeeping (its own writes, and the webhook deliveries of many endpoints in the embedded
PostgreSQL); a plan's inbox stored in one statement."""

from __future__ import annotations

import asyncio
import email as email_package
import json
import uuid
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from jinja2 import nodes
from sqlalchemy import select, text

from services.embedded.ports import free_port
from services.notifying import render
from services.store import notifications as store
from services.store import outbox
from services.store.db import session_scope
from services.store.notification_models import Delivery
from services.worker.batching import GroupWrite
from services.worker.channels import email as mail
from services.worker.dispatcher import OutboxDispatcher
from tests.fixtures.ports import started_controller
from tests.receivers import MailSink, WebhookReceiver, ok
from tests.worker.test_delivery import add_contact, add_endpoint, fast
from tests.worker.test_outbox import NOW, ksdd, staff_of, status_of, submitted, until
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts.notify import EmailRecipient
from workflows.notify.rules import Audience, Notification, notifications_for

pytestmark = pytest.mark.asyncio(loop_scope="session")


def note(to: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "pakta@pakta.test", to, "Kerja sama diajukan"
    message.set_content("Satu pemberitahuan.")
    return message.as_bytes()


# ---------------------------------------------------------------- planning


def submission_notifications(orgs: tuple[str, str]) -> list[Notification]:
    """The notifications of a KSDD's submission by the first organisation's staff."""
    a, _ = orgs
    state = None
    for event in L.create(ksdd(orgs), staff_of(a), NOW, str(uuid.uuid4())):
        state = L.evolve(state, event)
    return [n for event in L.decide(state, m.Submit(), staff_of(a), NOW) for n in notifications_for(event, state)]


async def test_a_plan_stores_each_inbox_notification_once_however_often_it_comes(sessionmaker, orgs):
    a, _ = orgs
    staff = staff_of(a)
    state = None
    for event in (created := L.create(ksdd(orgs), staff, NOW, str(uuid.uuid4()))):
        state = L.evolve(state, event)
    notes = [n for event in created for n in notifications_for(event, state)]
    notes += [n for event in L.decide(state, m.Submit(), staff, NOW) for n in notifications_for(event, state)]
    distinct = {(n.event_id, n.audience.key) for n in notes}
    async with session_scope(sessionmaker) as session:
        first = await store.add_all_to_inbox(session, notifications=[*notes, notes[0]])
        again = await store.add_all_to_inbox(session, notifications=notes)
    assert first == len(distinct) > 1 and again == 0


async def test_a_stored_inbox_notification_is_its_own_delivery_and_writes_no_line_in_the_delivery_log(
    sessionmaker, orgs
):
    notes = submission_notifications(orgs)
    async with session_scope(sessionmaker) as session:
        assert await store.add_all_to_inbox(session, notifications=notes) == len(notes) > 0
    async with session_scope(sessionmaker) as session:
        logged = await session.execute(
            select(Delivery.event_id).where(Delivery.event_id.in_([n.event_id for n in notes]))
        )
        stored = await store.add_all_to_inbox(session, notifications=notes)
    # The notification's row, unique by its id, is what a retry finds: the log held a copy.
    assert logged.all() == [] and stored == 0


# Every b-tree index entry of `notifications` that points at one row version, by index:
# pageinspect reads each index page (block 0 is the metapage), a posting list's tids included.
_ENTRIES_BY_INDEX = """
SELECT x.indexrelid::regclass::text AS index, count(*) AS entries
FROM pg_index AS x
CROSS JOIN LATERAL generate_series(1, pg_relation_size(x.indexrelid) / current_setting('block_size')::int - 1)
    AS b(blkno)
CROSS JOIN LATERAL bt_page_items(x.indexrelid::regclass::text, b.blkno::int) AS p
WHERE x.indrelid = 'notifications'::regclass AND (p.htid = :row OR :row = ANY(p.tids))
GROUP BY 1
"""


async def test_a_stored_inbox_notification_costs_an_entry_in_its_id_index_and_its_audience_index_only(
    sessionmaker, orgs
):
    notes = submission_notifications(orgs)
    async with session_scope(sessionmaker) as session:
        await store.add_all_to_inbox(session, notifications=notes[:1])
    async with session_scope(sessionmaker) as session:
        await session.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        row = (
            await session.execute(
                text("SELECT ctid FROM notifications WHERE id = :id"), {"id": store.inbox_id(notes[0])}
            )
        ).scalar_one()
        entries = {r.index: r.entries for r in await session.execute(text(_ENTRIES_BY_INDEX), {"row": row})}
    # The id is the event and audience's own (`inbox_id`): a unique index of the pair would
    # be a third entry holding nothing the primary key does not (migration 2026_12_02_0026).
    assert entries == {"pk_notifications": 1, "ix_notifications_audience": 1}


async def test_every_audience_of_a_plan_reaches_in_one_query_whom_it_reaches_alone(sessionmaker, orgs):
    a, b = orgs
    gate = f"gate-{uuid.uuid4().hex[:8]}"  # a gate no other test's contacts hold
    await add_contact(sessionmaker, a, f"staf@{a}.go.id", ["staff"])
    await add_contact(sessionmaker, a, f"dua@{a}.go.id", ["staff", "approver"], opt_out=["comment_added"])
    await add_contact(sessionmaker, a, f"diam@{a}.go.id", ["staff"], opt_out=["email"])
    await add_contact(sessionmaker, a, f"gerbang@{a}.go.id", ["approver"], gates=[gate])
    await add_contact(sessionmaker, b, f"gerbang@{b}.go.id", ["approver"], gates=[gate, "review"])
    await add_contact(sessionmaker, b, f"staf@{b}.go.id", ["staff", "signatory"])
    asked = [
        (Audience(org=a, role="staff"), "submitted"),
        (Audience(org=a, role="staff"), "comment_added"),
        (Audience(org=a, role="approver"), "submitted"),
        (Audience(org=b, role="signatory"), "submitted"),
        (Audience(org=None, role="approver", gate=gate), "submitted"),
        (Audience(org=b, role="partner"), "submitted"),  # nobody
    ]
    async with session_scope(sessionmaker) as session:
        together = await store.contacts_reached(session, asked=asked)
        alone = {
            (audience.key, template): await store.contacts_for(session, audience=audience, template=template)
            for audience, template in asked
        }
    assert together == alone
    assert [c.email for c in together[(f"{a}/staff/*", "submitted")]] == [f"dua@{a}.go.id", f"staf@{a}.go.id"]
    assert [c.email for c in together[(f"{a}/staff/*", "comment_added")]] == [f"staf@{a}.go.id"]
    assert {c.org for c in together[(f"*/approver/{gate}", "submitted")]} == {a, b}
    assert together[(f"{b}/partner/*", "submitted")] == []


# ---------------------------------------------------------------- building a mail


async def test_a_mail_reads_right_with_a_name_and_title_beyond_ascii_in_both_parts(settings, sink: MailSink, orgs):
    a, _ = orgs
    title = "Pengelolaan sampah — énergi terbarukan di kawasan perbatasan, air bersih dan ketahanan pangan"
    notice = submitted_notice(orgs, title)
    reader = EmailRecipient(address=f"siti@{a}.go.id", name="Siti Rahayu, S.H.", language="id")
    connections = mail.MailConnections(fast(settings, sink))
    try:
        await connections.send(
            mail.build_message(notification=notice, recipient=reader, settings=settings), to=reader.address
        )
    finally:
        await connections.close()
    (received,) = sink.to(f"siti@{a}.go.id")
    assert received["Subject"] == f"Kerja sama diajukan: {title}"
    assert received["To"] == f'"Siti Rahayu, S.H." <siti@{a}.go.id>'
    assert received["Message-ID"] == mail.message_id(notice.event_id, f"siti@{a}.go.id")
    assert received["Content-Language"] == "id" and received["Auto-Submitted"] == "auto-generated"
    assert title in received.get_body(("plain",)).get_content()
    assert "Siti Rahayu, S.H." in received.get_body(("html",)).get_content()


def submitted_notice(orgs, title: str):
    a, _ = orgs
    staff = staff_of(a)
    state = None
    for event in L.create(ksdd(orgs).model_copy(update={"title": title}), staff, NOW, str(uuid.uuid4())):
        state = L.evolve(state, event)
    (event, _) = L.decide(state, m.Submit(), staff, NOW)
    return notifications_for(event, state)[0]


async def test_readers_of_one_notice_get_the_same_mail_but_for_their_own_greeting(orgs):
    notice = submitted_notice(orgs, "Air bersih <lintas> batas & pesisir")
    siti = render.render(notice, language="id", name="Siti", public_url="https://pakta.test")
    odd = render.render(notice, language="id", name='<b>Budi</b> & "Ayu"', public_url="https://pakta.test")
    nobody = render.render(notice, language="id", name=None, public_url="https://pakta.test")
    assert siti.text.startswith("Yth. Siti,\n") and "<p>Yth. Siti,</p>" in siti.html
    assert odd.text.startswith('Yth. <b>Budi</b> & "Ayu",\n')
    assert "<p>Yth. &lt;b&gt;Budi&lt;/b&gt; &amp; &#34;Ayu&#34;,</p>" in odd.html
    assert nobody.text.startswith("Yth. Bapak/Ibu,\n")
    assert siti.subject == odd.subject == nobody.subject
    assert siti.text.replace("Yth. Siti,", "") == nobody.text.replace("Yth. Bapak/Ibu,", "")
    assert siti.html.replace("Yth. Siti,", "") == nobody.html.replace("Yth. Bapak/Ibu,", "")
    assert "Air bersih &lt;lintas&gt; batas &amp; pesisir" in siti.html  # the title still escaped once


async def test_the_same_reader_in_another_language_or_time_zone_gets_that_wording(orgs):
    notice = submitted_notice(orgs, "Pengelolaan sampah regional")
    jakarta = render.render(notice, language="en", name="Siti", public_url="https://pakta.test")
    papua = render.render(
        notice, language="en", name="Siti", public_url="https://pakta.test", time_zone="Asia/Jayapura"
    )
    assert jakarta.text.startswith("Dear Siti,") and "WIB" in jakarta.text and "WIT" in papua.text


async def test_the_templates_use_the_readers_name_only_in_the_greeting():
    # The rest of a mail is rendered once for all the readers of a notice (render._shared).
    environment = render._environment()
    for name in ("id.txt", "en.txt", "layout.txt", "layout.html"):
        source = environment.loader.get_source(environment, name)[0]
        for block in environment.parse(source).find_all(nodes.Block):
            used = {n.name for n in block.find_all(nodes.Name)}
            assert block.name == "greeting" or "name" not in used, f"{name}: block {block.name} uses the name"


async def test_the_templates_blocks_call_no_other_block():
    # A block's context holds only the blocks rendered in it (render._made): a block that
    # called another (`self.…`, `super()`) would find nothing there.
    environment = render._environment()
    for name in ("id.txt", "en.txt", "layout.txt", "layout.html"):
        source = environment.loader.get_source(environment, name)[0]
        tree = environment.parse(source)
        assert not [n for n in tree.find_all(nodes.Name) if n.name in ("self", "super")], name


async def test_a_mails_rendering_gives_its_contexts_only_the_blocks_rendered_in_them(orgs, monkeypatch):
    # Jinja's own context copies every block of its template (a language file has nearly a
    # hundred) for the four a mail renders.
    environment = render._environment()
    made: list[int] = []

    class Counted(environment.context_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(len(self.blocks))

    render._shared.cache_clear()
    render._greeting.cache_clear()
    monkeypatch.setattr(environment, "context_class", Counted)
    mail = render.render(submitted_notice(orgs, "Air bersih"), language="id", name="Siti", public_url="https://p.test")
    assert mail.text.startswith("Yth. Siti,\n") and "Air bersih" in mail.subject
    assert made and max(made) <= 4, made


async def test_a_mail_with_a_long_subject_and_markup_in_the_name_reads_right_and_keeps_its_lines_short(orgs, settings):
    title = "Pengelolaan sampah terpadu lintas kabupaten dan kota di kawasan pesisir utara Jawa Barat"
    notice = submitted_notice(orgs, title)
    reader = EmailRecipient(address="budi@jabar.go.id", name="Budi <Kepala Bagian>", language="en")
    content = mail.build_message(notification=notice, recipient=reader, settings=settings)
    assert all(len(line) <= 78 for line in content.split(b"\n"))
    received = email_package.message_from_bytes(content, policy=default_policy)
    expected = render.render(notice, language="en", name=reader.name, public_url=settings.public_url)
    assert received["Subject"] == expected.subject == f"Agreement submitted: {title}"
    assert received["To"] == '"Budi <Kepala Bagian>" <budi@jabar.go.id>'
    assert received["X-Pakta-Event-Id"] == notice.event_id
    assert received.get_body(("plain",)).get_content() == expected.text
    assert received.get_body(("html",)).get_content() == expected.html
    assert "Budi &lt;Kepala Bagian&gt;" in expected.html


async def test_a_mails_bodies_are_encoded_byte_for_byte_as_if_whole_whatever_the_readers_name(orgs, settings):
    # The shared part is encoded once per notice and only the greeting's line per reader.
    notice = submitted_notice(orgs, "Air bersih — lintas batas = pesisir " + "panjang " * 12)
    names = [None, "Siti", "", " ", "Ñoño =", "z" * 90 + " ", '<b>Budi</b> & "Ayu"', "Baris\nkedua", "Ayu\r"]
    for language in ("id", "en"):
        for name in names:
            reader = EmailRecipient(address="siti@jabar.go.id", name=name, language=language)
            content = mail.build_message(notification=notice, recipient=reader, settings=settings).decode()
            whole = render.render(notice, language=language, name=name, public_url=settings.public_url)
            assert mail._UTF8.body_encode(whole.text) in content, (language, name)
            assert mail._UTF8.body_encode(whole.html) in content, (language, name)


# A contact's name is one line of text to a person, but the API takes line breaks in it (as
# in any short text): in the To header each must not end the header, start another or the body.
NAMES_WITH_LINE_BREAKS = [
    "Baris\nkedua",
    "Ayu\r",
    "a\rb",
    "Eve\r\nBcc: victim@evil.test",
    "Eve\nSubject: not ours",
    "Eve\n\nA body of the reader's own",
    "a\r\n.\r\nMAIL FROM:<x@evil.test>",
    "Ñoño\r\nBcc: victim@evil.test",
]


@pytest.mark.parametrize("name", NAMES_WITH_LINE_BREAKS)
async def test_a_readers_name_with_line_breaks_is_one_line_in_the_to_header_and_adds_no_header(orgs, settings, name):
    notice = submitted_notice(orgs, "Air bersih")
    reader = EmailRecipient(address="siti@jabar.go.id", name=name, language="en")
    content = mail.build_message(notification=notice, recipient=reader, settings=settings)
    received = email_package.message_from_bytes(content, policy=default_policy)
    assert not received.defects and received["To"].addresses[0].display_name == " ".join(name.split())
    assert received["To"].addresses[0].addr_spec == "siti@jabar.go.id" and received["Bcc"] is None
    assert received["Subject"] == "Agreement submitted: Air bersih"
    expected = render.render(notice, language="en", name=name, public_url=settings.public_url)
    assert received.get_body(("plain",)).get_content() == expected.text.replace("\r\n", "\n").replace("\r", "\n")


async def test_a_contact_whose_name_would_add_a_bcc_is_mailed_once_and_no_one_else_is(
    settings, sessionmaker, sink: MailSink, orgs
):
    a, _ = orgs
    address = f"eve-{uuid.uuid4().hex[:8]}@{a}.go.id"
    await add_contact(sessionmaker, a, address, ["staff"], name="Eve\r\nBcc: victim@evil.test")
    dispatcher = OutboxDispatcher(fast(settings, sink), sessionmaker)
    events, _ = await submitted(sessionmaker, orgs, wake=dispatcher.wake)
    async with dispatcher.running():
        await until(lambda: _all_sent(sessionmaker, events[0].id, [address]))
    [received] = sink.to(address)
    assert received["To"].addresses[0].display_name == "Eve Bcc: victim@evil.test" and received["Bcc"] is None
    assert not sink.to("victim@evil.test")


# ---------------------------------------------------------------- SMTP connections


async def test_a_burst_of_mail_goes_over_a_few_kept_connections_not_one_per_message(
    settings, sessionmaker, sink: MailSink, orgs
):
    a, _ = orgs
    staff = [f"staf{n}@{a}.go.id" for n in range(12)]
    for address in staff:
        await add_contact(sessionmaker, a, address, ["staff"])
    dispatcher = OutboxDispatcher(fast(settings, sink), sessionmaker)
    events, _ = await submitted(sessionmaker, orgs, wake=dispatcher.wake)
    async with dispatcher.running():
        await until(lambda: _all_sent(sessionmaker, events[0].id, staff))
    assert all(len(sink.to(address)) == 1 for address in staff)
    assert 1 <= dispatcher.mail.opened <= 4  # the pool's size, whatever the burst
    assert len(sink.peers) == dispatcher.mail.opened


async def _all_sent(sessionmaker, event_id: str, addresses: list[str]) -> bool:
    return all([await status_of(sessionmaker, event_id, address, "email") == "sent" for address in addresses])


async def test_a_kept_connection_the_server_dropped_is_replaced_and_the_mail_still_goes(settings):
    first = MailSink().start()
    connections = mail.MailConnections(fast(settings, first))
    try:
        await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
        await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id")
        assert len(first.peers) == 1 and connections.opened == 1
        first.stop()  # the server goes away under the idle connection and comes back
        second = MailSink(first.port).start()
        try:
            await connections.send(note("ayu@jabar.go.id"), to="ayu@jabar.go.id")
        finally:
            second.stop()
    finally:
        await connections.close()
    assert [m["To"] for m in second.messages] == ["ayu@jabar.go.id"]
    assert connections.opened == 2


async def test_a_mail_server_that_is_gone_is_an_outage_to_retry(settings):
    connections = mail.MailConnections(fast(settings))  # port 9: nothing listens
    with pytest.raises(mail.TransientMailError):
        await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
    assert connections.opened == 0


class RefusingServer:
    """A real SMTP server (aiosmtpd) that refuses some recipients: `gone@` for good (550),
    `full@` for now (452); it keeps the envelope of each message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], list[str], int]] = []  # from, to, MAIL options, size
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = started_controller(self, self.port)
        self.port = self._controller.port

    def stop(self) -> None:
        assert self._controller is not None
        self._controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # aiosmtpd's hook
        if address.startswith("gone@"):
            return "550 5.1.1 No such mailbox"
        if address.startswith("full@"):
            return "452 4.2.2 Mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        crlf = envelope.original_content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.envelopes.append((envelope.mail_from, envelope.rcpt_tos, envelope.mail_options, len(crlf)))
        return "250 Message accepted for delivery"


async def test_a_refused_recipient_is_final_a_full_mailbox_is_retried_and_the_next_mail_still_goes(settings):
    server = RefusingServer()
    server.start()
    connections = mail.MailConnections(fast(settings, server))
    try:
        with pytest.raises(mail.PermanentMailError, match="550"):
            await connections.send(note("gone@jabar.go.id"), to="gone@jabar.go.id")
        with pytest.raises(mail.TransientMailError, match="452"):
            await connections.send(note("full@jabar.go.id"), to="full@jabar.go.id")
        await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
    finally:
        await connections.close()
        server.stop()
    [(sender, recipients, options, size)] = server.envelopes
    assert sender == mail.parseaddr(settings.mail_from)[1] and recipients == ["siti@jabar.go.id"]
    assert options == [f"SIZE={size}"]  # the size declared is the size sent


@pytest.mark.parametrize(
    "content",
    [
        b"Subject: no line break at the end\n\nthe last line",
        b"Subject: CRLF already\r\n\r\nbody\r\n",
        b"Subject: a bare CR\n\none\rtwo\n",
        b"Subject: long\n\n" + b"x" * 990 + b"\n.\n..\n",
    ],
    ids=["without a last line break", "with CRLF", "with a bare CR", "with a long line and dots"],
)
async def test_the_size_a_mail_declares_is_the_size_the_server_receives(settings, content):
    server = RefusingServer()
    server.start()
    connections = mail.MailConnections(fast(settings, server))
    try:
        await connections.send(content, to="siti@jabar.go.id")
    finally:
        await connections.close()
        server.stop()
    [(_, _, options, size)] = server.envelopes
    assert options == [f"SIZE={size}"]


# ---------------------------------------------------------------- group commit


async def test_writes_asked_for_during_a_write_go_together_in_the_next_one():
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def write(items: list[int]) -> list[int]:
        batches.append(items)
        if len(batches) == 1:
            await release.wait()
        return [item * 10 for item in items]

    group = GroupWrite(write)
    first = asyncio.create_task(group(1))
    await asyncio.sleep(0)
    others = [asyncio.create_task(group(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 10 and await asyncio.gather(*others) == [20, 30, 40]
    assert batches == [[1], [2, 3, 4]]


async def test_a_failed_write_fails_each_of_its_callers_and_the_next_write_goes_on():
    async def write(items: list[int]) -> list[int]:
        if 0 in items:
            raise RuntimeError("the database is away")
        return items

    group = GroupWrite(write)
    failed = await asyncio.gather(group(0), group(5), return_exceptions=True)
    assert [type(result) for result in failed] == [RuntimeError, RuntimeError]
    assert await group(7) == 7


async def test_a_lingering_write_waits_for_the_callers_on_their_way_and_takes_them_together():
    batches: list[list[int]] = []

    async def write(items: list[int]) -> list[int]:
        batches.append(items)
        return items

    group = GroupWrite(write, linger=60.0)  # longer than the test: only the callers end the wait
    on_their_way = [group.expecting() for _ in range(3)]
    for send in on_their_way:
        send.__enter__()
    calls = []
    for n, send in enumerate(on_their_way):
        send.__exit__(None, None, None)
        if n < 2:  # the third send ends without an outcome to write (a mail refused)
            calls.append(asyncio.create_task(group(n)))
        await asyncio.sleep(0)
    assert await asyncio.wait_for(asyncio.gather(*calls), timeout=30) == [0, 1]
    assert batches == [[0, 1]]


async def test_a_lingering_write_with_nobody_on_the_way_is_written_at_once():
    async def write(items: list[int]) -> list[int]:
        return items

    group = GroupWrite(write, linger=60.0)
    assert await asyncio.wait_for(group(3), timeout=30) == 3


async def test_webhooks_to_many_endpoints_are_each_sent_once_with_the_events_one_body_and_recorded_once(
    settings, sessionmaker, receiver: WebhookReceiver, orgs
):
    a, _ = orgs
    paths = [f"/hook{n}" for n in range(10)]
    receiver.behaviours = dict.fromkeys(paths, ok)
    endpoints = [await add_endpoint(sessionmaker, receiver, a, path) for path in paths]
    dispatcher = OutboxDispatcher(fast(settings), sessionmaker)
    events, state = await submitted(sessionmaker, orgs, wake=dispatcher.wake)
    every_event = [L.events.event_id(state.id, 1), events[0].id, events[1].id]  # created, submitted, gate entered
    async with dispatcher.running():
        await until(lambda: _webhooks_sent(sessionmaker, every_event, [x.id for x in endpoints]))
    assert all(receiver.raw_counts(path) == dict.fromkeys(every_event, 1) for path in paths)
    assert all(r.verified for r in receiver.requests)  # each endpoint's signature over the bytes it got
    # The body is made once per event: every endpoint gets the same bytes, that event's.
    bodies: dict[str, set[bytes]] = {}
    for request in receiver.requests:
        bodies.setdefault(request.msg_id, set()).add(request.body)
    assert sorted(bodies) == sorted(every_event)
    assert all(len(b) == 1 and json.loads(next(iter(b)))["id"] == msg_id for msg_id, b in bodies.items())
    async with session_scope(sessionmaker) as session:
        for endpoint in endpoints:
            attempts = await store.list_attempts(session, endpoint_id=endpoint.id)
            assert sorted((x.attempt, x.status_code) for x in attempts) == [(1, 200)] * 3
            assert all(x.finished_at is not None for x in attempts)


async def _webhooks_sent(sessionmaker, event_ids: list[str], endpoint_ids: list[str]) -> bool:
    statuses = [await status_of(sessionmaker, e, x, "webhook") for e in event_ids for x in endpoint_ids]
    return all(s == "sent" for s in statuses)


class ClaimCounting(OutboxDispatcher):
    """The real dispatcher, noting how many rows each of its claims took."""

    claims: list[int]

    async def _claim(self, limit: int):
        rows = await super()._claim(limit)
        self.claims = [*getattr(self, "claims", []), len(rows)]
        return rows


async def test_a_claim_with_room_to_spare_is_not_followed_by_one_that_finds_nothing(
    settings, sessionmaker, sink: MailSink, orgs
):
    a, _ = orgs
    staff = [f"sekretariat{n}@{a}.go.id" for n in range(3)]
    for address in staff:
        await add_contact(sessionmaker, a, address, ["staff"])
    # Only woken (or the poll, a minute away): every claim after the first would be a wake-up's.
    dispatcher = ClaimCounting(fast(settings, sink, outbox_poll_seconds=60.0), sessionmaker)
    events, _ = await submitted(sessionmaker, orgs, wake=dispatcher.wake)
    async with dispatcher.running():
        await until(lambda: _all_sent(sessionmaker, events[0].id, staff))
    assert dispatcher.claims and all(taken > 0 for taken in dispatcher.claims)
    assert all(len(sink.to(address)) == 1 for address in staff)


class ClaimNoting(OutboxDispatcher):
    """The real dispatcher, keeping the rows its claims took."""

    claimed: list[outbox.OutboxRow]

    async def _claim(self, limit: int):
        rows = await super()._claim(limit)
        self.claimed = [*getattr(self, "claimed", []), *rows]
        return rows


async def test_an_events_mails_come_from_its_stored_notice_parsed_once_for_all_its_readers(
    settings, sessionmaker, sink: MailSink, orgs
):
    a, _ = orgs
    staff = [f"staf{n}@{a}.go.id" for n in range(3)]
    for address in staff:
        await add_contact(sessionmaker, a, address, ["staff"], name=f"Staf {address[4]}")
    dispatcher = ClaimNoting(fast(settings, sink), sessionmaker)
    events, _ = await submitted(sessionmaker, orgs, wake=dispatcher.wake)
    async with dispatcher.running():
        await until(lambda: _all_sent(sessionmaker, events[0].id, staff))
    mails = [row for row in dispatcher.claimed if row.channel == "email" and row.recipient in staff]
    # A claimed mail carries its notice and reader as stored, undecoded; the event's three
    # readers share one notice text, parsed once and kept by it.
    assert len(mails) == 3 and all(row.payload == {} for row in mails)
    (notice_text,) = {row.notice_json for row in mails}
    assert notice_text is not None
    kept = dispatcher._notices[notice_text]
    async with session_scope(sessionmaker) as session:
        stored = (await session.execute(select(Delivery.payload).where(Delivery.event_id == events[0].id))).scalars()
        payloads = [p for p in stored if p and p.get("recipient", {}).get("address") in staff]
    assert {json.dumps(p["notification"], sort_keys=True) for p in payloads} == {
        json.dumps(kept.model_dump(mode="json"), sort_keys=True)
    }
    # Each mail reads as one built from the decoded payload: its subject and its reader's greeting.
    for payload in payloads:
        reader = EmailRecipient.model_validate(payload["recipient"])
        expected = render.render(
            Notification.model_validate(payload["notification"]),
            language=reader.language,
            name=reader.name,
            public_url=dispatcher.settings.public_url,
            time_zone=reader.time_zone,
        )
        (got,) = sink.to(reader.address)
        assert got["Subject"] == expected.subject
        assert got.get_body(("plain",)).get_content().replace("\r\n", "\n") == expected.text
