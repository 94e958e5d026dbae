"""Email over SMTP (aiosmtplib): build the MIME message of one notification for one
recipient, send it, and tell a refusal (give up) from an outage (retry).

The Message-ID is derived from the event and the address, so if a crash makes us send the
same mail twice (accepted by the server, then the worker died before logging it as sent),
both copies carry the same id and mail systems that deduplicate on it keep one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from typing import NoReturn, cast

import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import normalize_message_line_endings
from aiosmtplib.response import SMTPResponse
from aiosmtplib.status import SMTPStatus
from markupsafe import escape

from services.notifying.render import GREETING_SLOT, render_parts
from services.settings import Settings
from services.worker.channels.pipelining import PipelinedReplies
from workflows.contracts.notify import EmailRecipient
from workflows.notify.rules import Notification

_UNUSABLE_SENDER = "PAKTA_MAIL_FROM's address {sender!r} cannot be an envelope sender"


class PermanentMailError(Exception):
    """The server refused the message or recipient (5xx): retrying will not help."""


class TransientMailError(Exception):
    """The server is unreachable or asked us to try later (4xx)."""


class MailNotBegun(TransientMailError):
    """The mail's time (`MailConnections.send`'s `by`) ran out before its content could go,
    because of what came before its envelope: it waited for one of the kept connections, or
    for a new one's setup — before its envelope was sent, or while its envelope's replies
    came, in time for a try of its own (the envelope was then reset with RSET, its
    connection kept). Nothing of it stays at the server, and a try that starts at once has
    time for it: it is no attempt of its own — only a turn to wait for again."""


class UnsendableAddress(PermanentMailError, ValueError):
    """An address no SMTP envelope can carry — not ASCII (the channel does not speak
    SMTPUTF8), or a control character the contacts' check let through inside quotes: its
    mail can never be sent, so it is refused before any server is asked, not retried."""


def message_id(event_id: str, address: str) -> str:
    digest = hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]
    return f"<{event_id}.{digest}@pakta>"


# Bodies in quoted-printable UTF-8: readable in the raw message, safe over 7-bit relays.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP
_PART_HEADERS = (
    'MIME-Version: 1.0\nContent-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable\n\n'
)
_LINE_LIMIT = 78  # RFC 5322's recommended line length: a longer header is folded


def build_message(
    *,
    notification: Notification,
    recipient: EmailRecipient,
    settings: Settings,
    notice_json: str | None = None,
    names: Mapping[str, str] | None = None,
) -> bytes:
    """The mail as the bytes sent after DATA: multipart/alternative, plain text then HTML,
    each part UTF-8 in quoted-printable, the subject and the reader's name RFC 2047-encoded
    when they are not ASCII.

    Written directly rather than through `email.message` and its generator: the same bytes
    as compat32's generator wrote (whose header folding through `email.header.Header` and
    per-part MIME bookkeeping were a fifth of the dispatcher's CPU per mail —
    docs/performance-log.md); a header that is long or not ASCII is still folded by compat32
    itself. The boundary cannot occur in a quoted-printable body, which never holds "==".
    `notice_json`: the notification as JSON text, if at hand (`render`'s key). `names`: the
    names of the organisations it names (`services.worker.names`; the ids otherwise). An address
    that is not ASCII cannot be written in the To header without SMTPUTF8, nor in the
    envelope: `UnsendableAddress`.
    """
    if not recipient.address.isascii():
        raise UnsendableAddress(f"The address {recipient.address!r} is not ASCII (no SMTPUTF8 here)")
    shared, greeting = render_parts(
        notification,
        language=recipient.language,
        name=recipient.name,
        public_url=settings.public_url,
        time_zone=recipient.time_zone,
        notice_json=notice_json,
        names=names,
    )
    boundary = f"==============={random.randrange(sys.maxsize):019d}=="
    headers = "".join(
        _header(name, value)
        for name, value in (
            ("From", settings.mail_from),
            ("To", formataddr((_one_line(recipient.name or ""), recipient.address), charset="utf-8")),
            ("Subject", shared.subject),
            ("Date", formatdate(localtime=False)),
            ("Message-ID", message_id(notification.event_id, recipient.address)),
            # RFC 3834: no vacation auto-replies to notifications.
            ("Auto-Submitted", "auto-generated"),
            ("X-Pakta-Event-Id", notification.event_id),
            ("X-Pakta-Agreement-Id", notification.agreement_id),
            ("Content-Language", recipient.language),
        )
    )
    return "".join(
        (
            f'Content-Type: multipart/alternative;\n boundary="{boundary}"\nMIME-Version: 1.0\n',
            headers,
            f"\n--{boundary}\n",
            _PART_HEADERS.format(subtype="plain"),
            _encoded_with(shared.text, greeting),
            f"\n--{boundary}\n",
            _PART_HEADERS.format(subtype="html"),
            _encoded_with(shared.html, str(escape(greeting))),
            f"\n--{boundary}--\n",
        )
    ).encode("ascii")


def _encoded_with(shared: str, greeting: str) -> str:
    """A body in quoted-printable: `shared` (one notice's text or HTML, the same for its
    readers) with the reader's `greeting` in its slot — byte for byte what encoding the
    whole would give. Quoted-printable encodes line by line, so the lines before and after
    the slot's line are encoded once per shared body (`_encoded_around`) and only that line
    per reader (the whole body encoded per mail was ≈ 4 % of the dispatcher's samples)."""
    if "\n" in greeting or "\r" in greeting:  # a line break of its own: no single line to swap
        return _UTF8.body_encode(shared.replace(GREETING_SLOT, greeting, 1))
    before, line, after = _encoded_around(shared)
    line = line.replace(GREETING_SLOT, greeting, 1)
    if not line:  # an empty line between a CR and an LF: whole, they are one CRLF
        return _UTF8.body_encode(shared.replace(GREETING_SLOT, greeting, 1))
    return before + _UTF8.body_encode(line) + after


@lru_cache(maxsize=256)
def _encoded_around(shared: str) -> tuple[str, str, str]:
    """`shared` around its greeting slot's line: the lines before it encoded, with the line
    break that ends them; the slot's line itself, not encoded; the line break after it with
    the lines after it encoded. Quoted-printable (`quoprimime.body_encode`) encodes each line
    on its own and joins them with "\n", ending with one if the body does; a CR, LF or CRLF
    is one line break."""
    at = shared.index(GREETING_SLOT)
    start = max(shared.rfind("\n", 0, at), shared.rfind("\r", 0, at)) + 1  # 0: the slot is on the first line
    ends = [i for i in (shared.find("\n", at), shared.find("\r", at)) if i >= 0]
    end = min(ends) if ends else len(shared)
    line = shared[start:end]
    # The lines before: up to their last line break (CRLF taken whole), which the join
    # writes as one "\n" (a first line has none).
    head = shared[: start - 2 if shared.startswith("\r\n", start - 2) else start - 1] if start else ""
    before = _UTF8.body_encode(head) + "\n" if start else ""
    # The lines after: from past the slot line's break; the body's own last break kept.
    after = ""
    if end < len(shared):
        rest = shared[end + 2 if shared.startswith("\r\n", end) else end + 1 :]
        after = "\n" + _UTF8.body_encode(rest)
    return before, line, after


# What ends a line to `str.splitlines`, which the header folding splits a value at: in a
# display name each would end the To header and start another header, or the body.
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def _one_line(name: str) -> str:
    """A reader's name as the To header's display name: its line breaks as spaces. A
    contact's name may hold them (the API takes them, as in any short text); written as they
    are, "Eve\\r\\nBcc: …" would have added a header (compat32 refuses that: the mail could
    never be built and its delivery was claimed again and again) and "Baris\\nkedua" would have
    ended the headers. The greeting in the bodies keeps the name as written."""
    return _LINE_BREAKS.sub(" ", name).strip() if _LINE_BREAKS.search(name) else name


def _header(name: str, value: str) -> str:
    """One header line. Short ASCII values (most) as they are; others folded, and RFC
    2047-encoded when not ASCII, by compat32 as its generator would."""
    if value.isascii() and len(name) + 2 + len(value) <= _LINE_LIMIT and "\n" not in value and "\r" not in value:
        return f"{name}: {value}\n"
    folded: str = compat32.fold(name, value if value.isascii() else cast(str, Header(value, "utf-8", header_name=name)))
    return folded


class MailConnections:
    """Up to `size` SMTP connections kept open between messages, each carrying one message
    at a time: a mail costs its MAIL, RCPT and DATA, not a TCP connection, a greeting, EHLO,
    STARTTLS and a login each (the outbox dispatcher's largest cost per mail before).

    To a server that offers PIPELINING (RFC 2920; Postfix and Exim do), MAIL, RCPT and DATA
    go in one write and their replies are read in order (`pipelining.PipelinedReplies`): a
    mail is two writes and one wait for the server, not four and three (a new connection's
    first mail: DATA after the envelope's replies, `_send_on`). A server that does not offer
    it gets one command at a time, as `sendmail` sends them.

    A connection the server closed while it sat idle (servers drop idle clients after a few
    minutes) fails at the next message: that message is tried once more on a new
    connection — unless the server had answered the mail already: gone in its middle, not
    while idle, perhaps after taking its content (sent again at once, a second copy); the
    failure is then the attempt's. A connection that failed otherwise is closed, never
    reused; one set up too slowly for the mail that opened it (`send`), or on which a mail's
    envelope was answered too late for its content to go (the envelope reset with RSET), is
    kept for the next.

    The envelope is given, not read back from the message: the sender is `mail_from`'s
    address (parsed once), the recipient the address the message was built for — parsing
    the From and To headers of every message was a twentieth of the dispatcher's CPU."""

    def __init__(self, settings: Settings, *, size: int = 4, timeout: float | None = None) -> None:
        self.settings = settings
        # For each reply and the connection's setup; and from `send`'s call to the content.
        self.timeout = settings.smtp_timeout_seconds if timeout is None else timeout
        self._sender = parseaddr(settings.mail_from)[1] or settings.mail_from
        try:
            self._envelope_sender: bytes | None = _envelope_address(self._sender)
        except UnsendableAddress:
            self._envelope_sender = None  # a setting to mend: each mail waits for it (`_sender_of`)
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Connection] = []
        self.opened = 0  # connections opened so far

    async def send(self, content: bytes, *, to: str, by: float | None = None) -> None:
        """Send `content` (`build_message`'s bytes) to the one address `to` (its To header's).
        An address no envelope can carry is refused (`UnsendableAddress`) before a connection
        is taken.

        `by` (the event loop's time; default: `timeout` from now) bounds the mail: at most two
        replies of `timeout` each are waited for after it, and then its outcome is known. One
        command at a time, DATA is not sent after `by` (its reply and the content's follow);
        pipelined, DATA went with MAIL and RCPT, so the content is not sent after `by` plus
        `timeout` (only the content's reply follows). A mail that waited for a connection, or
        for a slow server's replies to its envelope, until then is an outage
        (`TransientMailError`, retried later): its envelope is reset with RSET and its
        connection kept — or, pipelined past DATA's 354, the connection closed, which drops
        the envelope unsent. It is `MailNotBegun` when what made it late came before its
        envelope (the wait, a new connection's setup) and the envelope's replies alone took
        no longer than a try has. The dispatcher gives `by` from its claim, and the claim's
        lease outlasts it by the replies that may still follow (`notify.mail_lease`): without
        it, a mail could be sent after its lease ran out — when another dispatcher may have
        claimed it and sent it too."""
        envelope = _Envelope(
            to=to,
            sender=self._sender_of(),
            recipient=_envelope_address(to),
            by=asyncio.get_running_loop().time() + self.timeout if by is None else by,
        )
        async with self._slots:
            envelope.begun()  # waited for a connection until too late: not begun at all
            with _mail_errors():
                connection = self._idle.pop() if self._idle else None
                if connection is not None:
                    try:
                        await self._send_on(connection, envelope, content)
                        return
                    except aiosmtplib.SMTPServerDisconnected:
                        if envelope.answered:
                            # Gone in the middle of the mail, not while idle (a connection
                            # dropped while idle fails at the mail's first reply): past its
                            # content, the server may have taken it — sent again now, it would
                            # be a second copy in the same attempt.
                            raise
                        # Dropped while idle: once more, on a new connection.
                fresh = await self._connect()
                if envelope.late():
                    # Set up too slowly for this mail (a late greeting, STARTTLS, a login) but
                    # working: kept for the next mail, this one's retry among them. Closed,
                    # every try would open one as slow and no mail would ever go.
                    self._idle.append(fresh)
                    envelope.begun()
                await self._send_on(fresh, envelope, content, new=True)

    async def open(self) -> None:
        """Set up one connection now, kept for the next mail: a slow server's greeting,
        STARTTLS and login taken before a mail's time (`send`'s `by`) starts, not in it."""
        async with self._slots:
            with _mail_errors():
                self._idle.append(await self._connect())

    def _sender_of(self) -> bytes:
        if self._envelope_sender is None:
            # A configuration problem, as a refused login: retried, so mending the setting
            # resumes delivery.
            raise TransientMailError(_UNUSABLE_SENDER.format(sender=self._sender))
        return self._envelope_sender

    async def _send_on(
        self, connection: _Connection, envelope: _Envelope, content: bytes, *, new: bool = False
    ) -> None:
        """`new`: the connection was just set up for this mail, its setup part of the mail's
        time: pipelined, DATA then waits for the envelope's replies (one round trip more, once
        per connection), so a mail late by then is reset, its connection kept — with DATA
        sent, a late mail can only be dropped by closing it, and the next try would open one
        as slow to set up."""
        try:
            if connection.replies is not None:
                await self._transfer_pipelined(
                    connection.replies, envelope, content, size=connection.size_offered, with_data=not new
                )
            else:
                await self._transfer(connection.smtp, envelope, content)
        except _Reset as reset:  # a late envelope reset: the connection is as good as before
            self._idle.append(connection)
            raise reset.error from None
        except BaseException:
            connection.close()
            raise
        self._idle.append(connection)

    async def _reset_late(self, envelope: _Envelope, rset: Callable[[], Awaitable[int]]) -> NoReturn:
        """The envelope answered past the mail's time, before DATA: reset with RSET and the
        connection kept (`_Reset`), so the next try has only its envelope to wait for.
        Closed instead, a server whose setup and envelope each fit the timeout but together
        do not would get a new connection, as slow, on every try, and never the mail. An
        RSET not answered with 250 leaves the connection unknown: the late mail's outage
        raised as it is (the connection is closed)."""
        late = envelope.too_late()
        answered_in = asyncio.get_running_loop().time() - envelope.started  # the envelope's own replies
        try:
            code = await rset()
        except (ConnectionError, aiosmtplib.SMTPException):
            raise late from None
        if code != SMTPStatus.completed:
            raise late
        raise _Reset(envelope.too_late(answered_in=answered_in, fits=self.timeout))

    async def _transfer(self, smtp: aiosmtplib.SMTP, envelope: _Envelope, content: bytes) -> None:
        """MAIL, RCPT and DATA for one recipient, one at a time, as aiosmtplib's `sendmail`
        sends them (the same commands, SIZE where offered, RSET after a refusal, a refused
        recipient as `SMTPRecipientsRefused`), but with each address quoted and checked once
        per address (`_envelope_address`), not parsed three times per mail."""
        sender, recipient, to = envelope.sender, envelope.recipient, envelope.to
        size = []  # RFC 1870: the octets as sent, with CRLF line ends
        if smtp.supports_extension("size"):
            size.append(f"size={_size_as_sent(content)}".encode())
        envelope.start()
        try:
            response = await smtp.execute_command(b"MAIL", b"FROM:" + sender, *size)
            envelope.answered = True
            if response.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPSenderRefused(response.code, response.message, self._sender)
            response = await smtp.execute_command(b"RCPT", b"TO:" + recipient)
            if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                raise aiosmtplib.SMTPRecipientsRefused(
                    [aiosmtplib.SMTPRecipientRefused(response.code, response.message, to)]
                )
            if not envelope.late():  # DATA's reply and the content's follow: the lease's two
                await smtp.data(content)
                return
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            # The envelope reset, as sendmail does (the connection is closed anyway). A server
            # gone, stalled or writing garbage after its refusal leaves the refusal the answer,
            # as `_transfer_pipelined` has it: a stalled RSET is one timeout (aiosmtplib closes
            # the connection then), and the refused recipient keeps its own rule.
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPException):
                await smtp.rset()
            raise
        await self._reset_late(envelope, lambda: _code(smtp.rset()))

    async def _transfer_pipelined(
        self, replies: PipelinedReplies, envelope: _Envelope, content: bytes, *, size: bool, with_data: bool = True
    ) -> None:
        """MAIL, RCPT and DATA for one recipient in one write, their replies read in order
        (RFC 2920), then the content: the same commands and the same refusals as `_transfer`
        — a refused MAIL as `SMTPSenderRefused`, a refused RCPT as `SMTPRecipientsRefused`, a
        DATA refused at its start or at its end as `SMTPDataError` — the first refusal of the
        three being the one raised, then RSET. Every reply of the group is read before the
        refusal is raised; a DATA a server took after a refused MAIL or RCPT is ended with a
        lone "." (RFC 2920 3.1), never with the content.

        Without `with_data` (a new connection's first mail: `_send_on`), MAIL and RCPT go
        together and DATA after their replies, as `_transfer` sends it: a mail late by then
        is reset, not dropped with its connection."""
        sender, recipient, to = envelope.sender, envelope.recipient, envelope.to
        declared = f" size={_size_as_sent(content)}".encode() if size else b""  # RFC 1870, as `_transfer`
        envelope.start()
        data = b"DATA\r\n" if with_data else b""
        replies.send(
            b"MAIL FROM:" + sender + declared + b"\r\nRCPT TO:" + recipient + b"\r\n" + data,
            replies=3 if with_data else 2,
        )
        refusal: Exception | None = None
        try:
            response = await replies.reply()
            envelope.answered = True
            if response.code != SMTPStatus.completed:
                refusal = aiosmtplib.SMTPSenderRefused(response.code, response.message, self._sender)
            response = await replies.reply()
            if refusal is None and response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
                refusal = aiosmtplib.SMTPRecipientsRefused(
                    [aiosmtplib.SMTPRecipientRefused(response.code, response.message, to)]
                )
            if not with_data and refusal is None:
                if envelope.late():  # as `_transfer`: DATA's reply and the content's would follow
                    await self._reset_late(envelope, lambda: _pipelined_rset(replies))
                replies.send(b"DATA\r\n", replies=1)
            if with_data or refusal is None:
                response = await replies.reply()
        except aiosmtplib.SMTPException:
            if refusal is None:
                raise
            # The server left, stalled or wrote garbage after refusing: its refusal is the
            # answer, as one command at a time would have stopped at it (a 5xx is final).
            raise refusal from None
        if response.code == SMTPStatus.start_input and refusal is not None:
            with contextlib.suppress(aiosmtplib.SMTPException):  # gone meanwhile: the refusal stands
                replies.send(b".\r\n", replies=1)  # an empty message, which has no recipient
                await replies.reply()
        elif refusal is None and response.code != SMTPStatus.start_input:
            refusal = aiosmtplib.SMTPDataError(response.code, response.message)
        if refusal is None:
            # Only the content's reply follows: the lease's two replies after `by` are DATA's and
            # the content's, so the content may leave up to `timeout` after it (one command at a
            # time, DATA is not sent after `by`, and its 354 comes within `timeout`). Checked
            # at `by`, as before, a mail whose three replies fit was refused a reply early. A
            # mail late even so is dropped with its connection (closed by `_send_on`): past
            # DATA's 354, anything sent would be taken as its content. Its content never
            # left, and a transaction whose content's end never came delivers nothing, so it
            # is classed as a reset envelope is: not begun when its three replies took no
            # longer than a try has until its content (twice the timeout) — late only for
            # its wait for the connection.
            if envelope.late(grace=self.timeout):
                answered_in = asyncio.get_running_loop().time() - envelope.started
                raise envelope.too_late(answered_in=answered_in, fits=2 * self.timeout, dropped=True)
            replies.send(_data_as_sent(content), replies=1)
            response = await replies.reply()
            if response.code == SMTPStatus.completed:
                return
            refusal = aiosmtplib.SMTPDataError(response.code, response.message)
        with contextlib.suppress(aiosmtplib.SMTPException):
            replies.send(b"RSET\r\n", replies=1)  # as `_transfer` (the connection is closed anyway)
            await replies.reply()
        raise refusal

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(Exception):
                await connection.quit()
            connection.close()

    async def _connect(self) -> _Connection:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=self.timeout,
        )
        await smtp.connect()
        self.opened += 1
        try:
            if smtp.is_ehlo_or_helo_needed:
                try:
                    await smtp.ehlo()
                except aiosmtplib.SMTPHeloError:
                    if not smtp.is_connected:
                        raise
                    await smtp.helo()
        except BaseException:
            smtp.close()
            raise
        size_offered = smtp.supports_extension("size")
        if not smtp.supports_extension("pipelining") or smtp.transport is None:
            return _Connection(smtp, None, size_offered)
        return _Connection(smtp, PipelinedReplies(smtp.transport, timeout=self.timeout), size_offered)


