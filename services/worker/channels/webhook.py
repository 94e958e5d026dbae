"""Posting a webhook: to the one address checked, with nothing of the answer kept.

The URL's host is resolved once (a name's resolution is kept a few seconds for the
deliveries that follow, `webhook.Resolutions`) and every address it resolves to is checked
at every delivery (`services.notifying.webhook.resolve`); the request then connects to that address, with the
registered host as Host header and TLS server name (so certificates are verified against
it, and a kept connection is only reused for the same name), and never resolves the name
again — a DNS answer that changes between the check and the connection (rebinding) cannot
lead it elsewhere. No redirects, no proxies from the environment, no cookies. An attempt's
result is a status code and a generic error class; at most `ANSWER_LIMIT_BYTES` of an
answer are read (and dropped), so a receiver cannot make us hold a large one.

The client is aiohttp's (a C parser, one keep-alive pool keyed by address and server
name): httpx's pure-Python connection pool and streams were ≈ 18 % of the dispatcher's CPU
(docs/performance-log.md).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from yarl import URL

from services.notifying import webhook

# An answer's body is read up to this to keep its connection for the next post; a longer
# one is cut off with its connection (the status is all we keep).
ANSWER_LIMIT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    status: int | None = None  # the receiver's status code, if it answered
    error: str | None = None  # one of webhook.ERROR_CLASSES; None: delivered (2xx)
    retry_after: float | None = None  # seconds the receiver asked us to wait
    permanent: bool = False  # retrying cannot help (a refused address, a 4xx, an unusable URL)


class WebhookClient:
    """The keep-alive HTTP client webhooks go through: opened at the first post (in the
    event loop that posts), closed by `close`."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        # Host names' resolutions, kept a few seconds for the deliveries that follow; their
        # addresses are checked at every delivery all the same (`webhook.Resolutions`).
        self._resolutions = webhook.Resolutions()
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}  # one per timeout setting

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                trust_env=False,  # no proxies from the environment
                cookie_jar=aiohttp.DummyCookieJar(),  # one receiver's cookies never go to another
                auto_decompress=False,  # the answer is dropped unread
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self,
        url: str,
        *,
        egress: webhook.Egress,
        content: bytes,
        headers: dict[str, str],
        timeout_seconds: float,
        now: datetime,
    ) -> Outcome:
        """Post `content` to `url` if it leads where webhooks may go. Never raises for what
        the network, the receiver or the URL does: every failure is an Outcome."""
        try:
            target = await webhook.resolve(url, egress, self._resolutions)
        except webhook.UrlRefused as refused:
            return Outcome(error=refused.error, permanent=refused.error != "dns_error")
        try:
            # aiohttp's total timeout is the one bound: it runs from the request's start until
            # the connection is let go, the answer's reading included, so a receiver that
            # trickles its answer is cut off too. An `asyncio.timeout` around it as well, since
            # the move to aiohttp, bounded nothing more and cost a timer handle per request
            # (≈ 2 % of the dispatcher's CPU). aiohttp rounds a bound of 5 s or more up to a
            # whole second: within the claim's lease (`webhook_lease`: 1.5 × the timeout + 2 s).
            status, retry_after = await self._send(target, content, headers, timeout_seconds)
        except TimeoutError:
            return Outcome(error="timeout")
        except (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError):
            return Outcome(error="tls_error")
        except aiohttp.ClientConnectorError as error:
            return Outcome(error=_connect_error(error))
        except aiohttp.InvalidURL:
            return Outcome(error="invalid_url", permanent=True)
        except aiohttp.ClientError:
            return Outcome(error="connection_error")
        except Exception:  # anything else counts as a failed attempt, never an endless retry
            return Outcome(error="unexpected_error", permanent=True)
        if 200 <= status < 300:
            return Outcome(status=status)
        return Outcome(
            status=status,
            error="http_status",
            retry_after=webhook.retry_after_seconds(retry_after, now),
            permanent=not webhook.retryable(status),
        )

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    async def _send(
        self, target: webhook.Target, content: bytes, headers: dict[str, str], timeout_seconds: float
    ) -> tuple[int, str | None]:
        async with self._open().post(
            URL(target.connect_url, encoded=True),  # as checked, not re-quoted
            data=content,
            headers={**headers, "Host": target.host_header},
            # The name the certificate must match, and the TLS server name sent.
            server_hostname=target.host if target.scheme == "https" else None,
            allow_redirects=False,  # a 3xx is a misconfigured endpoint, not a new address to post to
            timeout=self._timeout(timeout_seconds),
        ) as response:
            read = 0
            while chunk := await response.content.readany():
                read += len(chunk)
                if read > ANSWER_LIMIT_BYTES:
                    response.close()  # not worth reading: drop the connection instead
                    break
            return response.status, response.headers.get("retry-after")


def _connect_error(error: aiohttp.ClientConnectorError) -> str:
    cause: BaseException | None = error.os_error
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
