"""How uvicorn serves the API: HTTP parsed by httptools (llhttp, in C), and requests it
cannot parse get the one error shape too.

uvicorn answers a request its parser refuses — a malformed request line, or headers still
incomplete past `MAX_HEADER_BYTES` (those that arrive whole are refused by
`services.api.limits` with 431) — with a plain-text 400 before any of Pakta's code runs.
This protocol sends `{"error": {"code": "invalid_request", "message": ...}}` instead.

httptools rather than h11, uvicorn's pure-Python parser, which cost a measurable share of
the API's CPU per request (docs/performance.md). llhttp sets no limit of its own on headers
that keep arriving, so the protocol counts a request's bytes until its headers are complete
and refuses it past the limit, as h11's `max_incomplete_event_size` did. It runs on uvloop
(`services.eventloop`).
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0  # the next request on this connection begins

    def send_400_response(self, msg: str) -> None:
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_UNREADABLE_BODY), _UNREADABLE_BODY)
        )
        self.transport.close()


def server_options() -> dict[str, Any]:
    """uvicorn.run / uvicorn.Config keyword arguments the API is always served with."""
    return {"http": JsonErrorHttpToolsProtocol, "loop": "uvloop"}
