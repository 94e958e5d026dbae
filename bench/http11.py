"""The bench's HTTP client: requests over kept-alive HTTP/1.1 connections, with nothing the
measure does not need — no redirects, cookies, decoding or response models, only the status
and the body's bytes (a JSON body is encoded here, an answer's JSON parsed by the caller).

The bench client shares the machine's cores with the API and PostgreSQL it measures, so
what it spends per request is taken from them: httpx spent ≈ 1.3–1.5 ms of CPU per GET
(its transport, headers and response models), this one a tenth of that. The reads use it
for their GETs, the Pakta leg for its creations, uploads and actions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    pass


class KeptConnection:
    """One connection to `url`'s server, opened on the first request and kept; one request
    at a time (each concurrent client holds its own)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """The status and body of `GET path`; the connection is reopened once if the server
        closed it while idle."""
        return await self.request("GET", path, headers)

    async def post(
        self,
        path: str,
        headers: dict[str, str],
        *,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> tuple[int, bytes]:
        """The status and body of `POST path` with `json_body` (encoded as JSON) or the raw
        bytes of `content` (as `content_type`)."""
        if content is None:
            content, content_type = json.dumps(json_body, separators=(",", ":")).encode(), "application/json"
        return await self.request(
            "POST", path, headers | {"Content-Type": content_type or "application/octet-stream"}, content
        )

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        """One request and its answer. A connection the server closed while it was idle is
        reopened before the request is sent; a GET that fails on a reused connection is
        sent once more on a new one (a POST is not: the server may have acted on it)."""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        if body is not None:
            head += f"Content-Length: {len(body)}\r\n"
        request = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}\r\n".encode()
        if body:
            request += body
        if self._streams is not None and (self._streams[0].at_eof() or self._streams[1].is_closing()):
            self.close()
        reused = self._streams is not None
        try:
            return await self._exchange(request)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused or method != "GET":
                raise
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        if (at := head.find(b"\r\ncontent-length:")) >= 0:
            body = await reader.readexactly(int(head[at + 17 : head.index(b"\r\n", at + 2)]))
        elif b"\r\ntransfer-encoding: chunked" in head:
            body = await _chunks(reader)
        else:
            raise HttpError(f"a response without a length: {head[:200]!r}")
        if b"\r\nconnection: close" in head:
            self.close()
        return status, body

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        body += await reader.readexactly(size)
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")  # the end, without trailers
    return bytes(body)


class KeptConnections:
    """`size` kept connections to one server, each lent to one client at a time."""

    def __init__(self, url: str, size: int) -> None:
        self._idle: asyncio.Queue[KeptConnection] = asyncio.Queue()
        self._all = [KeptConnection(url) for _ in range(size)]
        for connection in self._all:
            self._idle.put_nowait(connection)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[KeptConnection]:
        connection = await self._idle.get()
        try:
            yield connection
        finally:
            self._idle.put_nowait(connection)

    def close(self) -> None:
        for connection in self._all:
            connection.close()
