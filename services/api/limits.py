"""Hostile requests get a clear 4xx in the one error shape before any route sees them.

- A body larger than its limit is refused with 413 as soon as its declared length (or the
  bytes read so far) passes the limit — never parsed, never buffered whole. A 10 MB JSON
  body used to take ten seconds to refuse and stall the process meanwhile. The web pages'
  routes (`pages`, by path prefix) answer it with their own page: a person who posted a
  form in a browser would otherwise see the API's JSON.
- Headers (with the request line) over 16 KiB get 431.
- A path or query string that holds a NUL or another control character, or bytes that
  are not UTF-8, is refused with 400: no identifier, filter or cursor of Pakta's can hold
  one, and passing it on made PostgreSQL fail with a 500.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.errors import error_response

# The request line and headers together: larger is refused with 431 here, or with 400 by
# the server itself when they arrive in several reads (see services/api/server.py).
MAX_HEADER_BYTES = 16 * 1024
# C0 controls and DEL; a tab or newline has no place in a URL either.
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


# Of a Content-Length: more than any body limit, and within what PostgreSQL and `int` take.
CONTENT_LENGTH_DIGITS = 18


def header_number(value: str, max_digits: int) -> int | None:
    """A header's number (Content-Length, If-Match's version): ASCII digits only, at most
    `max_digits` of them; None otherwise. `str.isdigit` is true of "²" (a Latin-1 header
    byte) and of 5,000 digits, both of which `int` refuses; `int` takes "+1", " 1" and
    "1_0", which no such header holds."""
    if 0 < len(value) <= max_digits and value.isascii() and value.isdigit():
        return int(value)
    return None


# A 413 of the routes' own: given the request's scope and the limit it passed.
TooLargeAnswer = Callable[[Scope, int], Awaitable[ASGIApp]]


class RequestLimits:
    """`limits` maps a path prefix to its body limit in bytes; the longest prefix wins and
    `default_limit` covers the rest. `pages` maps a path prefix to the 413 its routes
    answer with instead of the error shape's JSON (the web pages' HTML page)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        limits: dict[str, int] | None = None,
        pages: dict[str, TooLargeAnswer] | None = None,
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = sorted((limits or {}).items(), key=lambda item: -len(item[0]))
        self.pages = sorted((pages or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits if path.startswith(prefix)), self.default_limit)

    async def too_large(self, scope: Scope, limit: int) -> ASGIApp:
        path = scope["path"]
        page = next((page for prefix, page in self.pages if path.startswith(prefix)), None)
        return _too_large(limit) if page is None else await page(scope, limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = len(scope.get("raw_path") or b"") + len(scope["query_string"])
        size += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if size > MAX_HEADER_BYTES:
            await error_response(
                431,
                "request_header_fields_too_large",
                f"The request line and headers exceed {MAX_HEADER_BYTES} bytes.",
                {"max_bytes": MAX_HEADER_BYTES},
            )(scope, receive, send)
            return
        problem = _url_problem(scope)
        if problem is not None:
            await error_response(400, "invalid_request", problem)(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await (await self.too_large(scope, limit))(scope, receive, send)
            return

        received = 0
        response_started = refused = False

        async def tracked_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the 413 has been sent; whatever the route says after it is moot
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        async def counted_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not response_started:
                    # Answer now, then tell the route the client is gone: frameworks turn an
                    # error raised while reading into a 400 of their own.
                    await (await self.too_large(scope, limit))(scope, receive, send)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted_receive, tracked_send)


def _too_large(limit: int) -> JSONResponse:
    return error_response(413, "payload_too_large", f"The request body exceeds {limit} bytes.", {"max_bytes": limit})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return header_number(value.decode("latin-1"), CONTENT_LENGTH_DIGITS)
    return None


def _url_problem(scope: Scope) -> str | None:
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    for part, raw in (("path", unquote_to_bytes(raw_path)), ("query", unquote_to_bytes(scope["query_string"]))):
        if _CONTROL.search(raw):
            return f"The {part} holds a control character."
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return f"The {part} is not valid UTF-8."
    return None
