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
import io
from collections.abc import Iterator
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import cast

import aiosmtplib

from services.notifying.render import render
from services.settings import Settings
from workflows.contracts.notify import EmailRecipient
from workflows.notify.rules import Notification

SMTP_TIMEOUT_SECONDS = 30.0


class PermanentMailError(Exception):
    """The server refused the message or recipient (5xx): retrying will not help."""


class TransientMailError(Exception):
    """The server is unreachable or asked us to try later (4xx)."""


def message_id(event_id: str, address: str) -> str:
    digest = hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]
    return f"<{event_id}.{digest}@pakta>"


# Bodies in quoted-printable UTF-8: readable in the raw message, safe over 7-bit relays.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP


def build_message(*, notification: Notification, recipient: EmailRecipient, settings: Settings) -> Message:
    """The MIME message: multipart/alternative, plain text then HTML.

    Built with the `email.mime` classes, not `EmailMessage`: the same message for a
    reader, at a fifth of the CPU (`EmailMessage` parses every header it is given through
    its header registry; the benchmark's mails cost the worker about a millisecond each
    that way — docs/performance.md)."""
    rendered = render(
        notification,
        language=recipient.language,
        name=recipient.name,
        public_url=settings.public_url,
        time_zone=recipient.time_zone,
    )
    message = MIMEMultipart("alternative")
    message["From"] = settings.mail_from
    message["To"] = formataddr((recipient.name or "", recipient.address), charset="utf-8")
    message["Subject"] = _header(rendered.subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(notification.event_id, recipient.address)
    # RFC 3834: no vacation auto-replies to notifications.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Pakta-Event-Id"] = notification.event_id
    message["X-Pakta-Agreement-Id"] = notification.agreement_id
    message["Content-Language"] = recipient.language
    message.attach(_text(rendered.text, "plain"))
    message.attach(_text(rendered.html, "html"))
    return message


def _header(value: str) -> str:
    """A header's text, RFC 2047-encoded when it is not ASCII. A `Header`, not its encoded
    text: the generator folds it knowing the header's name (the stubs allow only str)."""
    return value if value.isascii() else cast(str, Header(value, "utf-8"))


def _text(content: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(content, _UTF8)
    return part


async def send(message: Message, settings: Settings) -> None:
    """Send one message over a connection of its own."""
    with _mail_errors():
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=SMTP_TIMEOUT_SECONDS,
        )


def flatten(message: Message) -> bytes:
    """The message as the bytes sent after DATA: what aiosmtplib's `send_message` makes of
    a `Message` (compat32, 8bit), without its copy of the message (to drop Bcc headers we
    never write)."""
    out = io.BytesIO()
    BytesGenerator(out, policy=compat32).flatten(message)
    return out.getvalue()


class MailConnections:
    """Up to `size` SMTP connections kept open between messages, each carrying one message
    at a time: a mail costs its MAIL, RCPT and DATA, not a TCP connection, a greeting, EHLO,
    STARTTLS and a login each (the outbox dispatcher's largest cost per mail before).

    A connection the server closed while it sat idle (servers drop idle clients after a few
    minutes) fails at the next message: that message is tried once more on a new
    connection. A connection that failed otherwise is closed, never reused.

    The envelope is given, not read back from the message: the sender is `mail_from`'s
    address (parsed once), the recipient the address the message was built for — parsing
    the From and To headers of every message was a twentieth of the dispatcher's CPU."""

    def __init__(self, settings: Settings, *, size: int = 4) -> None:
        self.settings = settings
        self._sender = parseaddr(settings.mail_from)[1] or settings.mail_from
        self._slots = asyncio.Semaphore(size)
        self._idle: list[aiosmtplib.SMTP] = []
        self.opened = 0  # connections opened so far

    async def send(self, message: Message, *, to: str) -> None:
        """Send `message` to the one address `to` (its To header's address)."""
        content = flatten(message)
        async with self._slots:
            with _mail_errors():
                smtp = self._idle.pop() if self._idle else None
                if smtp is not None:
                    try:
                        await self._send_on(smtp, to, content)
                        return
                    except aiosmtplib.SMTPServerDisconnected:
                        pass  # dropped while idle: once more, on a new connection
                await self._send_on(await self._connect(), to, content)

    async def _send_on(self, smtp: aiosmtplib.SMTP, to: str, content: bytes) -> None:
        try:
            await smtp.sendmail(self._sender, [to], content)
        except BaseException:
            smtp.close()
            raise
        self._idle.append(smtp)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for smtp in idle:
            with contextlib.suppress(Exception):
                await smtp.quit(timeout=2)
            smtp.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
        await smtp.connect()
        self.opened += 1
        return smtp


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
