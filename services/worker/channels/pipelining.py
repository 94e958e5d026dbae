"""SMTP command pipelining (RFC 2920) on a connection aiosmtplib opened and greeted: the
replies of several commands written at once, read back in order.

aiosmtplib (5.x) has no pipelining and cannot be given it: its protocol parses one reply per
chunk received and drops the bytes that arrive while a parsed reply awaits pickup, so the
replies to MAIL, RCPT and DATA written together would be lost. Once the connection is set
up (greeting, STARTTLS, EHLO, login: aiosmtplib's, unchanged), `PipelinedReplies` takes the
transport over (`set_protocol`) and is its only reader from then on.

A mail over it is two writes and two waits for the server instead of four — MAIL, RCPT and
DATA together, then the content. Over loopback that saves ≈ 3 % of the dispatcher's samples;
to a relay across a network it halves the round trips each mail waits out
(docs/performance-log.md, `perf-deliver8`).
"""

from __future__ import annotations

import asyncio
from collections import deque

import aiosmtplib
from aiosmtplib.response import SMTPResponse
from aiosmtplib.status import SMTPStatus

# aiosmtplib's own bounds on a reply (aiosmtplib.protocol): a line, and a whole reply with
# its continuation lines; a server streaming past them is cut off, not buffered.
MAX_LINE_LENGTH = 8192
MAX_REPLY_LENGTH = MAX_LINE_LENGTH * 4


class PipelinedReplies(asyncio.Protocol):
    """The reader of one SMTP connection's replies once commands may be pipelined: `send`
    writes one or more commands and says how many replies they owe; `reply` returns them one
    by one, in the order they came, however the bytes were split or joined in transit.

    Bytes arriving while no reply is owed (a 421 a server writes before it drops an idle
    client) are dropped, as aiosmtplib drops them: they answer no command of ours. An end of
    the connection fails every reply still owed with `SMTPServerDisconnected`, after those
    already read; a reply that does not come within `timeout` with `SMTPReadTimeoutError`,
    and the connection is closed then, as aiosmtplib closes one: a reply given up on may
    still come and would answer the next command, so nothing more is sent on it (a server
    that stalls after refusing a mail costs its dispatcher slot one timeout, not one per
    command that still follows — the lone "." and the `RSET`)."""

    def __init__(self, transport: asyncio.BaseTransport, *, timeout: float) -> None:
        self._transport = transport
        self._timeout = timeout
        self._buffer = bytearray()
        self._replies: deque[SMTPResponse] = deque()
        self._owed = 0  # replies owed for commands sent and not parsed yet
        self._waiter: asyncio.Future[None] | None = None
        self._lost: aiosmtplib.SMTPException | None = None
        transport.set_protocol(self)

    def send(self, data: bytes, *, replies: int) -> None:
        """Write `data` (whole commands, each ending with CRLF), owing `replies` replies."""
        if self._lost is not None or self._transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self._owed += replies
        self._transport.write(data)  # type: ignore[attr-defined]  # a stream transport's

    async def reply(self) -> SMTPResponse:
        """The next reply owed, as aiosmtplib reads one (its code; its lines' text joined by
        "\\n"), within `timeout` as a whole: each chunk of it wakes this reader, and a
        server dribbling a reply that never ends must not keep the connection waiting."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(loop.time() + self._timeout):
                while not self._replies:
                    if self._lost is not None:
                        raise self._lost
                    self._waiter = loop.create_future()
                    try:
                        await self._waiter
                    finally:
                        self._waiter = None
        except TimeoutError as error:
            if self._replies:
                # The reply came in the same loop round as the timer, and was read first:
                # a process that stalled past the timeout (a loaded machine) runs the due
                # timer before the woken task. It answered the command in time, and a
                # retry of an answered mail would send it twice.
                return self._replies.popleft()
            timed_out = aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
            self._lose(timed_out)
            self._transport.close()
            raise timed_out from error
        return self._replies.popleft()

    def close(self) -> None:
        self._transport.close()

    # asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        if not self._owed:
            return  # unsolicited: no command of ours awaits it
        self._buffer += data
        try:
            while self._owed and (response := self._parsed()) is not None:
                self._owed -= 1
                self._replies.append(response)
            if len(self._buffer) > MAX_REPLY_LENGTH:
                raise aiosmtplib.SMTPResponseException(SMTPStatus.invalid_response, "Response too long")
        except aiosmtplib.SMTPResponseException as error:
            self._lose(error)
            self._transport.close()
            return
        if not self._owed:
            self._buffer.clear()  # past the replies owed: unsolicited
        self._wake()

    def eof_received(self) -> bool:
        self._lose(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(aiosmtplib.SMTPServerDisconnected("Connection lost"))

    def _lose(self, error: aiosmtplib.SMTPException) -> None:
        if self._lost is None:
            self._lost = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _parsed(self) -> SMTPResponse | None:
        """The first whole reply in the buffer, taken out of it; None while it is partial.
        Each line is a code, "-" (more lines follow) or " ", and text (RFC 5321 4.2)."""
        offset, lines = 0, []
        while (end := self._buffer.find(b"\n", offset)) >= 0:
            line = bytes(self._buffer[offset : end + 1])
            if len(line) > MAX_LINE_LENGTH:
                raise aiosmtplib.SMTPResponseException(SMTPStatus.invalid_response, "Response too long")
            try:
                code = int(line[:3])
            except ValueError:
                text = line.decode("utf-8", errors="ignore")
                raise aiosmtplib.SMTPResponseException(
                    SMTPStatus.invalid_response, f"Malformed SMTP response line: {text}"
                ) from None
            offset = end + 1
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                del self._buffer[:offset]
                return SMTPResponse(code, b"\n".join(lines).decode("utf-8", "surrogateescape"))
        return None
