"""Every error leaves the API in one shape: {"error": {"code", "message", ...details}}."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import PaktaError
from workflows import messages as m

log = structlog.get_logger("pakta.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, **(details or {})}}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


async def _pakta_error(request: Request, exc: PaktaError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers or None)


MAX_REPORTED_ERRORS = 20  # a request with thousands of bad values gets the first few
MAX_ECHO_CHARS = 80  # of the bad input, echoed back so the caller can find it


def excerpt(value: Any) -> Any:
    """A short, always-encodable excerpt of a bad input value: a 10 MB field or a lone
    surrogate must not come back (or fail to be written) in the error that refuses it."""
    if value is None or isinstance(value, bool | int):
        return value if not isinstance(value, int) or abs(value) < 10**15 else excerpt(str(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN cannot be written as JSON
    if isinstance(value, str):
        text = value
    else:
        text = type(value).__name__  # objects and lists: only say what they were
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\u0000")
    return text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "…"


def validation_errors(raw: list[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors as the API reports them: where (`loc`), what (`msg`, `type`) and
    an excerpt of the value, never the whole input or internal context."""
    out = []
    for e in raw[:MAX_REPORTED_ERRORS]:
        entry: dict[str, Any] = {
            "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
            "msg": excerpt(str(e.get("msg", ""))),
            "type": e.get("type", "invalid"),
        }
        if "input" in e:
            entry["input"] = excerpt(e["input"])
        out.append(entry)
    return out


def refuse_beyond_the_edge(message: BaseModel, *where: str | int) -> None:
    """Refuse `message` with the 422 FastAPI's validation gives when it holds what the edge
    refuses (`workflows.messages.refused_at_the_edge`: a figure beyond its bound), its
    errors located under `where` (("body",) for a body). FastAPI validates a body without
    pydantic's context, so the edge's bounds are checked once it has."""
    refused = m.refused_at_the_edge(message)
    if refused:
        raise RequestValidationError([{**e, "loc": (*where, *e["loc"])} for e in refused])


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    raw = list(exc.errors())
    details: dict[str, Any] = {"errors": validation_errors(raw)}
    if len(raw) > MAX_REPORTED_ERRORS:
        details["errors_total"] = len(raw)
    return error_response(422, "validation_error", "The request is invalid.", details)


def _why_unreadable(cause: BaseException | None) -> str | None:
    """Why a JSON body could not be read, when the reader's error says more than FastAPI's
    400 does ("There was an error parsing the body", raised from it, for any reason)."""
    if isinstance(cause, RecursionError):
        return "The JSON body nests arrays or objects too deeply to be read."
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        return f"The JSON body holds an integer of more than {sys.get_int_max_str_digits()} digits."
    return None


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    code = _HTTP_CODES.get(status) or phrase.lower().replace(" ", "_").replace("-", "_")
    detail: object = exc.detail  # Starlette says str; FastAPI's HTTPException carries any value
    message = detail if isinstance(detail, str) else phrase
    if status == 400 and (why := _why_unreadable(exc.__cause__)) is not None:
        message = why
    details: dict[str, Any] = {} if isinstance(detail, str) else {"detail": detail}
    return error_response(status, code, message, details, getattr(exc, "headers", None))


def internal_error_response() -> JSONResponse:
    return error_response(500, "internal_error", "Internal server error.")


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Normally caught earlier by RequestObservability (with the request id); this is the
    # fallback for apps built without it.
    log.exception("unhandled_error", path=request.url.path)
    return internal_error_response()


def register_error_handlers(app: FastAPI) -> None:
    # The decorator form registers the same handlers; Starlette types add_exception_handler
    # for handlers of any Exception, not of one class.
    app.exception_handler(PaktaError)(_pakta_error)
    app.exception_handler(RequestValidationError)(validation_error)
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(Exception)(_unexpected_error)
