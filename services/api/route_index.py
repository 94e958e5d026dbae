"""Each request's route found by one look-up instead of FastAPI's walk over every router.

FastAPI 0.165 keeps an included router as one entry of the app's routes (`_IncludedRouter`):
a request is matched against each such entry in turn — Pakta's app has 23 of them before its
web pages' mount — each trying its own routes in order, and the entry that matched then
matches the request all over again to handle it. ≈ 350 Python calls per request, every
route, actions too (#11, docs/performance.md).

`index_routes(app)` puts in front of the app's router an index made from FastAPI's own routes
— the very route contexts its inclusion built (each route's full path, converters, methods
and handler) — listing, for a request's method and the first segment of its path, the
routes that could serve it, in the order FastAPI tries them. The first whose path matches is
served as FastAPI serves it (the same scope: `route`, `endpoint`, `path_params`, FastAPI's
own keys, its telemetry's route), without the walk.

Whatever else arrives is FastAPI's: a request no indexed route matches fully (its 404, its
405 with `Allow`, its redirect to the path with or without the trailing slash), one that a
route FastAPI matches by code of its own (a mount, the app's own pages, a router included
with form limits) would take first, anything but HTTP. An index that no longer describes
the app's routes (a route added later) is built again before it serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute, APIRouter
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

# FastAPI's inclusion and the scope keys it reads back, none of them its public interface.
# A FastAPI without them is left to route alone (slower, never wrong), and
# tests/api/test_route_index.py — the app's requests are routed by the index — says so on
# the upgrade.
_INCLUDED_ROUTER: Any = getattr(fastapi_routing, "_IncludedRouter", None)
_ROUTE_SELECTED: Any = getattr(fastapi_routing, "_route_selected", None)
_FASTAPI_SCOPE = "fastapi"
_INCLUDED_ROUTER_KEY = "included_router"
_EFFECTIVE_ROUTE_KEY = "effective_route_context"

# A path whose first segment a route cannot name (a parameter there), or a method it serves
# without naming it: every look-up lists it.
_ANY = None

_routes_version = attrgetter("_routes_version")
# Routes that match a path only if its first segment is their path's (a literal one).
_MATCHED_BY_PATH = (Route.matches, Mount.matches, APIRoute.matches)


@dataclass(frozen=True, slots=True)
class _Served:
    """A route of an included router the index serves itself: FastAPI's context of it as
    included (full path, converters, handler) and the route its inclusion hands the request."""

    included: Any
    context: Any
    route: APIRoute


@dataclass(frozen=True, slots=True)
class _FastAPIs:
    """A route FastAPI matches by code of its own: if it matches the request fully, FastAPI
    routes the request (and takes this very route, the first one that does)."""

    route: BaseRoute


_Entry = _Served | _FastAPIs


def index_routes(app: FastAPI) -> None:
    """Route `app`'s requests through an index of its routes. Left to FastAPI alone when its
    router already has middleware of its own, or its FastAPI lacks what the index reads."""
    router = app.router
    if _INCLUDED_ROUTER is None or _ROUTE_SELECTED is None or router.middleware_stack != router.app:
        return
    router.middleware_stack = RouteIndex(router)


class RouteIndex:
    """The app's router's entry point (`Router.middleware_stack`); see the module's text."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._fastapi: ASGIApp = router.app
        self._build()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_stale():
            if scope["type"] == "http":
                self._build()
            await self._fastapi(scope, receive, send)
            return
        path = get_route_path(scope)
        segments = path.split("/", 2)
        by_method = self._by_segment.get(segments[1] if len(segments) > 1 else "", self._other_segment)
        for entry in by_method.get(scope["method"], by_method[_ANY]):
            if isinstance(entry, _FastAPIs):
                if entry.route.matches(scope)[0] is Match.FULL:
                    break
                continue
            found = entry.context.path_regex.match(path)
            if found is not None:
                await self._serve(entry, found.groupdict(), scope, receive, send)
                return
        await self._fastapi(scope, receive, send)

    async def _serve(self, entry: _Served, matched: dict[str, str], scope: Scope, receive: Receive, send: Send) -> None:
        # What FastAPI's router, the included router and the route do to the scope on their
        # way to the route's handler (`APIRouter.app`, `_IncludedRouter._handle_selected`,
        # `APIRoute.handle`), in their order; the method is one the route serves.
        context = entry.context
        if "router" not in scope:
            scope["router"] = self.router
        convertors = context.param_convertors
        for name, value in matched.items():
            matched[name] = convertors[name].convert(value)
        path_params = dict(scope.get("path_params", {}))
        path_params.update(matched)
        fastapi_scope = scope.setdefault(_FASTAPI_SCOPE, {})
        fastapi_scope[_INCLUDED_ROUTER_KEY] = entry.included
        scope.update(endpoint=context.endpoint, path_params=path_params, route=entry.route)
        _ROUTE_SELECTED(scope=scope, path=context.path_format, mount=False)
        fastapi_scope[_EFFECTIVE_ROUTE_KEY] = context
        await context.app(scope, receive, send)

    def _is_stale(self) -> bool:
        return self._routes != self.router.routes or list(map(_routes_version, self._routers)) != self._versions

    def _build(self) -> None:
        router = self.router
        self._routes = list(router.routes)
        self._routers = [route.original_router for route in self._routes if isinstance(route, _INCLUDED_ROUTER or ())]
        self._versions = list(map(_routes_version, self._routers))
        entries = [entry for route in self._routes for entry in _entries(route, app_router=router)]
        segments = {_first_segment(entry) for entry in entries} - {_ANY}
        methods = {method for entry in entries for method in _methods(entry) or ()}
        self._by_segment = {segment: _by_method(entries, segment, methods) for segment in segments}
        self._other_segment = _by_method(entries, _ANY, methods)


