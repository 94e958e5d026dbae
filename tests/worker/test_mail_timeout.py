"""`PAKTA_SMTP_TIMEOUT_SECONDS` bounds each reply of the mail server, and the time from a
mail's claim until its content leaves — against a hand-written server that answers every
command in time for the reply timeout but is slow over a whole mail, and the real
dispatcher on a database of its own. Without that bound, a mail claimed with others that
waited for a connection behind a slow server could be sent after its claim's lease ran
out, when another dispatcher may have claimed it and sent it as well."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.settings import Settings
from services.store.db import session_scope
from services.worker.activities.notify import NotifyActivities, delivery_policy, mail_lease
from services.worker.channels import email as mail
from services.worker.dispatcher import OutboxDispatcher
from tests.worker import test_delivery
from tests.worker.server_clock import ServerClock
from tests.worker.test_delivery import add_contact, delivery, fast
from tests.worker.test_mail_pipelining import LoopbackServer
from tests.worker.test_notification_costs import note
from tests.worker.test_outbox import submitted, until
from workflows.contracts import notify as c

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Unhurried(LoopbackServer):
    """An SMTP server on 127.0.0.1, offering PIPELINING or not, that greets and answers
    EHLO `greeting` seconds after a connection and EHLO (at once by default), then answers
    each command of a mail — MAIL, RCPT, DATA, the content's end — `pause` seconds after
    reading it (or only the content's end, `after_the_content`: `pause` taking the mail). It
    counts the mails it took (a content cut off by a closed connection is not one), the
    contents it read whole (`received`) and the RSETs, and keeps each RCPT line it read.
    `gone_after_content`: on a connection's mail of that number (1: its first), the server
    reads the content whole and closes the connection without a reply — a mail it may have
    taken, as far as the client can know. `gone_after_setup`: it closes each connection once
    it answered EHLO, as a server dropping idle clients at once."""

    def __init__(
        self,
        pause: float,
        *,
        pipelining: bool = False,
        greeting: float = 0.0,
        after_the_content: float = 0.0,
        gone_after_content: int = 0,
        gone_after_setup: bool = False,
        clock: ServerClock | None = None,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.pause, self.pipelining, self.greeting = pause, pipelining, greeting
        self.after_the_content, self.gone_after_content = after_the_content, gone_after_content
        self.gone_after_setup = gone_after_setup
        self.taken = self.received = self.rsets = 0
        self.recipients: list[bytes] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._pause(self.greeting)
        writer.write(b"220 unhurried ESMTP\r\n")
        mails = 0  # on this connection
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    await self._pause(self.greeting)
                    writer.write(
                        b"250-unhurried\r\n" + (b"250-PIPELINING\r\n" if self.pipelining else b"") + b"250 8BITMIME\r\n"
                    )
                    if self.gone_after_setup:
                        await writer.drain()
                        writer.close()
                        return
                elif verb == b"RSET":
                    self.rsets += 1
                    writer.write(b"250 OK\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 Bye\r\n")
                    return
                elif verb in (b"MAIL", b"RCPT", b"DATA"):
                    if verb == b"RCPT":
                        self.recipients.append(line)
                    await self._pause(self.pause)
                    writer.write(b"354 Go\r\n" if verb == b"DATA" else b"250 OK\r\n")
                    if verb == b"DATA":
                        await writer.drain()
                        while (content := await reader.readline()) != b".\r\n":
                            if not content:
                                return
                        self.received += 1
                        mails += 1
                        if mails == self.gone_after_content:
                            writer.close()
                            return
                        await self._pause(self.pause + self.after_the_content)
                        self.taken += 1
                        writer.write(b"250 Queued\r\n")
                else:
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        writer.close()

    async def _pause(self, seconds: float) -> None:
        await (self.clock.pause(seconds) if self.clock else asyncio.sleep(seconds))


async def test_a_mail_whose_envelope_took_past_its_time_is_an_outage_its_envelope_reset_on_the_connection_kept(
    settings,
):
    """One command at a time, MAIL and RCPT answered 0.6 s apart, each within the 1 s
    timeout, on a connection set up beforehand: DATA would go 1.2 s after the call. It does
    not, and the envelope alone took longer than a try has — an outage, not a mail that was
    late only for its wait. The envelope is reset with RSET and the connection kept: the
    next mail goes on it."""
    with ServerClock().installed() as clock:  # the server's pauses are the only time that passes
        async with Unhurried(pause=0.6, clock=clock).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port, smtp_timeout_seconds=1.0))
            try:
                await connections.open()
                with pytest.raises(mail.TransientMailError, match="in time") as raised:
                    await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
                assert not isinstance(raised.value, mail.MailNotBegun)
                server.pause = 0.0
                await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id")
            finally:
                await connections.close()
    assert (server.received, server.taken, server.rsets, connections.opened) == (1, 1, 1, 1)


async def test_a_pipelined_mail_whose_replies_outlast_its_time_and_one_reply_more_is_dropped_with_its_connection(
    settings,
):
    """Pipelined on a connection set up beforehand, MAIL, RCPT and DATA answered 1.4 s apart
    at a 2 s timeout: DATA's 354 comes 4.2 s after the call, past the mail's time and the
    one reply the lease has after it. The content never leaves; past the 354, only closing
    the connection drops the envelope, and the next mail goes on a new one."""
    with ServerClock().installed() as clock:  # the server's pauses are the only time that passes
        async with Unhurried(pause=1.4, pipelining=True, clock=clock).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port, smtp_timeout_seconds=2.0))
            try:
                await connections.open()
                with pytest.raises(mail.TransientMailError, match="in time") as raised:
                    await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
                assert not isinstance(raised.value, mail.MailNotBegun)  # its own replies took longer than a try has
                server.pause = 0.0
                await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id")
            finally:
                await connections.close()
    assert (server.received, server.taken, connections.opened) == (1, 1, 2)


async def test_a_pipelined_mail_dropped_past_its_354_only_for_its_wait_is_not_begun(settings):
    """Pipelined on a connection set up beforehand, a mail claimed 1.8 s ago (its time is up
    0.2 s from now, at a 2 s timeout): MAIL, RCPT and DATA answered 0.8 s apart, DATA's 354
    2.4 s after the call — past the claim's 4 s for the content to leave, so the connection
    is closed with the content unsent and the server delivers nothing. The three replies
    took less than the 4 s a try that starts at its claim has: the mail was late only for
    its wait, as a reset envelope is — not begun, its attempt not counted — where it was
    counted as a failed try, a step nearer being given up. (The replies cannot come sooner
    than the server's pauses; a busy machine has 1.6 s before they take longer than a try.)"""
    with ServerClock().installed() as clock:  # the server's pauses are the only time that passes
        async with Unhurried(pause=0.8, pipelining=True, clock=clock).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port, smtp_timeout_seconds=2.0))
            try:
                await connections.open()
                by = asyncio.get_running_loop().time() + 0.2
                with pytest.raises(mail.MailNotBegun, match="content unsent"):
                    await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id", by=by)
                server.pause = 0.0
                await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id")
            finally:
                await connections.close()
    assert (server.received, server.taken, connections.opened) == (1, 1, 2)
    assert server.recipients == [b"RCPT TO:<siti@jabar.go.id>\r\n", b"RCPT TO:<budi@jabar.go.id>\r\n"]