@dataclass(slots=True)
class _Envelope:
    """One mail's envelope, its addresses quoted and checked once (`_envelope_address`), the
    event loop's time that bounds it (`MailConnections.send`'s `by`), when its first command
    was written (`start`) and whether a reply to it came (`answered`: lost after that, its
    connection was not dropped while idle, and the mail is not sent again on another in the
    same call — the server may have taken it)."""

    to: str
    sender: bytes
    recipient: bytes
    by: float
    started: float = 0.0
    answered: bool = False

    def late(self, *, grace: float = 0.0) -> bool:
        return asyncio.get_running_loop().time() > self.by + grace

    def start(self) -> None:
        self.started = asyncio.get_running_loop().time()

    def begun(self) -> None:
        """Before the envelope goes: past `by`, the mail is not begun (`MailNotBegun`)."""
        if self.late():
            raise MailNotBegun("The mail's time ran out while it waited for a connection to the mail server")

    def too_late(
        self, *, answered_in: float | None = None, fits: float = 0.0, dropped: bool = False
    ) -> TransientMailError:
        """The outage of a mail whose envelope was answered past `by`, before DATA (or, pipelined,
        `dropped` with its connection past DATA's 354, its content unsent). Reset (or dropped),
        and its replies took no longer (`answered_in`) than a try has from its claim until
        DATA (`fits`: the timeout; pipelined, until its content: twice that), it was late for
        what came before it — the wait for a connection, a new one's setup — which a try that
        starts at once does not have: `MailNotBegun`."""
        if answered_in is not None and answered_in <= fits:
            return MailNotBegun(
                "The mail's time ran out before its envelope was answered (a connection's setup or the wait "
                "for one took the rest); the envelope was "
                + ("dropped with its connection, its content unsent," if dropped else "reset")
                + " and the mail is due again"
            )
        return TransientMailError("The mail was not handed to the mail server in time; it is tried again later")


