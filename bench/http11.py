"""The reads' HTTP client: GETs over one kept-alive HTTP/1.1 connection, with nothing the
measure does not need — no redirects, cookies, decoding or JSON, only the status and the
body's bytes.

The bench client shares the machine's cores with the API and PostgreSQL it measures, so
what it spends per request is taken from them: httpx spent ≈ 1.3–1.5 ms of CPU per GET
(its transport, headers and response models), this one a tenth of that.
"""

from __future__ import annotations

import asyncio
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
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}\r\n".encode()
        reused = self._streams is not None
        try:
            return await self._exchange(request)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused:
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
