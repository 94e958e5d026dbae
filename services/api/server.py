"""How uvicorn serves the API: requests it cannot parse get the one error shape too.

uvicorn answers a request h11 refuses — a malformed request line, or headers still
incomplete past `MAX_HEADER_BYTES` (those that arrive whole are refused by
`services.api.limits` with 431) — with a plain-text 400 before any of Pakta's code runs.
This protocol sends `{"error": {"code": "invalid_request", "message": ...}}` instead.
(Pinned to h11: the httptools protocol has its own, separate 400.) It runs on uvloop
(`services.eventloop`).
"""

from __future__ import annotations

import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from services.api.limits import MAX_HEADER_BYTES

UNREADABLE = "The request could not be read: its headers are malformed or larger than 16 KiB."


class JsonErrorH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": {"code": "invalid_request", "message": UNREADABLE}}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # h11 cannot answer in this state: close, as uvicorn would
            pass
        self.transport.close()


def server_options() -> dict[str, Any]:
    """uvicorn.run / uvicorn.Config keyword arguments the API is always served with."""
    return {"http": JsonErrorH11Protocol, "h11_max_incomplete_event_size": MAX_HEADER_BYTES, "loop": "uvloop"}