async def test_a_pipelined_mail_whose_three_replies_come_within_its_time_and_one_reply_more_is_sent(settings):
    """Pipelined on a connection set up beforehand, MAIL, RCPT and DATA answered 0.8 s apart
    at a 2 s timeout: DATA's 354 comes 2.4 s after the call. One command at a time, DATA
    would not have been sent after 2 s, and its 354 could have come 2 s later still; here
    only the content's reply follows, which the lease has room for. Checked at 2 s (before),
    the mail was refused one reply early — and was so on every try."""
    with ServerClock().installed() as clock:  # the server's pauses are the only time that passes
        async with Unhurried(pause=0.8, pipelining=True, clock=clock).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port, smtp_timeout_seconds=2.0))
            try:
                await connections.open()
                await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
            finally:
                await connections.close()
    assert server.taken == 1 and connections.opened == 1


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one command at a time"])
async def test_a_mail_late_only_for_its_new_connections_setup_is_reset_not_begun_and_goes_on_that_connection(
    settings, pipelining
):
    """The greeting and EHLO 0.7 s each, MAIL and RCPT 0.4 s (DATA and the content's end too),
    every reply within the 2 s timeout: the setup (1.4 s) and the envelope (0.8 s) each fit
    the mail's time, together they do not. The envelope is reset and the connection kept:
    the mail is not begun (its envelope alone fit a try), and on that connection it goes.
    Closed, every try opened one as slow, was as late, and no mail ever went."""
    with ServerClock().installed() as clock:  # the server's pauses are the only time that passes
        async with Unhurried(pause=0.4, pipelining=pipelining, greeting=0.7, clock=clock).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port, smtp_timeout_seconds=2.0))
            try:
                with pytest.raises(mail.MailNotBegun):
                    await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
                await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
            finally:
                await connections.close()
    assert (server.received, server.taken, server.rsets, connections.opened) == (1, 1, 1, 1)


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one command at a time"])
async def test_a_mail_whose_kept_connection_was_lost_after_its_content_left_is_not_sent_again_on_a_new_one(
    settings, pipelining
):
    """The server reads the second mail of a connection whole and closes the connection
    without a reply: it may have taken the mail. That is no idle connection's drop, which is
    tried once more on a new connection — the mail is an outage for its attempt, sent once.
    Before, it was sent again at once: two copies in one attempt."""
    with ServerClock().installed() as clock:  # the server's pauses are the only time that passes
        async with Unhurried(pause=0.0, pipelining=pipelining, gone_after_content=2, clock=clock).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port, smtp_timeout_seconds=2.0), size=1)
            try:
                await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
                with pytest.raises(mail.TransientMailError):
                    await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id")
            finally:
                await connections.close()
    assert (server.received, server.taken, connections.opened) == (2, 1, 1)


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one command at a time"])
async def test_a_server_whose_setup_and_envelope_together_outlast_the_mail_timeout_gets_it_on_its_first_attempt(
    settings, sessionmaker, orgs, pipelining
):
    """The real dispatcher, the server of the test above: the first claim's try is late for
    its new connection's setup, reset and released not begun (due again at once, its
    attempt given back); the next claim sends it on the connection kept."""
    a, _ = orgs
    await add_contact(sessionmaker, a, f"siti@{a}.go.id", ["staff"])
    events, _ = await submitted(sessionmaker, orgs)
    async with Unhurried(pause=0.4, pipelining=pipelining, greeting=0.7).running() as server:
        config = fast(settings, smtp_port=server.port, smtp_timeout_seconds=2.0)
        async with OutboxDispatcher(config, sessionmaker).running() as dispatcher:
            await until(lambda: _all_sent(sessionmaker, events[0].id, [f"siti@{a}.go.id"]), timeout=20.0)
    row = await delivery(sessionmaker, events[0].id, f"siti@{a}.go.id", "email")
    assert row["attempts"] == 1
    assert (server.received, server.taken, server.rsets, dispatcher.mail.opened) == (1, 1, 1, 1)


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one command at a time"])
async def test_a_mail_server_slow_to_greet_gets_the_mail_on_the_connection_its_first_try_opened(settings, pipelining):
    """The greeting and EHLO 0.6 s each, MAIL, RCPT and DATA 0.2 s, every reply within the
    1 s timeout: a mail on a new connection is past its time once it is set up, one on a
    connection already set up is not. The first try's connection is kept
    for the next; closed with it, every try would open one as slow and no mail would ever go."""
    with ServerClock().installed() as clock:  # the server's pauses are the only time that passes
        async with Unhurried(pause=0.2, pipelining=pipelining, greeting=0.6, clock=clock).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port, smtp_timeout_seconds=1.0))
            try:
                with pytest.raises(mail.MailNotBegun):  # nothing of it reached the server
                    await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
                await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
            finally:
                await connections.close()
    assert server.taken == 1 and connections.opened == 1 and server.recipients == [b"RCPT TO:<siti@jabar.go.id>\r\n"]


