"""Mail to a server that offers PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write,
their replies read in order, then the content — against real aiosmtpd servers (which read
pipelined commands in order), one that does not offer it, a loopback relay between client
and server that records what the client wrote and hands the server's replies back one byte
at a time, and a hand-written server that takes DATA after refusing the only recipient."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Self

import aiosmtplib
import pytest

from services.embedded.ports import free_port
from services.worker.channels import email as mail
from services.worker.channels.pipelining import PipelinedReplies
from tests.certificates import self_signed_server
from tests.fixtures.ports import started_controller
from tests.receivers import MailSink, offering_pipelining
from tests.worker.server_clock import ServerClock
from tests.worker.test_delivery import fast
from tests.worker.test_notification_costs import note

pytestmark = pytest.mark.asyncio(loop_scope="session")


class LoopbackServer:
    """A TCP server on 127.0.0.1 for the length of `running()`, each connection served by
    `_serve` in a task of its own; the tasks still running are cancelled when it stops."""

    def __init__(self) -> None:
        self.port = 0
        self._connections: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for connection in self._connections:
                connection.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class Relay(LoopbackServer):
    """A TCP relay on 127.0.0.1 between the client and a server: `writes` holds each chunk
    the client wrote (each of its socket writes, on loopback, arrives whole); the server's
    replies go back to the client one byte per write when `trickle` is set."""

    def __init__(self, upstream_port: int, *, trickle: bool = False) -> None:
        super().__init__()
        self.upstream_port, self.trickle = upstream_port, trickle
        self.writes: list[bytes] = []

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        await self._pump(client_in, client_out)

    async def _pump(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def to_server() -> None:
            while chunk := await client_in.read(65536):
                self.writes.append(chunk)
                server_out.write(chunk)
                await server_out.drain()
            server_out.close()

        async def to_client() -> None:
            while chunk := await server_in.read(65536):
                for piece in [chunk[i : i + 1] for i in range(len(chunk))] if self.trickle else [chunk]:
                    client_out.write(piece)
                    await client_out.drain()
            client_out.close()

        await asyncio.gather(to_server(), to_client(), return_exceptions=True)

    def commands_of_each_mail(self) -> list[list[bytes]]:
        """The client's writes from its first MAIL on, one list per mail (up to each content's end)."""
        start = next(i for i, chunk in enumerate(self.writes) if chunk.startswith(b"MAIL"))
        mails: list[list[bytes]] = [[]]
        for chunk in self.writes[start:]:
            if chunk.startswith(b"QUIT"):
                break
            mails[-1].append(chunk)
            if chunk.endswith(b"\r\n.\r\n"):
                mails.append([])
        return [m for m in mails if m]


@pytest.mark.parametrize("trickle", [False, True], ids=["replies as written", "replies one byte at a time"])
async def test_a_server_offering_pipelining_gets_each_mails_envelope_in_one_write_and_its_content_in_another(
    settings, trickle
):
    sink = MailSink().start()
    try:
        async with Relay(sink.port, trickle=trickle).running() as relay:
            connections = mail.MailConnections(fast(settings, sink, smtp_port=relay.port))
            for address in ("siti@jabar.go.id", "budi@jabar.go.id", "ayu@jabar.go.id"):
                await connections.send(note(address), to=address)
            await connections.close()
    finally:
        sink.stop()
    assert [m["X-Envelope-To"] for m in sink.messages] == ["siti@jabar.go.id", "budi@jabar.go.id", "ayu@jabar.go.id"]
    first, *kept = relay.commands_of_each_mail()
    assert len(kept) == 2 and connections.opened == 1
    # The new connection's first mail: DATA after the envelope's replies (its setup took part
    # of the mail's time; late then, the envelope is reset and the connection kept).
    envelope, data, content = first
    assert envelope.split(b"\r\n")[1:] == [b"RCPT TO:<siti@jabar.go.id>", b""] and data == b"DATA\r\n"
    assert content.endswith(b"\r\n.\r\n")
    for (envelope, content), address in zip(kept, ("budi", "ayu"), strict=True):
        mail_from, rcpt_to, data, end = envelope.split(b"\r\n")
        assert mail_from.startswith(b"MAIL FROM:<") and b" size=" in mail_from
        assert (rcpt_to, data, end) == (f"RCPT TO:<{address}@jabar.go.id>".encode(), b"DATA", b"")
        assert content.endswith(b"\r\n.\r\n")


async def test_a_server_not_offering_pipelining_gets_one_command_at_a_time(settings):
    sink = MailSink(pipelining=False).start()
    try:
        async with Relay(sink.port).running() as relay:
            connections = mail.MailConnections(fast(settings, sink, smtp_port=relay.port))
            for address in ("siti@jabar.go.id", "budi@jabar.go.id"):
                await connections.send(note(address), to=address)
            await connections.close()
    finally:
        sink.stop()
    assert [m["X-Envelope-To"] for m in sink.messages] == ["siti@jabar.go.id", "budi@jabar.go.id"]
    for mail_from, rcpt_to, data, content in relay.commands_of_each_mail():
        assert mail_from.startswith(b"MAIL FROM:<") and mail_from.endswith(b"\r\n") and mail_from.count(b"\r\n") == 1
        assert rcpt_to.startswith(b"RCPT TO:<") and data == b"DATA\r\n" and content.endswith(b"\r\n.\r\n")


class Refusing:
    """A real SMTP server (aiosmtpd) offering PIPELINING that answers MAIL, RCPT or the
    content's end as told (None: accepts), and keeps the recipients of what it accepts."""

    def __init__(self, *, mail: str | None = None, rcpt: str | None = None, data: str | None = None) -> None:
        self.replies = {"MAIL": mail, "RCPT": rcpt, "DATA": data}
        self.accepted: list[list[str]] = []
        self.port = free_port()

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:  # aiosmtpd's hook
        return offering_pipelining(session, hostname, responses)

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:  # aiosmtpd's hook
        if self.replies["MAIL"]:
            return self.replies["MAIL"]
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # aiosmtpd's hook
        if self.replies["RCPT"]:
            return self.replies["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        if self.replies["DATA"]:
            return self.replies["DATA"]
        self.accepted.append(envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Refusing]:
        controller = started_controller(self, self.port)
        self.port = controller.port
        try:
            yield self
        finally:
            controller.stop()


@pytest.mark.parametrize(
    ("refusal", "error", "refused"),
    [
        ({"mail": "550 5.7.1 Sender rejected"}, mail.PermanentMailError, aiosmtplib.SMTPSenderRefused),
        ({"mail": "451 4.3.0 Try again later"}, mail.TransientMailError, aiosmtplib.SMTPSenderRefused),
        ({"rcpt": "550 5.1.1 No such mailbox"}, mail.PermanentMailError, aiosmtplib.SMTPRecipientsRefused),
        ({"rcpt": "452 4.2.2 Mailbox full"}, mail.TransientMailError, aiosmtplib.SMTPRecipientsRefused),
        ({"data": "554 5.6.0 Content rejected"}, mail.PermanentMailError, aiosmtplib.SMTPDataError),
        ({"data": "451 4.3.0 Queue full"}, mail.TransientMailError, aiosmtplib.SMTPDataError),
    ],
    ids=[
        "sender for good",
        "sender for now",
        "recipient for good",
        "recipient for now",
        "content for good",
        "content for now",
    ],
)
async def test_a_pipelined_refusal_is_told_apart_by_command_and_class_and_the_next_mail_still_goes(
    settings, refusal, error, refused
):
    async with Refusing(**refusal).running() as server:
        connections = mail.MailConnections(fast(settings, server))
        try:
            with pytest.raises(error) as raised:
                await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
            assert type(raised.value.__cause__) is refused
            assert refusal.popitem()[1].split()[0] in str(raised.value)
            server.replies = dict.fromkeys(server.replies)  # the server takes mail again
            await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id")
        finally:
            await connections.close()
    assert server.accepted == [["budi@jabar.go.id"]]


async def test_a_server_taking_data_after_refusing_the_recipient_gets_a_lone_dot_never_the_content(settings):
    """RFC 2920 3.1: a client that pipelined DATA must read DATA's reply even when every
    recipient was refused, and end a DATA the server took anyway with "." alone."""
    received: list[bytes] = []

    async def careless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        replies = {
            b"EHLO": b"250-careless\r\n250 PIPELINING\r\n",
            b"RCPT": b"550 5.1.1 No such mailbox\r\n",
            b"DATA": b"354 Go ahead\r\n",  # though no recipient was taken
            b"QUIT": b"221 Bye\r\n",
        }
        writer.write(b"220 careless ESMTP\r\n")
        while line := await reader.readline():
            received.append(line)
            writer.write(replies.get(line[:4].upper(), b"250 OK\r\n"))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(careless, "127.0.0.1", 0)
    connections = mail.MailConnections(fast(settings, smtp_port=server.sockets[0].getsockname()[1]))
    try:
        await connections.open()  # set up beforehand: the mail's DATA goes with its envelope
        with pytest.raises(mail.PermanentMailError, match="550"):
            await connections.send(note("gone@jabar.go.id"), to="gone@jabar.go.id")
    finally:
        await connections.close()
        server.close()
        await server.wait_closed()
    after_data = received[[line[:4] for line in received].index(b"DATA") + 1 :]
    assert after_data[:2] == [b".\r\n", b"RSET\r\n"]
    assert not any(b"Subject" in line for line in received)


@pytest.mark.parametrize("address", ['"siti\x00"@jabar.go.id', "siti\x7f@jabar.go.id", "siti\x1b@jabar.go.id"])
async def test_an_address_with_a_control_character_is_refused_before_any_command_is_pipelined(
    settings, sink: MailSink, address
):
    async with Relay(sink.port).running() as relay:
        connections = mail.MailConnections(fast(settings, sink, smtp_port=relay.port))
        try:
            with pytest.raises(ValueError, match="control character"):
                await connections.send(note("siti@jabar.go.id"), to=address)
            await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id")
        finally:
            await connections.close()
    assert not any(b"siti" in chunk for chunk in relay.writes)
    assert [m["X-Envelope-To"] for m in sink.messages] == ["budi@jabar.go.id"]


# ---------------------------------------------------------------- hostile and broken servers

HANG_UP = b""  # an answer that is no answer: the server closes the connection
SILENCE = b"(silence)"  # no answer at all: the server reads on and writes nothing


class Scripted(LoopbackServer):
    """A hand-written SMTP server on 127.0.0.1 answering each command by its verb as
    `answers` says (b"." for the content's end; DATA "354", anything else "250 OK" unless
    told), offering
    PIPELINING or not. An answer starting with 354 makes it read the content up to its
    lone "."; `HANG_UP` closes the connection unanswered; `SILENCE` answers nothing and
    reads on (a stalled server). It keeps every line it read, those it left unanswered,
    every content it read, how many contents it took (answered 250), and how many of its
    connections the client has closed (`closed` set at the first). A `clock` given runs
    while a connection has a command left unanswered, until that connection ends."""

    def __init__(
        self,
        answers: dict[bytes, bytes],
        *,
        pipelining: bool,
        clock: ServerClock | None = None,
        stalls: dict[bytes, float] | None = None,
        stalls_seen: bool = False,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.stalls = stalls or {}  # after answering a verb, the process stalls that long
        self.stalls_seen = stalls_seen  # and the `clock` runs through it, as the loop's own would
        self.closed = asyncio.Event()
        extensions = b"250-scripted\r\n250-SIZE 1000000\r\n" + (b"250-PIPELINING\r\n" if pipelining else b"")
        self.well = {b"EHLO": extensions + b"250 8BITMIME\r\n", b"DATA": b"354 Go\r\n", b"QUIT": b"221 Bye\r\n"}
        self.answers = {**self.well, **answers}
        self.lines: list[bytes] = []
        self.contents: list[bytes] = []
        self.unanswered: list[bytes] = []
        self.taken = 0
        self.connections = 0
        self.closed_by_client = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        silent = False  # has this connection left a command unanswered (its clock running)?
        writer.write(b"220 scripted ESMTP\r\n")
        try:
            while line := await reader.readline():
                self.lines.append(line)
                answer = self.answers.get(line[:4].upper(), b"250 OK\r\n")
                if answer == HANG_UP:
                    return
                if answer == SILENCE:
                    self.unanswered.append(line)
                    if self.clock and not silent:
                        self.clock.run()
                    silent = True
                    continue
                writer.write(answer)
                await writer.drain()
                if stall := self.stalls.get(line[:4].upper()):
                    with self.clock.running() if self.clock and self.stalls_seen else contextlib.nullcontext():
                        time.sleep(stall)  # noqa: ASYNC251 -- the whole process stalls, as a loaded machine does
                if answer.startswith(b"354"):
                    self.contents.append(await _content(reader))
                    answer = self.answers.get(b".", b"250 OK\r\n")
                    if answer == HANG_UP:
                        return
                    if answer == SILENCE:
                        self.unanswered.append(b".\r\n")
                        if self.clock and not silent:
                            self.clock.run()
                        silent = True
                        continue
                    self.taken += answer.startswith(b"250")
                    writer.write(answer)
                    await writer.drain()
            self.closed_by_client += 1
            self.closed.set()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            if self.clock and silent:
                self.clock.stop()


async def _content(reader: asyncio.StreamReader) -> bytes:
    """A mail's content up to its lone "." line, read line by line rather than up to
    CRLF "." CRLF: a client ending a content it never sent (its one recipient refused
    after a pipelined DATA) sends that line alone, and a server waiting for a CRLF before
    it answered nothing until the client's reply timeout (30 s) ran out."""
    lines: list[bytes] = []
    while (line := await reader.readline()) != b".\r\n":
        if not line:
            raise asyncio.IncompleteReadError(b"".join(lines), None)
        lines.append(line)
    return b"".join(lines)


GARBAGE = b"hello there\r\n"
OVERLONG = b"250 " + b"x" * 9000 + b"\r\n"

# Each conversation as it ends one command at a time (the outcome `_transfer` gives):
# delivered (None) or the error the dispatcher sees. Pipelined, it must end the same.
CONVERSATIONS = {
    "sender refused for good, then garbage": ({b"MAIL": b"550 No\r\n", b"RCPT": GARBAGE}, mail.PermanentMailError),
    "sender refused for good, then a hang-up": ({b"MAIL": b"550 No\r\n", b"RCPT": HANG_UP}, mail.PermanentMailError),
    "recipient refused for good, then garbage": ({b"RCPT": b"550 No\r\n", b"DATA": GARBAGE}, mail.PermanentMailError),
    "recipient refused for good, then a hang-up": (
        {b"RCPT": b"550 No\r\n", b"DATA": HANG_UP},
        mail.PermanentMailError,
    ),
    "recipient refused for good, then 354 and a hang-up": (
        {b"RCPT": b"550 No\r\n", b"DATA": b"354 Go\r\n", b".": HANG_UP},
        mail.PermanentMailError,
    ),
    "recipient refused for good, then an overlong line": (
        {b"RCPT": b"554 No\r\n", b"DATA": OVERLONG},
        mail.PermanentMailError,
    ),
    "recipient refused for now, then an overlong line": (
        {b"RCPT": b"451 Later\r\n", b"DATA": OVERLONG},
        mail.TransientMailError,
    ),
    "421 to the sender, then a hang-up": ({b"MAIL": b"421 Closing\r\n", b"RCPT": HANG_UP}, mail.TransientMailError),
    "421 to the recipient, then a hang-up": ({b"RCPT": b"421 Closing\r\n", b"DATA": HANG_UP}, mail.TransientMailError),
    "a hang-up after the sender": ({b"RCPT": HANG_UP}, mail.TransientMailError),
    "garbage instead of a code": ({b"MAIL": GARBAGE}, mail.TransientMailError),
    "a line over 8 KB": ({b"MAIL": OVERLONG}, mail.TransientMailError),
    "DATA refused for good": ({b"DATA": b"554 No\r\n"}, mail.PermanentMailError),
    "DATA refused for now": ({b"DATA": b"451 Later\r\n"}, mail.TransientMailError),
    "the content refused for good": ({b"DATA": b"354 Go\r\n", b".": b"554 No\r\n"}, mail.PermanentMailError),
    "the content refused for now": ({b"DATA": b"354 Go\r\n", b".": b"452 Full\r\n"}, mail.TransientMailError),
    "a hang-up after the content": ({b"DATA": b"354 Go\r\n", b".": HANG_UP}, mail.TransientMailError),
    "multi-line replies": (
        {
            b"MAIL": b"250-Sender\r\n250 OK\r\n",
            b"RCPT": b"250-Recipient\r\n250-still\r\n250 OK\r\n",
            b"DATA": b"354-Go\r\n354 ahead\r\n",
            b".": b"250-Queued\r\n250 as 1\r\n",
        },
        None,
    ),
}


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one command at a time"])
@pytest.mark.parametrize(("answers", "outcome"), CONVERSATIONS.values(), ids=CONVERSATIONS.keys())
async def test_a_broken_or_hostile_server_ends_the_mail_as_one_command_at_a_time_would_and_its_connection_is_not_kept(
    settings, answers, outcome, pipelining
):
    async with Scripted(answers, pipelining=pipelining).running() as server:
        connections = mail.MailConnections(fast(settings, smtp_port=server.port))
        try:
            await connections.open()  # set up beforehand: pipelined, DATA goes with the envelope
            if outcome is None:
                await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
            else:
                with pytest.raises(outcome):
                    await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
            taken = server.taken
            server.answers = server.well  # the server takes mail again
            await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id")
        finally:
            await connections.close()
    assert taken == (outcome is None)  # never taken when refused, never twice
    assert server.taken == taken + 1
    assert server.connections == (1 if outcome is None else 2)  # a connection that failed is never reused


# A server that refuses the only recipient and then stalls: the commands it leaves
# unanswered, and the one of them the client waits out before it gives up the connection.
STALLS = {
    "pipelined, DATA unanswered": (True, {b"DATA": SILENCE}, b"DATA\r\n"),
    "pipelined, DATA taken and its lone dot unanswered": (True, {b"DATA": b"354 Go\r\n", b".": SILENCE}, b".\r\n"),
    "pipelined, DATA refused and RSET unanswered": (True, {b"DATA": b"503 No recipient\r\n"}, b"RSET\r\n"),
    "one command at a time, RSET unanswered": (False, {}, b"RSET\r\n"),
}
REFUSALS = {
    "refused for good": (b"550 5.1.1 No such mailbox\r\n", mail.PermanentMailError),
    "refused for now": (b"452 4.2.2 Mailbox full\r\n", mail.TransientMailError),
}


@pytest.mark.parametrize(("refusal", "outcome"), REFUSALS.values(), ids=REFUSALS.keys())
@pytest.mark.parametrize(("pipelining", "answers", "waited_on"), STALLS.values(), ids=STALLS.keys())
async def test_a_server_stalling_after_refusing_the_only_recipient_is_waited_on_once_and_the_refusal_is_the_outcome(
    settings, refusal, outcome, pipelining, answers, waited_on
):
    """After the one reply the server never sends, nothing more is sent on its connection
    (the RSET after an unanswered lone "." was another timeout's wait, holding the
    dispatcher's slot twice as long), and the refused recipient decides the outcome by its
    own code, whichever command the server left unanswered."""
    stalled = {b"RCPT": refusal, b"RSET": SILENCE, b"QUIT": SILENCE, **answers}
    with ServerClock().installed() as clock:  # timeouts run out only while the server is silent
        async with Scripted(stalled, pipelining=pipelining, clock=clock).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port), timeout=1.0)
            try:
                await connections.open()  # set up beforehand: pipelined, DATA goes with the envelope
                with pytest.raises(outcome) as raised:
                    await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
                assert type(raised.value.__cause__) is aiosmtplib.SMTPRecipientsRefused
                assert refusal.split()[0].decode() in str(raised.value)
                with clock.running():  # the server's task reads on until the client closes
                    async with asyncio.timeout(10):
                        await server.closed.wait()
                unanswered = list(server.unanswered)
                server.answers = server.well  # the server takes mail again
                await connections.send(note("budi@jabar.go.id"), to="budi@jabar.go.id")
            finally:
                await connections.close()
    assert unanswered == [waited_on]
    assert server.taken == 1 and server.connections == 2


