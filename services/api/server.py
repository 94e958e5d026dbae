"""How uvicorn serves the API: HTTP parsed by httptools (llhttp, in C), and requests it
cannot parse get the one error shape too.

uvicorn answers a request its parser refuses — a malformed request line, or headers still
incomplete past `MAX_HEADER_BYTES` (those that arrive whole are refused by
`services.api.limits` with 431) — with a plain-text 400 before any of Pakta's code runs.
This protocol sends `{"error": {"code": "invalid_request", "message": ...}}` instead.

httptools rather than h11, uvicorn's pure-Python parser, which cost a measurable share of
the API's CPU per request (docs/performance-log.md). llhttp sets no limit of its own on headers
that keep arriving, so the protocol counts a request's bytes until its headers are complete
and refuses it past the limit, as h11's `max_incomplete_event_size` did. It runs on uvloop
(`services.eventloop`).

uvicorn writes a response's status line and headers, then its body: two writes, two
segments on the wire, two wake-ups of the client for one answer. `OneWriteResponses` holds
the head until the first part of the body (or the connection's close) and sends them
together: one system call per response in the API and one read in the client.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from services.api.limits import MAX_HEADER_BYTES

UNREADABLE = "The request could not be read: its headers are malformed or larger than 16 KiB."
_UNREADABLE_BODY = json.dumps({"error": {"code": "invalid_request", "message": UNREADABLE}}).encode()


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    # Bytes received since the current request began, while its headers are incomplete
    # (None once they are complete: its body and the rest are not counted).
    _head_bytes: int | None = 0

    def data_received(self, data: bytes) -> None:
        if self._head_bytes is not None:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._head_bytes is not None and self._head_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
            self.send_400_response("headers too large")

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()  # makes the request's cycle (its task has not run yet)
        cycle = getattr(self, "cycle", None)  # none yet if the first request was an upgrade
        if cycle is not None and cycle.transport is self.transport:  # a new cycle, not yet wrapped
            cycle.transport = cast(asyncio.Transport, OneWriteResponses(self.transport, cycle))

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0  # the next request on this connection begins

    def send_400_response(self, msg: str) -> None:
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_UNREADABLE_BODY), _UNREADABLE_BODY)
        )
        self.transport.close()


class OneWriteResponses:
    """The connection as one request's cycle writes to it: the response's head (the first
    write once the response has started) waits for the body's first part and goes with it.
    A `100 Continue` (written before the response starts) and the head of an answer to HEAD
    (which has no body) go at once; a close sends what is held first."""

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._head_seen = False

    def write(self, data: bytes) -> None:
        if not self._head_seen and self._cycle.response_started:
            self._head_seen = True
            # A HEAD answer writes no body (uvicorn sends nothing after its head): send it now.
            if self._cycle.scope["method"] != "HEAD":
                self._head = data
                return
        if self._head is not None:
            data, self._head = self._head + data, None
        self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            self._transport.write(self._head)
            self._head = None
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, …: the connection's
        return getattr(self._transport, name)


def server_options() -> dict[str, Any]:
    """uvicorn.run / uvicorn.Config keyword arguments the API is always served with."""
    return {"http": JsonErrorHttpToolsProtocol, "loop": "uvloop"}
