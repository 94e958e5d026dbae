"""Email over SMTP (aiosmtplib): build the MIME message of one notification for one
recipient, send it, and tell a refusal (give up) from an outage (retry).

The Message-ID is derived from the event and the address, so if a crash makes us send the
same mail twice (accepted by the server, then the worker died before logging it as sent),
both copies carry the same id and mail systems that deduplicate on it keep one.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formataddr, formatdate

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


def build_message(*, notification: Notification, recipient: EmailRecipient, settings: Settings) -> EmailMessage:
    rendered = render(
        notification,
        language=recipient.language,
        name=recipient.name,
        public_url=settings.public_url,
        time_zone=recipient.time_zone,
    )
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = formataddr((recipient.name or "", recipient.address))
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(notification.event_id, recipient.address)
    # RFC 3834: no vacation auto-replies to notifications.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Pakta-Event-Id"] = notification.event_id
    message["X-Pakta-Agreement-Id"] = notification.agreement_id
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    # After the body: set_content/add_alternative move Content-* headers into the parts.
    message["Content-Language"] = recipient.language
    return message


async def send(message: EmailMessage, settings: Settings) -> None:
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
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