async def test_a_reply_written_before_the_process_stalls_past_the_timeout_is_read_and_only_the_silence_times_out(
    settings,
):
    """The server answers the pipelined MAIL and RCPT, and then the whole process stalls for
    longer than the reply timeout, as on a machine running other suites: the refusal,
    already written, is the outcome, and the DATA the server leaves unanswered is the one
    command waited out."""
    stalled = {b"RCPT": b"550 5.1.1 No such mailbox\r\n", b"DATA": SILENCE, b"RSET": SILENCE, b"QUIT": SILENCE}
    with ServerClock().installed() as clock:
        async with Scripted(stalled, pipelining=True, clock=clock, stalls={b"RCPT": 1.5}).running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port), timeout=1.0)
            try:
                await connections.open()  # set up beforehand: pipelined, DATA goes with the envelope
                with pytest.raises(mail.PermanentMailError, match="550"):
                    await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
                with clock.running():
                    async with asyncio.timeout(10):
                        await server.closed.wait()
            finally:
                await connections.close()
    assert server.unanswered == [b"DATA\r\n"]


async def test_a_reply_that_arrives_as_the_timeout_runs_out_after_a_stall_is_read_and_the_mail_not_retried(settings):
    """The server answers the pipelined MAIL and RCPT, and then the whole process stalls
    past the reply timeout, the clock moving with it: the replies and the timer are due in
    the same round of the loop. The replies, read in that round, count (the 550 is the
    outcome), as aiosmtplib's one-command-at-a-time wait counts a result ready when its
    timeout fires; read as a timeout, an answered mail would be tried again."""
    stalled = {b"RCPT": b"550 5.1.1 No such mailbox\r\n", b"DATA": SILENCE, b"RSET": SILENCE, b"QUIT": SILENCE}
    with ServerClock().installed() as clock:
        stalling = Scripted(stalled, pipelining=True, clock=clock, stalls={b"RCPT": 1.5}, stalls_seen=True)
        async with stalling.running() as server:
            connections = mail.MailConnections(fast(settings, smtp_port=server.port), timeout=1.0)
            try:
                await connections.open()  # set up beforehand: pipelined, DATA goes with the envelope
                with pytest.raises(mail.PermanentMailError, match="550"):
                    await connections.send(note("siti@jabar.go.id"), to="siti@jabar.go.id")
                with clock.running():
                    async with asyncio.timeout(10):
                        await server.closed.wait()
            finally:
                await connections.close()
    assert server.unanswered == [b"DATA\r\n"]