async def test_a_mail_still_waiting_for_a_connection_when_its_time_is_up_never_reaches_the_server(settings):
    """One connection, busy with a first mail for 1.2 s; a second mail whose content may not
    leave after 0.3 s from now gives up and is retried later — never half sent."""
    with ServerClock().installed() as clock:  # the server's pauses are the only time that passes
        async with Unhurried(pause=0.3, clock=clock).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port, smtp_timeout_seconds=5.0), size=1)
            try:
                first = asyncio.create_task(connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id"))
                await asyncio.sleep(0)  # the first takes the connection
                by = asyncio.get_running_loop().time() + 0.3
                with pytest.raises(mail.MailNotBegun):
                    await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id", by=by)
                await first
            finally:
                await connections.close()
    assert server.taken == 1 and server.recipients == [b"RCPT TO:<siti@jabar.go.id>\r\n"]


async def test_a_mail_server_slower_than_the_mail_timeout_gets_the_mail_retried_not_sent_late(
    settings, sessionmaker, orgs
):
    a, _ = orgs
    await add_contact(sessionmaker, a, f"siti@{a}.go.id", ["staff"])
    events, _ = await submitted(sessionmaker, orgs)
    async with Unhurried(pause=0.3).running() as server:
        config = fast(settings, smtp_port=server.port, smtp_timeout_seconds=0.5)
        async with OutboxDispatcher(config, sessionmaker).running():
            await until(lambda: _attempted(sessionmaker, events[0].id, f"siti@{a}.go.id", times=2))
    row = await delivery(sessionmaker, events[0].id, f"siti@{a}.go.id", "email")
    assert row["status"] == "pending" and "in time" in row["last_error"]
    assert server.taken == 0


async def test_an_old_notify_workflows_mail_behind_a_slow_server_is_retried_not_sent_after_its_time(
    settings, sessionmaker, orgs
):
    """The activity old agreements' NotifyWorkflows and the digest run, on a connection of
    its own: MAIL and RCPT 0.3 s each, within the 0.5 s timeout, but the content would leave
    past the timeout from the claim — and, against a server as slow at every step of a
    STARTTLS and a login, past the lease and the attempt's start-to-close, when Temporal's
    next attempt claims the mail and sends it too."""
    letter = await _a_letter(settings, sessionmaker, orgs)
    async with Unhurried(pause=0.3).running() as server:
        activities = NotifyActivities(fast(settings, smtp_port=server.port, smtp_timeout_seconds=0.5), sessionmaker)
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(activities.deliver_email, letter)
    assert raised.value.type == "email_unavailable" and "in time" in str(raised.value)
    assert server.taken == 0
    row = await delivery(sessionmaker, letter.notification.event_id, letter.recipient.address, "email")
    assert row["status"] == "sending" and row["claimed_until"] is None and "in time" in row["last_error"]


async def test_an_old_notify_workflows_mail_to_a_server_slow_to_greet_is_sent_its_setup_before_its_claim(
    settings, sessionmaker, orgs
):
    letter = await _a_letter(settings, sessionmaker, orgs)
    async with Unhurried(pause=0.1, greeting=0.6).running() as server:
        activities = NotifyActivities(fast(settings, smtp_port=server.port, smtp_timeout_seconds=1.0), sessionmaker)
        assert (await ActivityEnvironment().run(activities.deliver_email, letter)).outcome == "sent"
    assert server.taken == 1


async def _a_letter(settings, sessionmaker, orgs):
    events, state = test_delivery.submitted(orgs)
    plan = await ActivityEnvironment().run(
        NotifyActivities(settings, sessionmaker).plan_deliveries,
        c.PlanInput(agreement_id=state.id, events=events, state=state),
    )
    staff = next(n for n in plan.notifications if n.audience.key == f"{orgs[0]}/staff/*")
    return c.DeliverEmailInput(notification=staff, recipient=c.EmailRecipient(address=f"siti@{orgs[0]}.go.id"))


async def _attempted(sessionmaker, event_id: str, recipient: str, *, times: int) -> bool:
    row = await delivery(sessionmaker, event_id, recipient, "email")
    return row is not None and row["attempts"] >= times


async def test_the_mail_timeout_is_a_setting_and_the_claims_lease_and_the_attempts_follow_it(monkeypatch):
    monkeypatch.setenv("PAKTA_SMTP_TIMEOUT_SECONDS", "12")
    settings = Settings()
    assert settings.smtp_timeout_seconds == 12
    assert delivery_policy(settings).email_attempt_seconds == 12 * 4 + 5 > mail_lease(12).total_seconds()
    assert mail.MailConnections(settings).timeout == 12
    for unusable in ("0", "0.5", "-1", "3601", "nan", "inf", "forever"):
        monkeypatch.setenv("PAKTA_SMTP_TIMEOUT_SECONDS", unusable)
        with pytest.raises(ValueError, match="smtp_timeout_seconds"):
            Settings()


async def test_the_delivery_backoff_and_give_up_settings_refuse_what_no_due_time_can_reach(monkeypatch):
    """A give-up of `inf` hours (meant as "never"), or of a million years, could not be
    added to a delivery's time: every failed try of every mail and webhook raised, its
    outcome never written, the row claimed again at every lease's end, for ever. So could a
    wait of `inf`. Each is refused when the settings are read, naming the setting."""
    for name, unusable in [
        ("DELIVERY_GIVE_UP_HOURS", "inf"),
        ("DELIVERY_GIVE_UP_HOURS", "1e10"),
        ("DELIVERY_RETRY_MAX_SECONDS", "inf"),
        ("DELIVERY_RETRY_MAX_SECONDS", "1e15"),
        ("DELIVERY_RETRY_INITIAL_SECONDS", "inf"),
    ]:
        monkeypatch.setenv(f"PAKTA_{name}", unusable)
        with pytest.raises(ValueError, match=name.lower()):
            Settings()
        monkeypatch.delenv(f"PAKTA_{name}")
    # A give-up of ten years and waits of up to a year still are settings.
    monkeypatch.setenv("PAKTA_DELIVERY_GIVE_UP_HOURS", "87600")
    monkeypatch.setenv("PAKTA_DELIVERY_RETRY_MAX_SECONDS", "31536000")
    policy = delivery_policy(Settings())
    assert policy.give_up_seconds == 87600 * 3600 and policy.maximum_interval_seconds == 31536000


async def test_a_mails_claim_outlasts_its_time_to_go_the_replies_after_it_and_the_outcomes_record(
    settings, sessionmaker
):
    dispatcher = OutboxDispatcher(fast(settings, smtp_timeout_seconds=8.0), sessionmaker)
    assert dispatcher._leases["email"] == mail_lease(8.0) == timedelta(seconds=8.0 + 2 * 8.0 + 2)


async def test_mails_queued_behind_a_slow_servers_connections_are_sent_each_on_its_first_counted_attempt(
    settings, sessionmaker, orgs
):
    """Twelve mails claimed at once, four connections, each mail 0.6 s at the server (its
    content's reply), 1 s for a mail to begin: the third round waits past its time. Those
    mails never reached the server, so they are due again at once, their attempt not
    counted — not retried after a backoff as a failed attempt, nearer being given up."""
    a, _ = orgs
    readers = [f"staf{n}@{a}.go.id" for n in range(12)]
    for address in readers:
        await add_contact(sessionmaker, a, address, ["staff"])
    events, _ = await submitted(sessionmaker, orgs)
    async with Unhurried(pause=0.0, after_the_content=0.6).running() as server:
        config = fast(settings, smtp_port=server.port, smtp_timeout_seconds=1.0, delivery_retry_initial_seconds=30)
        async with OutboxDispatcher(config, sessionmaker).running():
            await until(lambda: _all_sent(sessionmaker, events[0].id, readers))
    rows = [await delivery(sessionmaker, events[0].id, address, "email") for address in readers]
    assert [row["attempts"] for row in rows] == [1] * 12
    assert server.taken == 12


async def _all_sent(sessionmaker, event_id: str, recipients: list[str]) -> bool:
    for recipient in recipients:
        row = await delivery(sessionmaker, event_id, recipient, "email")
        if row is None or row["status"] != "sent":
            return False
    return True


async def test_a_mail_never_begun_for_the_give_up_hours_is_given_up_not_released_for_ever(settings, sessionmaker, orgs):
    """A server slower to set up than the 1 s mail timeout that drops each connection once
    set up: every try of the mail waits for a new connection past its time and never
    begins. Released as not begun each time, it was due again for ever — never counted,
    never given up, a new connection a try; past `PAKTA_DELIVERY_GIVE_UP_HOURS` (here 3 s)
    it is given up, as a mail failing as long is."""
    a, _ = orgs
    await add_contact(sessionmaker, a, f"siti@{a}.go.id", ["staff"])
    events, _ = await submitted(sessionmaker, orgs)
    async with Unhurried(pause=0.0, greeting=0.6, gone_after_setup=True).running() as server:
        config = fast(settings, smtp_port=server.port, smtp_timeout_seconds=1.0, delivery_give_up_hours=3 / 3600)
        async with OutboxDispatcher(config, sessionmaker).running():
            await until(lambda: _given_up(sessionmaker, events[0].id, f"siti@{a}.go.id"), timeout=20.0)
    row = await delivery(sessionmaker, events[0].id, f"siti@{a}.go.id", "email")
    assert row["attempts"] == 1 and "waited for a connection" in row["last_error"]
    assert server.received == 0 and server.recipients == []


class Counted(Unhurried):
    """`Unhurried`, counting the connections made to it."""

    connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await super()._serve(reader, writer)


async def test_a_mail_never_begun_try_after_try_is_due_later_each_time_not_at_every_poll(settings, sessionmaker, orgs):
    """A server slower to set up than the 0.5 s mail timeout (0.6 s) that drops each
    connection once set up: no try of the mail ever begins. Due again at once every time, it
    was tried at every poll that found it, a new connection each. The first release keeps it
    due at once; each one after puts it later, by the retry interval (1 s) doubling from the
    dispatcher's own clock, never past the give-up time (40 s after the mail was written),
    where it is given up. The test moves that clock on itself, so the due times are exact
    and the mail is tried only when the test says it is due, however slow the machine."""
    a, _ = orgs
    address = f"siti@{a}.go.id"
    await add_contact(sessionmaker, a, address, ["staff"])
    events, _ = await submitted(sessionmaker, orgs)
    written = await delivery(sessionmaker, events[0].id, address, "email")
    give_up_at = written["created_at"] + timedelta(seconds=40)
    start = datetime.now(UTC)
    moment = [start]
    async with Counted(pause=0.0, greeting=0.3, gone_after_setup=True).running() as server:
        config = fast(
            settings,
            smtp_port=server.port,
            smtp_timeout_seconds=0.5,
            delivery_retry_initial_seconds=1.0,
            delivery_retry_max_seconds=60.0,
            delivery_give_up_hours=40 / 3600,
            outbox_poll_seconds=0.1,
        )
        async with OutboxDispatcher(config, sessionmaker, clock=lambda: moment[0]).running():
            dues = []  # (releases so far, due time) as each release from the second left the row
            for unbegun in range(2, 8):  # the first is followed at once by the second: not watched
                row = await until(lambda n=unbegun: _released(sessionmaker, events[0].id, address, times=n))
                assert server.connections == unbegun  # tried only when due, once each time
                dues.append((row["unbegun"], row["due_at"]))
                moment[0] = row["due_at"]  # the dispatcher's time reaches the mail's due time
            await until(lambda: _given_up(sessionmaker, events[0].id, address))
    # Two tries at the clock's start (the first release kept it due), then 1, 2, 4, 8 and
    # 16 s after each try.
    seconds = [(due - start).total_seconds() for _, due in dues[:5]]
    assert seconds == [1.0, 3.0, 7.0, 15.0, 31.0], seconds
    assert dues[5] == (7, give_up_at)  # 32 s after 31 s is past the give-up: due at it
    assert server.connections == 8 and server.received == 0
    row = await delivery(sessionmaker, events[0].id, address, "email")
    assert (row["status"], row["attempts"]) == ("failed", 1)  # the one counted try is the give-up's


async def _released(sessionmaker, event_id: str, recipient: str, *, times: int) -> dict | None:
    row = await delivery(sessionmaker, event_id, recipient, "email")
    if row is not None and row["unbegun"] > times:
        raise AssertionError(f"released {row['unbegun']} times, where {times} were due")
    return row if row is not None and row["unbegun"] == times else None


async def _given_up(sessionmaker, event_id: str, recipient: str) -> bool:
    row = await delivery(sessionmaker, event_id, recipient, "email")
    return row is not None and row["status"] == "failed"


@pytest.mark.parametrize("tried", ["never begun", "begun and failed"])
async def test_a_mail_tried_more_than_a_thousand_times_in_a_row_waits_the_maximum_not_an_overflow(
    settings, sessionmaker, orgs, tried
):
    """A maximum interval of seconds and a give-up of days allow thousands of tries in a row
    (60 s and 72 h: 4,320). The wait after the 1,025th was the initial interval times 2 to
    the 1,024th, more than a float holds: an OverflowError, the outcome never written, the
    row left claimed and claimed again once its lease ran out, an error each time — and past
    the give-up time too, its attempts as many, so never given up. It waits the maximum."""
    a, _ = orgs
    address = f"siti@{a}.go.id"
    await add_contact(sessionmaker, a, address, ["staff"])
    events, _ = await submitted(sessionmaker, orgs)
    column = "unbegun" if tried == "never begun" else "attempts"
    async with session_scope(sessionmaker) as session:
        await session.execute(
            text(f"UPDATE deliveries SET {column} = 1100 WHERE event_id = :event AND recipient = :address"),
            {"event": events[0].id, "address": address},
        )
    moment = datetime.now(UTC)
    # Never begun: a server slower to set up than the timeout. Begun: nothing listens on port 9.
    server = Counted(pause=0.0, greeting=0.3, gone_after_setup=True)
    async with server.running():
        config = fast(
            settings,
            smtp_port=server.port if tried == "never begun" else 9,
            smtp_timeout_seconds=0.5,
            delivery_retry_initial_seconds=10.0,
            delivery_retry_max_seconds=60.0,
            outbox_poll_seconds=0.1,
        )
        async with OutboxDispatcher(config, sessionmaker, clock=lambda: moment).running():
            row = await until(lambda: _moved(sessionmaker, events[0].id, address), timeout=15.0)
    assert row[column] == 1101  # one more release never begun, or one more try counted
    assert row["due_at"] == moment + timedelta(seconds=60) and row["claimed_until"] is None
    assert row["status"] == "pending"


async def _moved(sessionmaker, event_id: str, recipient: str) -> dict | None:
    """The row once an outcome moved its due time."""
    row = await delivery(sessionmaker, event_id, recipient, "email")
    return row if row is not None and row["due_at"] > row["created_at"] + timedelta(seconds=30) else None
