"""The one error type of Pakta.

Pure Python on purpose: the workflows layer and activities may raise or translate into it,
and services/api/errors.py renders it as `{"error": {"code", "message", ...details}}`.

    raise Conflict("cannot sign in stage draft", code="invalid_transition",
                   stage="draft", allowed_actions=["submit"])
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

_RESERVED = frozenset({"code", "message"})
MAX_DETAIL_CHARS = 200  # of a text in an error's details: an id of 10,000 characters came back whole


def _cut(value: Any) -> Any:
    """A detail as the error names it: a text (alone or in a list) cut to MAX_DETAIL_CHARS
    with an ellipsis — enough to tell what was asked for, not the whole of a hostile input."""
    if isinstance(value, str):
        return value if len(value) <= MAX_DETAIL_CHARS else value[:MAX_DETAIL_CHARS] + "…"
    if isinstance(value, list | tuple):
        return [_cut(v) for v in value]
    return value


class PaktaError(Exception):
    status: int = 500
    code: str = "internal_error"
    message: str = "Internal server error."
    headers: Mapping[str, str] = MappingProxyType({})  # per class; an instance merges its own

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.status = status or type(self).status
        # Extra keyword arguments are details too; they must not shadow code/message.
        # Cut here, once, so the response and an idempotent replay of it (`to_body`) agree.
        self.details = {k: _cut(v) for k, v in {**(details or {}), **extra}.items() if k not in _RESERVED}
        self.headers = {**type(self).headers, **(headers or {})}
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class Unauthorized(PaktaError):
    status, code, message = 401, "unauthorized", "Authentication required."
    headers: Mapping[str, str] = MappingProxyType({"WWW-Authenticate": "Bearer"})


class Forbidden(PaktaError):
    status, code, message = 403, "forbidden", "Not allowed."


class NotFound(PaktaError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(PaktaError):
    status, code, message = 409, "conflict", "Conflict with the current state."


class PreconditionFailed(PaktaError):
    status, code, message = 412, "precondition_failed", "The resource has changed."


class PayloadTooLarge(PaktaError):
    status, code, message = 413, "payload_too_large", "Payload too large."


class Unprocessable(PaktaError):
    status, code, message = 422, "unprocessable", "The request cannot be processed."


class ServiceUnavailable(PaktaError):
    status, code, message = 503, "service_unavailable", "Service unavailable, try again later."
