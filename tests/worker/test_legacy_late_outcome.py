"""The delivery activity of the NotifyWorkflows still running and of the digest records a
failed try only while the row is still its claim's — against the real activities, the
embedded PostgreSQL and a hand-written SMTP server. A try whose outcome comes after its
lease ran out (here: it waited for its worker's one database connection) may find the
claim of Temporal's next attempt there, still sending: freed, a third execution would have
claimed and sent the mail too; marked failed, a mail being delivered was recorded as given
up."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from prometheus_client import REGISTRY
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.store import notifications as store
from services.store.db import create_engine, create_sessionmaker, session_scope
from services.worker.activities.notify import NotifyActivities, mail_lease
from tests.worker.test_delivery import delivery, fast, lease_ended
from tests.worker.test_mail_pipelining import LoopbackServer
from tests.worker.test_mail_timeout import _a_letter

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Doorman(LoopbackServer):
    """An SMTP server on 127.0.0.1, one command at a time, whose n-th connection's MAIL is
    answered once `at_mail[n]` (a coroutine function) has returned, and its RCPT with
    `rcpt[n]`. It counts the mails it took."""

    def __init__(self, at_mail, rcpt) -> None:
        super().__init__()
        self.at_mail, self.rcpt = at_mail, rcpt
        self.connections = self.taken = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n, self.connections = self.connections, self.connections + 1
        writer.write(b"220 doorman ESMTP\r\n")
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-doorman\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL":
                    await self.at_mail[n]()
                    writer.write(b"250 OK\r\n")
                elif verb == b"RCPT":
                    writer.write(self.rcpt[n])
                elif verb == b"DATA":
                    writer.write(b"354 Go\r\n")
                    await writer.drain()
                    while (content := await reader.readline()) != b".\r\n":
                        if not content:
                            return
                    self.taken += 1
                    writer.write(b"250 Queued\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 Bye\r\n")
                    return
                else:
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        writer.close()


def _superseded_count() -> float:
    return (
        REGISTRY.get_sample_value("pakta_notifications_delivered_total", {"channel": "email", "outcome": "superseded"})
        or 0.0
    )


@pytest.mark.parametrize(
    ("refusal", "as_what"), [(b"451 Try later\r\n", "a failure"), (b"550 No such user\r\n", "a give-up")]
)
async def test_an_old_activitys_late_failure_leaves_the_next_attempts_claim_and_its_sent_alone(
    settings, sessionmaker, orgs, refusal, as_what
):
    """The first attempt's mail is refused at once (451: retried; 550: given up), but its
    worker's one database connection is busy, so it records that only after its lease ran
    out — when the second attempt has claimed the row and is sending it. The late outcome
    writes nothing: the second's lease still keeps a third execution off, the second marks
    the mail sent, and the server gets it once."""
    letter = await _a_letter(settings, sessionmaker, orgs)
    event_id, address = letter.notification.event_id, letter.recipient.address
    # The first worker: one pooled connection, which the server takes while the first
    # attempt's mail is at it (its claim done), and gives back only when the test says so.
    first_engine = create_engine(settings, pool_size=1, max_overflow=0, pool_timeout=60)
    async with first_engine.connect():  # set up before, not in the first attempt's time
        pass
    held: list = []
    first_at_the_server, second_claimed, second_may_go = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def hold_the_first_workers_connection() -> None:
        held.append(await first_engine.connect())
        first_at_the_server.set()

    async def the_second_is_sending() -> None:
        second_claimed.set()
        await second_may_go.wait()

    server = Doorman([hold_the_first_workers_connection, the_second_is_sending], [refusal, b"250 OK\r\n"])
    superseded_before = _superseded_count()
    try:
        async with server.running():
            # Mail timeouts no step here waits out: the server answers each command once the
            # test lets it, however slow the machine; a short one would make a slow answer a
            # timeout, which is not the outcome under test. The first's lease is ended below.
            first = NotifyActivities(
                fast(settings, smtp_port=server.port, smtp_timeout_seconds=60.0), create_sessionmaker(first_engine)
            )
            second = NotifyActivities(fast(settings, smtp_port=server.port, smtp_timeout_seconds=60.0), sessionmaker)
            late = asyncio.create_task(ActivityEnvironment().run(first.deliver_email, letter))
            # The first's claim made, its mail at the server: then its lease runs out (ended by
            # the test, as its time would; a sleep begun before the claim could end before it).
            await asyncio.wait_for(first_at_the_server.wait(), 60)
            await lease_ended(sessionmaker, event_id, address, "email")
            assert not late.done()  # its outcome still waits for a connection
            sending = asyncio.create_task(ActivityEnvironment().run(second.deliver_email, letter))
            await asyncio.wait_for(second_claimed.wait(), 10)

            await held.pop().close()  # the first records its outcome now, late
            with pytest.raises(ApplicationError) as raised:
                await late
            row = await delivery(sessionmaker, event_id, address, "email")
            assert (row["status"], row["attempts"], row["last_error"]) == ("sending", 2, None), as_what
            assert row["claimed_until"] is not None, "the second attempt's claim was freed"
            assert raised.value.type == "delivery_superseded" and not raised.value.non_retryable, as_what
            assert _superseded_count() == superseded_before + 1
            async with session_scope(sessionmaker) as session:
                third = await store.claim_delivery(
                    session,
                    event_id=event_id,
                    recipient=address,
                    channel="email",
                    agreement_id="-",
                    lease=mail_lease(10),
                )
            assert third.status == "busy"

            second_may_go.set()
            assert (await sending).outcome == "sent"
    finally:
        await first_engine.dispose()
    row = await delivery(sessionmaker, event_id, address, "email")
    assert row["status"] == "sent" and server.taken == 1
