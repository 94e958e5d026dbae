"""Where the bench's notifications go: an SMTP sink (aiosmtpd) and a webhook receiver, on
127.0.0.1, that answer at once and only count what arrived (the tests' receivers in
tests/receivers.py also verify and keep it; the bench wants nothing to slow delivery)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosmtpd.controller import Controller

from services.embedded.ports import free_port


class MailCounter:
    """aiosmtpd in its own thread, counting messages and recipients. It offers PIPELINING
    (RFC 2920) as the MTAs Pakta sends to in production do (Postfix, Exim): aiosmtpd reads
    commands one line after another, so the dispatcher's MAIL, RCPT and DATA sent together
    are answered in order."""

    def __init__(self) -> None:
        self.messages = 0
        self.recipients = 0
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_EHLO(  # aiosmtpd's hook; it leaves the session's host name to it
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        self.messages += 1
        self.recipients += len(envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def start(self) -> MailCounter:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class WebhookCounter:
    """An HTTP/1.1 receiver that answers every POST with 204 and counts them. It keeps the
    connection open for the next request, as HTTP/1.1 servers do by default (nginx,
    uvicorn, gunicorn): a sink closing after every answer made the dispatcher pay a TCP
    connection per webhook, which a receiver in production costs it only after an idle
    spell."""

    def __init__(self) -> None:
        self.requests = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> WebhookCounter:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # one request after another, until the client closes
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                lines = head.lower().split("\r\n")
                length = next((int(line.split(":", 1)[1]) for line in lines if line.startswith("content-length:")), 0)
                await reader.readexactly(length)
                self.requests += 1
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()
