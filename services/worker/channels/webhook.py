"""Posting a webhook: to the one address checked, with nothing of the answer kept.

The URL's host is resolved once and every address it resolves to is checked
(`services.notifying.webhook.resolve`); the request then connects to that address, with the
registered host as Host header and TLS server name (so certificates are verified against
it), and never resolves the name again — a DNS answer that changes between the check and
the connection (rebinding) cannot lead it elsewhere. No redirects, no proxies from the
environment. An attempt's result is a status code and a generic error class.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime

import httpx

from services.notifying import webhook


@dataclass(frozen=True)
class Outcome:
    status: int | None = None  # the receiver's status code, if it answered
    error: str | None = None  # one of webhook.ERROR_CLASSES; None: delivered (2xx)
    retry_after: float | None = None  # seconds the receiver asked us to wait
    permanent: bool = False  # retrying cannot help (a refused address, a 4xx, an unusable URL)


def new_client() -> httpx.AsyncClient:
    # No redirects: a 3xx is a misconfigured endpoint, not a new address to post to.
    return httpx.AsyncClient(follow_redirects=False, trust_env=False)


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    egress: webhook.Egress,
    content: bytes,
    headers: dict[str, str],
    timeout_seconds: float,
    now: datetime,
) -> Outcome:
    """Post `content` to `url` if it leads where webhooks may go. Never raises for what the
    network, the receiver or the URL does: every failure is an Outcome."""
    try:
        target = await webhook.resolve(url, egress)
    except webhook.UrlRefused as refused:
        return Outcome(error=refused.error, permanent=refused.error != "dns_error")
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        response = await client.post(
            target.connect_url,
            content=content,
            headers={**headers, "host": target.host_header},
            timeout=timeout_seconds,
            extensions=extensions,
        )
    except httpx.TimeoutException:
        return Outcome(error="timeout")
    except httpx.ConnectError as error:
        return Outcome(error=_connect_error(error))
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        return Outcome(error="invalid_url", permanent=True)
    except httpx.TransportError:
        return Outcome(error="connection_error")
    except Exception:  # anything else counts as a failed attempt, never an endless retry
        return Outcome(error="unexpected_error", permanent=True)
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(status=status)
    return Outcome(
        status=status,
        error="http_status",
        retry_after=webhook.retry_after_seconds(response.headers.get("retry-after"), now),
        permanent=not webhook.retryable(status),
    )


def _connect_error(error: BaseException) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return "tls_error"
        if isinstance(cause, ConnectionRefusedError):
            return "connection_refused"
        cause = cause.__cause__ or cause.__context__
    text = str(error).lower()
    if "ssl" in text or "certificate" in text or "tls" in text:
        return "tls_error"
    if "refused" in text:
        return "connection_refused"
    return "connection_error"