class _Reset(Exception):
    """A late envelope reset with RSET (`MailConnections._reset_late`): the connection is
    kept, and `error` is the mail's outcome."""

    def __init__(self, error: TransientMailError) -> None:
        super().__init__(str(error))
        self.error = error


async def _code(reply: Awaitable[SMTPResponse]) -> int:
    return (await reply).code


async def _pipelined_rset(replies: PipelinedReplies) -> int:
    replies.send(b"RSET\r\n", replies=1)
    return (await replies.reply()).code


@dataclass(slots=True)
class _Connection:
    """One kept SMTP connection: set up by aiosmtplib; its replies read by `replies` from
    then on when the server offers PIPELINING, by aiosmtplib otherwise."""

    smtp: aiosmtplib.SMTP
    replies: PipelinedReplies | None
    size_offered: bool  # the server takes the mail's size in MAIL (RFC 1870)

    async def quit(self) -> None:
        if self.replies is None:
            await self.smtp.quit(timeout=2)
            return
        self.replies.send(b"QUIT\r\n", replies=1)
        async with asyncio.timeout(2):
            await self.replies.reply()

    def close(self) -> None:
        self.smtp.close()  # closes the transport, whichever protocol reads it


def _data_as_sent(content: bytes) -> bytes:
    """The content as DATA sends it, as aiosmtplib's `execute_data_command` writes it: CRLF
    line ends, a line starting with "." doubled (RFC 5321 4.5.2), "." on a line of its own."""
    return _LEADING_PERIOD.sub(b"..", normalize_message_line_endings(content)) + b".\r\n"