@pytest.mark.parametrize(
    "dribble", [False, True], ids=["a server that never answers", "a reply dribbled a byte at a time"]
)
async def test_a_reply_not_whole_within_the_timeout_times_out_however_the_server_dribbles_it(dribble):
    """The timeout bounds the wait for each reply as a whole, as aiosmtplib's does: bytes of
    a reply that never ends must not keep a connection (and a dispatcher's slot) waiting."""

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readline()
            for byte in b"250 " + b"." * 60 + b" OK\r\n" if dribble else b"":
                writer.write(bytes([byte]))  # 6 s for the whole reply
                await asyncio.sleep(0.1)
            await reader.read()
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    _, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    replies = PipelinedReplies(writer.transport, timeout=1.0)
    try:
        replies.send(b"NOOP\r\n", replies=1)
        with pytest.raises(aiosmtplib.SMTPReadTimeoutError):
            await replies.reply()
    finally:
        replies.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
def trusted_certificate(tmp_path, monkeypatch) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1 that this process's
    default trust (`SSL_CERT_FILE`, which aiosmtplib's default context reads) vouches for."""
    context = self_signed_server(tmp_path, name="127.0.0.1", authority=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    return context


async def test_mail_over_a_connection_upgraded_by_starttls_is_pipelined_inside_tls(settings, trusted_certificate):
    sink = MailSink()
    controller = started_controller(sink, sink.port, tls_context=trusted_certificate, require_starttls=True)
    sink.port = controller.port
    try:
        async with Relay(sink.port).running() as relay:
            connections = mail.MailConnections(fast(settings, sink, smtp_port=relay.port, smtp_starttls=True))
            try:
                for address in ("siti@jabar.go.id", "budi@jabar.go.id"):
                    await connections.send(note(address), to=address)
            finally:
                await connections.close()
    finally:
        controller.stop()
    assert [m["X-Envelope-To"] for m in sink.messages] == ["siti@jabar.go.id", "budi@jabar.go.id"]
    assert connections.opened == 1
    assert b"STARTTLS\r\n" in relay.writes and not any(b"MAIL FROM" in chunk for chunk in relay.writes)  # sealed


async def test_a_content_with_leading_dots_and_no_final_line_break_arrives_as_written(settings, sink: MailSink):
    headers = b"From: pakta@pakta.test\nTo: siti@jabar.go.id\nSubject: Titik\n\n"
    content = headers + b".satu\n..dua\n.\n\n.\r\nakhir tanpa baris baru"
    connections = mail.MailConnections(fast(settings, sink))
    try:
        await connections.send(content, to="siti@jabar.go.id")
        await connections.send(content, to="budi@jabar.go.id")  # the connection still in step after it
    finally:
        await connections.close()
    bodies = [m.get_payload() for m in sink.messages]
    assert bodies == [".satu\r\n..dua\r\n.\r\n\r\n.\r\nakhir tanpa baris baru\r\n"] * 2
