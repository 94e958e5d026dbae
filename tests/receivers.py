"""Real receivers for delivery tests, on 127.0.0.1 only: an SMTP server (aiosmtpd) that
keeps what it receives, and a tiny HTTP/1.1 webhook receiver that verifies every request
with the `standardwebhooks` library and behaves per path (ok, flaky, refuse, down, block).

The webhook receiver deduplicates on `webhook-id` as the Standard Webhooks spec tells
receivers to: `processed` holds what it acted on, `requests` every request that arrived.

Both serve from a thread of their own (the SMTP server in aiosmtpd's, the webhook receiver
on an event loop of its own), never on the test's loop: a test's loop that stalls (the
machine busy, a test's own work) does not hold their answers back. A sender in another
process (`pakta worker`, `pakta dispatcher`) gets its answer whatever the test's loop does.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.embedded.ports import free_port
from tests.fixtures.ports import started_controller

T = TypeVar("T")

# ---------------------------------------------------------------- SMTP


def offering_pipelining(session, hostname: str, responses: list[str], *, offered: bool = True) -> list[str]:
    """aiosmtpd's EHLO replies, with PIPELINING (RFC 2920) among the extensions if
    `offered`, as Postfix and Exim offer it: aiosmtpd reads commands one line after another
    from its stream, so commands that arrive together are answered in order. The hook sets
    the session's host name, which aiosmtpd leaves to a handler's EHLO hook."""
    session.host_name = hostname
    return [*responses[:-1], "250-PIPELINING", responses[-1]] if offered else responses


class MailSink:
    """aiosmtpd in its own thread; `messages` are parsed `EmailMessage`s. It offers
    PIPELINING unless told not to (`pipelining=False`: one command at a time)."""

    def __init__(self, port: int | None = None, *, pipelining: bool = True) -> None:
        self.messages: list[EmailMessage] = []
        self.peers: set[tuple[str, int]] = set()  # the client end of each connection a message came over
        self.port = port or free_port()
        self._fixed = port is not None
        self.pipelining = pipelining
        self._controller: Controller | None = None

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:  # aiosmtpd's hook
        return offering_pipelining(session, hostname, responses, offered=self.pipelining)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        self.peers.add(tuple(session.peer[:2]))
        return "250 Message accepted for delivery"

    def start(self) -> MailSink:
        """Start on its port; if another process took it first (one it chose), on another."""
        self._controller = started_controller(self, self.port, fixed=self._fixed)
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address.lower() in m["X-Envelope-To"].lower()]


# ---------------------------------------------------------------- webhooks

# A webhook's timeout in the tests' settings (`fast()` in tests/worker/test_delivery.py, the
# `stack` of tests/api): no test waits for it to run out (the one about timeouts,
# test_webhook_client.py, sets its own). A request the receiver answered, but whose answer
# the sender read only after a stall longer than the timeout (the machine busy, the sender
# on the test's loop), would be a timeout: counted as a failure and sent again. At 3 s a busy
# machine did that; 60 s is a bound like the suite's polls. Leases and an attempt's
# start-to-close timeout follow it (`webhook_lease`, `delivery_policy`): a test that needs
# one run out ends it itself, as its time would (`lease_ended` in test_delivery.py).
WEBHOOK_TIMEOUT = 60.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool = False

    @property
    def msg_id(self) -> str:
        return self.headers.get("webhook-id", "")


Behaviour = Callable[["WebhookReceiver", Request], Awaitable[int | None]]


async def ok(receiver: WebhookReceiver, request: Request) -> int:
    return 200


def flaky(failures: int) -> Behaviour:
    """503 for the first `failures` attempts of each message, then 200."""

    async def behave(receiver: WebhookReceiver, request: Request) -> int:
        return 503 if receiver.attempts_of(request) <= failures else 200

    return behave


def status(code: int) -> Behaviour:
    async def behave(receiver: WebhookReceiver, request: Request) -> int:
        return code

    return behave


async def block_first(receiver: WebhookReceiver, request: Request) -> int | None:
    """Never answer the first attempt of a message (None: close without a response, once
    the receiver is told to let go); answer later ones at once."""
    if receiver.attempts_of(request) == 1:
        receiver.blocked.set()
        await receiver.release.wait()
        return None
    return 200


class Signal:
    """An event set from any thread and awaited on any event loop: the receiver's behaviours
    run on its own loop, the test waits on its loop (`blocked`), and either side sets one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        with self._lock:
            self._set = True
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                loop.call_soon_threadsafe(_wake, waiter)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._set:
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        await waiter


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # not cancelled meanwhile
        waiter.set_result(None)


@dataclass
class WebhookReceiver:
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # path -> whsec_ secret
    requests: list[Request] = field(default_factory=list)
    processed: dict[tuple[str, str], dict] = field(default_factory=dict)  # (path, webhook-id) -> body
    blocked: Signal = field(default_factory=Signal)
    release: Signal = field(default_factory=Signal)
    port: int = 0

    async def start(self) -> WebhookReceiver:
        """Serving, on a port the kernel chose, from an event loop in a thread of its own."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        self._server = await self._on_its_loop(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.release.set()
        try:
            await self._on_its_loop(self._close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join)
            self._loop.close()

    async def _on_its_loop(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def _close(self) -> None:
        self._server.close()
        # A behaviour still waiting (a test that failed before it let go) ends with the server.
        handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def attempts_of(self, request: Request) -> int:
        return sum(1 for r in self.requests if r.path == request.path and r.msg_id == request.msg_id)

    def raw_counts(self, path: str) -> Counter:
        return Counter(r.msg_id for r in self.at(path))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            _method, path, _version = request_line.split(" ", 2)
            headers = {
                k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines if ":" in line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Request(path=path, headers=headers, body=body)
            secret = self.secrets.get(path)
            if secret:
                try:
                    payload = Webhook(secret).verify(body, headers)
                    request.verified = True
                except WebhookVerificationError:
                    payload = None
            self.requests.append(request)
            code = await self.behaviours.get(path, ok)(self, request)
            if code is None:
                return
            if 200 <= code < 300 and request.verified:
                # Act once per message, as the spec asks receivers to.
                self.processed.setdefault((path, request.msg_id), payload)
            writer.write(f"HTTP/1.1 {code} Status\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
