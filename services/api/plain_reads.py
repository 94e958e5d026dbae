"""The hot GETs (`GET /agreements`, `GET /agreements/{id}`, its action plan) served without
FastAPI's dependency solving at request time.

FastAPI solves a route's parameters one by one on every request: for each, it looks its
annotation over again (is it a model? a sequence? which alias?), copies its default and
validates the value alone, then solves each dependency with its own cache key and
sub-response — ≈ 1,130 of a list page's 2,420 Python calls in the API, and ≈ 200 of a
GET's 1,660 (#11, docs/performance.md). A `PlainRead` route keeps the endpoint's
signature, so FastAPI builds the same OpenAPI document from it; at request time it
validates the path's and the query's parameters in one pass of a model made once from
the very declarations FastAPI read (the same types, defaults and constraints), asks the
caller's principal of the route's one dependency, and calls the endpoint.

Only for what these routes take: path and query parameters, `Request`, and dependencies
that take the request alone (`PrincipalDep`); anything else is refused when the route is
built, not served wrongly. An app whose `dependency_overrides` are set (none of Pakta's
are), or a request FastAPI's own telemetry watches (it records the request and the values
its handler solved), is served by FastAPI's own handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response, routing
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from fastapi.telemetry import get_telemetry_data
from pydantic import BaseModel, ValidationError, create_model

Endpoint = Callable[..., Coroutine[Any, Any, Response]]


def plain_read(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """`@router.get(path, **options)`, served as a `PlainRead` route (in the same place among
    the router's routes, so the OpenAPI document lists them in the same order)."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=["GET"], route_class_override=PlainRead, **options)
        return endpoint

    return register


def served_as_included(route: APIRoute) -> APIRoute | None:
    """The route as FastAPI's inclusion serves it (its prefix, the including routers'
    dependencies, the app whose `dependency_overrides` apply — a router's own route knows no
    app: its provider is None until the app includes it); None without FastAPI's hook.

    FastAPI builds an included route's handler with this hook set, for integrations such as
    this one (`APIRoute.get_route_handler`). The hook is FastAPI's own, not its public
    interface: a FastAPI without it gets its own solving back (slower, never wrong), and
    `tests/api/test_plain_reads.py` and `test_plain_actions.py` — the routes never reach
    `solve_dependencies` — say so on the upgrade."""
    hook = getattr(routing, "_effective_route_context_var", None)
    if hook is None:
        return None
    included = hook.get()
    return included if included is not None and included.original_route is route else route


class PlainRead(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        served = served_as_included(self)
        if served is None:
            return super().get_route_handler()
        dependant = served.dependant
        if (
            dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or any(f.field_info.is_required() for f in dependant.query_params)
            or not all(_takes_the_request_alone(d) for d in dependant.dependencies)
        ):
            raise TypeError(f"{self.path}: a PlainRead route takes path and query parameters and plain dependencies")
        # An app that overrides a dependency (`app.dependency_overrides`), or a request
        # FastAPI's telemetry watches, is served by FastAPI, as `PlainAction` is.
        solved = super().get_route_handler()
        overrides = served.dependency_overrides_provider
        parameters = _parameters_model(self.name, dependant.path_params, "path")
        query = _parameters_model(self.name, dependant.query_params, "query")
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
            values: dict[str, Any] = {}
            errors: list[Any] = []
            for model, given, location in (
                (parameters, request.path_params, "path"),
                (query, request.query_params, "query"),
            ):
                try:
                    values.update(model.model_validate(dict(given)).__dict__)
                except ValidationError as error:
                    errors += _located(error, location)
            for name, call in dependencies:  # FastAPI solves them before it reports the parameters
                values[name] = await call(request)
            if errors:
                raise RequestValidationError(errors)
            if request_name:
                values[request_name] = request
            response: Response = await endpoint(**values)
            return response

        return handler


def _takes_the_request_alone(dependency: Dependant) -> bool:
    """A dependency such as `PrincipalDep`: awaited with the request, nothing else to solve."""
    call = dependency.call
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__
    return (
        bool(dependency.name and dependency.request_param_name)
        and inspect.iscoroutinefunction(target)
        and not (
            dependency.dependencies
            or dependency.path_params
            or dependency.query_params
            or dependency.header_params
            or dependency.cookie_params
            or dependency.body_params
        )
    )


def _parameters_model(route: str, fields: list[Any], location: str) -> type[BaseModel]:
    """A model of the route's `fields` as FastAPI declared them: each its annotation and
    its `Query()` / `Path()` (type, default, constraints)."""
    declared: Any = {field.name: (field.field_info.annotation, field.field_info) for field in fields}
    return create_model(f"{route}_{location}", **declared)


def _located(error: ValidationError, location: str) -> list[dict[str, Any]]:
    # As FastAPI reports a parameter's error: its location first, no documentation URL.
    return [{**e, "loc": (location, *e["loc"])} for e in error.errors(include_url=False)]
