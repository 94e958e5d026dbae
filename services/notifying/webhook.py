"""Webhooks per the Standard Webhooks specification (https://www.standardwebhooks.com):
a JSON POST signed with HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>", so
receivers verify with an off-the-shelf library (e.g. `standardwebhooks.Webhook`).

The webhook-id is the event id: a receiver that saw it already can drop the delivery,
which covers the one case the delivery log cannot (a crash after the receiver accepted the
request but before we logged it as sent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from workflows.messages import Event

SECRET_PREFIX = "whsec_"
USER_AGENT = "Pakta-Webhooks/1"


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def payload(event: Event) -> bytes:
    """The body: the event as `GET /agreements/{id}/events` shows it (without the actor)."""
    body = {
        "id": event.id,
        "type": event.type,
        "agreement_id": event.agreement_id,
        "seq": event.seq,
        "version": event.version,
        "at": event.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def headers(*, msg_id: str, timestamp: int, body: bytes, secrets: Iterable[str]) -> dict[str, str]:
    """One signature per active secret (space-separated), so during a rotation receivers
    holding either the new or the old secret verify."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets),
    }


def retryable(status: int) -> bool:
    return status >= 500 or status == 429 or status < 200 or 300 <= status < 400


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None
