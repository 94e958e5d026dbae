"""Every error leaves the API in one shape: {"error": {"code", "message", ...details}}."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import PaktaError

log = structlog.get_logger("pakta.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, **(details or {})}}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


async def _pakta_error(request: Request, exc: PaktaError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers or None)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{k: v for k, v in e.items() if k != "url"} for e in exc.errors()]
    return error_response(
        422, "validation_error", "The request is invalid.", {"errors": errors}
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    code = _HTTP_CODES.get(status) or phrase.lower().replace(" ", "_").replace("-", "_")
    message = exc.detail if isinstance(exc.detail, str) else phrase
    details = {} if isinstance(exc.detail, str) else {"detail": exc.detail}
    return error_response(status, code, message, details, getattr(exc, "headers", None))


def internal_error_response() -> JSONResponse:
    return error_response(500, "internal_error", "Internal server error.")


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Normally caught earlier by RequestObservability (with the request id); this is the
    # fallback for apps built without it.
    log.exception("unhandled_error", path=request.url.path)
    return internal_error_response()


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PaktaError, _pakta_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