_LEADING_PERIOD = re.compile(rb"(?m)^\.")


def _size_as_sent(content: bytes) -> int:
    """The octets of `content` with CRLF line ends, as DATA sends them (RFC 1870's SIZE).
    `build_message`'s mail has bare LF ends only: each becomes two octets, counted rather
    than the whole mail rewritten once more (DATA rewrites it to send it); DATA ends a mail
    that does not end with a line break with a CRLF."""
    if b"\r" in content or not content.endswith(b"\n"):
        return len(normalize_message_line_endings(content))
    return len(content) + content.count(b"\n")


@lru_cache(maxsize=4096)
def _envelope_address(address: str) -> bytes:
    """`address` as MAIL FROM or RCPT TO carries it: quoted and checked by aiosmtplib's own
    `quote_address` (an address that could smuggle a parameter or command onto the line is
    refused), in ASCII as `sendmail` encodes it. A control character, which `quote_address`
    lets through inside a quoted local part, is refused as aiosmtplib's `execute_command`
    refuses it: pipelined commands are written without that check. Each refusal is an
    `UnsendableAddress` (a ValueError, as aiosmtplib's were)."""
    try:
        quoted = quote_address(address).encode("ascii")
    except UnicodeEncodeError:
        raise UnsendableAddress(f"The address {address!r} is not ASCII (no SMTPUTF8 here)") from None
    except ValueError as refused:
        raise UnsendableAddress(f"The address {address!r} cannot be quoted: {refused}") from None
    if _CONTROL_CHARACTER.search(quoted):
        raise UnsendableAddress("Command arg contains a prohibited control character")
    return quoted


_CONTROL_CHARACTER = re.compile(rb"[\x00-\x1f\x7f]")  # aiosmtplib's COMMAND_INJECTION_REGEX


@contextlib.contextmanager
def _mail_errors() -> Iterator[None]:
    """aiosmtplib's errors as a refusal (give up) or an outage (retry)."""
    try:
        yield
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = [r.code for r in error.recipients]
        if all(code >= 500 for code in codes):
            raise PermanentMailError(str(error)) from error
        raise TransientMailError(str(error)) from error
    except aiosmtplib.SMTPAuthenticationError as error:
        # A configuration problem: retry, so fixing the settings resumes delivery.
        raise TransientMailError(str(error)) from error
    except aiosmtplib.SMTPResponseException as error:
        if error.code >= 500:
            raise PermanentMailError(f"{error.code} {error.message}") from error
        raise TransientMailError(f"{error.code} {error.message}") from error
    except (aiosmtplib.SMTPException, OSError) as error:
        raise TransientMailError(f"{type(error).__name__}: {error}") from error
