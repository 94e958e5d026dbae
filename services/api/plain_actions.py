"""The hot POST (`POST /agreements/{id}/actions`) served without FastAPI's dependency
solving at request time — `services.api.plain_reads` for a route with headers and a JSON body.

FastAPI solves an action's parameters one by one on every request: the principal's
dependency with its cache key and sub-response, the path's and each header's annotation
looked over again, the body's field found and validated — ≈ 460 of an accepted action's
≈ 2,260 Python calls in the API, and ≈ 60 more deciding from the Content-Type whether the
body is JSON (#11, docs/performance.md). A `PlainAction` route keeps the endpoint's
signature, so FastAPI builds the same OpenAPI document from it; at request time it reads
the body as FastAPI does (the same Content-Type rule, the same errors for bad JSON or a body
that cannot be read), asks the caller's principal of the route's one dependency, validates
the path's and the headers' parameters in one pass each of a model made once from the very
declarations FastAPI read, the body with FastAPI's own `request_body_to_args`, and calls the
endpoint — errors in FastAPI's order and words.

Only for what such a route takes: path and optional header parameters, one JSON body,
`Request`, and dependencies that take the request alone (`PrincipalDep`); anything else is
refused when the route is built. An app whose `dependency_overrides` are set, or a request
FastAPI's own telemetry watches, is served by FastAPI's own handler.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response, params
from fastapi._body_limit import get_body_limit_error
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from fastapi.telemetry import get_telemetry_data
from pydantic import ValidationError
from pydantic_core import PydanticUndefined
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from services.api.plain_reads import (
    Endpoint,
    _located,
    _parameters_model,
    _takes_the_request_alone,
    served_as_included,
)

# The one Content-Type every client of the API sends: JSON by FastAPI's rule (main type
# `application`, subtype `json`), known without building an `email.message.Message` to parse it.
_JSON = "application/json"


def plain_action(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """`@router.post(path, **options)`, served as a `PlainAction` route."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=["POST"], route_class_override=PlainAction, **options)
        return endpoint

    return register


class PlainAction(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # As `PlainRead`: served as FastAPI's inclusion serves it; without FastAPI's hook,
        # FastAPI's own solving.
        served = served_as_included(self)
        if served is None:
            return super().get_route_handler()
        dependant = served.dependant
        body_field = served.body_field
        if (
            dependant.query_params
            or dependant.cookie_params
            or len(dependant.body_params) != 1
            or body_field is None
            or isinstance(body_field.field_info, params.Form)
            or served._embed_body_fields
            or any(f.field_info.is_required() for f in dependant.header_params)
            or not all(_takes_the_request_alone(d) for d in dependant.dependencies)
        ):
            raise TypeError(f"{self.path}: a PlainAction route takes path and header parameters, one JSON body")
        solved = super().get_route_handler()
        overrides = served.dependency_overrides_provider
        strict = served.strict_content_type
        strict_content_type = strict.value if isinstance(strict, DefaultPlaceholder) else strict
        path_parameters = _parameters_model(self.name, dependant.path_params, "path")
        header_parameters = _parameters_model(self.name, dependant.header_params, "header")
        # The header each parameter is read from: its alias, as FastAPI looks it up (any case).
        headers_read = [str(f.alias) for f in dependant.header_params]
        body_params = dependant.body_params
        dependencies: list[tuple[str, Callable[[Request], Awaitable[Any]]]] = [
            (str(d.name), d.call) for d in dependant.dependencies if d.call is not None
        ]
        request_name = dependant.request_param_name
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            if (overrides is not None and getattr(overrides, "dependency_overrides", None)) or (
                get_telemetry_data() is not None
            ):
                return await solved(request)
            body = await _json_body(request, strict_content_type=strict_content_type)
            values: dict[str, Any] = {}
            for name, call in dependencies:  # FastAPI solves them before it reports the parameters
                values[name] = await call(request)
            errors: list[Any] = []
            try:
                values.update(path_parameters.model_validate(dict(request.path_params)).__dict__)
            except ValidationError as error:
                errors += _located(error, "path")
            headers = request.headers
            given = {name: value for name in headers_read if (value := headers.get(name)) is not None}
            try:
                values.update(header_parameters.model_validate(given).__dict__)
            except ValidationError as error:
                errors += _located(error, "header")
            command, body_errors = await request_body_to_args(
                body_fields=body_params, received_body=body, embed_body_fields=False
            )
            values.update(command)
            errors += body_errors
            if errors:
                raise RequestValidationError(errors, body=None if body is _UNDEFINED else body)
            if request_name:
                values[request_name] = request
            response: Response = await endpoint(**values)
            return response

        return handler


# FastAPI's "no body" (its `Undefined`): an empty body, which its validation reports as missing.
_UNDEFINED: Any = PydanticUndefined


async def _json_body(request: Request, *, strict_content_type: bool) -> Any:
    """The request's body as FastAPI's handler reads it for a JSON body parameter: the
    decoded JSON when the Content-Type says JSON (or, not strict, when there is none), the
    raw bytes otherwise, `Undefined` when empty; bad JSON its `json_invalid` error, a body
    that cannot be read its 400 (or the body limit's error)."""
    try:
        body_bytes = await request.body()
        if not body_bytes:
            return _UNDEFINED
        content_type = request.headers.get("content-type")
        if not content_type:
            return await request.json() if not strict_content_type else body_bytes
        if content_type == _JSON or _says_json(content_type):
            return await request.json()
        return body_bytes
    except json.JSONDecodeError as error:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", error.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": error.msg},
                }
            ],
            body=error.doc,
        ) from error
    except HTTPException:
        raise
    except Exception as error:
        if MAX_BODY_SIZE_SCOPE_KEY in request.scope and (limit := get_body_limit_error(error)):
            raise limit from error
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from error


def _says_json(content_type: str) -> bool:
    # FastAPI's rule, word for word (`fastapi.routing.get_request_handler`).
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() == "application":
        subtype = message.get_content_subtype()
        return subtype == "json" or subtype.endswith("+json")
    return False