def _entries(route: BaseRoute, *, app_router: APIRouter) -> Iterable[_Entry]:
    """`route` of the app's as the index lists it: an included router's routes one by one
    when the index can serve each as FastAPI would, else the route as FastAPI's alone."""
    if _INCLUDED_ROUTER is None or not isinstance(route, _INCLUDED_ROUTER):
        return [_FastAPIs(route)]
    candidates = route.effective_candidates()
    served = [
        _Served(included=route, context=candidate, route=candidate.original_route)
        for candidate in candidates
        if not isinstance(candidate, _INCLUDED_ROUTER) and _is_served_as_included(candidate.original_route)
    ]
    # Anything that would not reach the route's handler the way `_serve` does: form limits
    # (FastAPI puts them in the scope first), a route FastAPI matches another way.
    if (
        len(served) != len(candidates)
        or app_router.form_limits
        or route.include_context.form_limits
        or getattr(route, "path_format", None) is not None
        or any(entry.context.app is None or entry.context.path_regex is None for entry in served)
    ):
        return [_FastAPIs(route)]
    return served


def _is_served_as_included(route: BaseRoute) -> bool:
    kind = type(route)
    return isinstance(route, APIRoute) and kind.matches is APIRoute.matches and kind.handle is APIRoute.handle


def _first_segment(entry: _Entry) -> str | None:
    """The literal first segment of every path `entry` matches, or `_ANY`."""
    if isinstance(entry, _FastAPIs) and type(entry.route).matches not in _MATCHED_BY_PATH:
        return _ANY
    path = entry.context.path if isinstance(entry, _Served) else getattr(entry.route, "path", None)
    if not isinstance(path, str) or not path.startswith("/"):
        return _ANY
    segment = path.split("/", 2)[1]
    return _ANY if "{" in segment or "}" in segment else segment


def _methods(entry: _Entry) -> set[str] | None:
    """The methods `entry` serves when its path matches, `_ANY` for all of them."""
    if isinstance(entry, _FastAPIs):
        return _ANY  # FastAPI asks it whatever the method
    return set(entry.context.methods) or _ANY


def _by_method(entries: Sequence[_Entry], segment: str | None, methods: set[str]) -> dict[str | None, list[_Entry]]:
    """For each method (and `_ANY` for the others), the entries that may serve a path whose
    first segment is `segment` (`_ANY`: one no route names), in FastAPI's order."""
    here = [entry for entry in entries if _first_segment(entry) in (segment, _ANY)]
    lists: dict[str | None, list[_Entry]] = {}
    for method in [*methods, _ANY]:
        lists[method] = [entry for entry in here if (served := _methods(entry)) is _ANY or method in served]
    return lists
