"""Each request's route is found by the index of the app's routes (services/api/route_index.py),
not by FastAPI's walk over every included router. Whatever a client sends, the app must
route it as the same app routed by FastAPI alone: the same answer (404, 405 with `Allow`,
redirects, the one JSON error shape), the same route template for the metrics and the
access line, the same scope for the handler, the same OpenAPI document."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType, FrameType
from typing import Any, get_args

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import request_response
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

from services.api.app import create_app
from services.api.deps import PrincipalDep
from services.api.route_index import RouteIndex
from services.errors import Forbidden
from services.settings import Settings
from tests.api.stack import Stack
from tests.fixtures.api import app_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


# The routes' own paths, near misses of them (case, slashes, encodings, extra segments, a
# parameter's place empty or full of what a path may carry) and what no route names.
HOSTILE_PATHS = (
    "/", "//", "///agreements", "/agreements", "/agreements/", "/agreements//", "/AGREEMENTS",
    "/agreements/ksdd-1", "/agreements/ksdd-1/", "/agreements/ksdd-1/actions", "/agreements/ksdd-1/actions/",
    "/agreements/ksdd-1/action-plan", "/agreements/ksdd-1/events", "/agreements/ksdd-1/events/verify",
    "/agreements/ksdd-1/drafts/diff", "/agreements/import", "/agreements/a/b/c/d", "/agreements/%2F",
    "/agreements/%2e%2e", "/agreements/..", "/agreements/%00", "/agreements/%E2%80%A8", "/agreements/%F0%9F%98%80",
    "/agreements/" + "x" * 3000, "/agreementsx", "/agreements.json", "/healthz", "/healthz/", "//healthz",
    "/readyz", "/metrics", "/metrics/", "/documents", "/documents/abc", "/inbox", "/inbox/", "/notifications/read-all",
    "/notifications/n-1/read", "/webhooks/w-1/rotate-secret", "/webhooks/w-1/deliveries", "/contacts/c-1",
    "/portfolio/digest", "/reports/upward.csv", "/organisations/kota-cirebon/settings", "/provinces", "/dev/mail",
    "/openapi.json", "/docs", "/docs/", "/redoc", "/static-offline-docs/nothing.js", "/static/web/nothing.css",
    "/static/web/../../etc/passwd", "/static/web", "/static", "/ui", "/ui/", "/ui/signin", "/ui/signin/",
    "/ui/agreements/ksdd-1/plan/nothing", "/ui/oidc/login", "/public", "/public/", "/public/ocds.json",
    "/nothing", "/%20", "/;", "/?", "/agreements?limit=3", "/agreements/ksdd-1?x=%ZZ",
)  # fmt: skip
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


class ScopeSeen:
    """What routing left in each request's scope, seen from outside the router."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last: Scope = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            self.last = scope


def _routed_by_fastapi_alone(app: FastAPI) -> FastAPI:
    app.router.middleware_stack = app.router.app
    return app


def _apps(settings: Settings) -> tuple[FastAPI, FastAPI]:
    """The app, and the same app routed by FastAPI alone, each seen from outside its router."""
    indexed, plain = create_app(settings), _routed_by_fastapi_alone(create_app(settings))
    for app in (indexed, plain):
        app.add_middleware(ScopeSeen)
    return indexed, plain


def _scope_seen(app: FastAPI) -> Scope:
    stack = app.middleware_stack
    while not isinstance(stack, ScopeSeen):
        stack = stack.app  # type: ignore[union-attr]
    return stack.last


def _routing_in(app: FastAPI) -> tuple[Any, ...]:
    """The scope's routing, the app's own objects named by what they are."""
    scope = _scope_seen(app)
    route = scope.get("route")
    fastapi_keys = dict(scope.get("fastapi", {}))
    included = fastapi_keys.pop("included_router", None)
    context = fastapi_keys.pop("effective_route_context", None)
    endpoint = scope.get("endpoint")
    return (
        getattr(route, "path", None),
        (type(route), getattr(route, "name", None), getattr(route, "methods", None)),
        (getattr(endpoint, "__module__", None), getattr(endpoint, "__qualname__", None)),
        scope.get("path_params"),
        "the app's router" if scope.get("router") is app.router else scope.get("router"),
        getattr(included, "original_router", None),
        (getattr(context, "original_route", None), getattr(context, "path_format", None), type(context)),
        fastapi_keys,
        sorted(scope),
    )


def _answer(response: Any) -> tuple[Any, ...]:
    """A refusal whole; of a route's answer, and of a web page, what routing decides (their
    bodies carry the moment, a form's CSRF token, the metrics' counters moving between the
    two apps' answers)."""
    if response.status_code < 300:
        return response.status_code, response.headers.get("content-type")
    headers = {name: value for name, value in response.headers.items() if name not in _VOLATILE_HEADERS}
    page = response.headers.get("content-type", "").startswith("text/html")
    return response.status_code, headers, None if page else response.content


_VOLATILE_HEADERS = ("x-request-id", "date", "set-cookie", "content-length")


async def test_the_app_s_routers_are_routed_by_the_index(stack: Stack):
    app = create_app(stack.settings)
    assert isinstance(app.router.middleware_stack, RouteIndex)


async def test_every_hostile_path_and_method_is_routed_as_fastapi_routes_it(stack: Stack):
    indexed, plain = _apps(stack.settings)
    async with app_client(indexed) as indexed_client, app_client(plain) as plain_client:
        answers = set()
        for path in HOSTILE_PATHS:
            for method in METHODS:
                for headers in ({}, stack.auth(stack.user("kota-cirebon", "staff"))):
                    ours = await indexed_client.request(method, path, headers=headers)
                    theirs = await plain_client.request(method, path, headers=headers)
                    assert _answer(ours) == _answer(theirs), (method, path)
                    assert _routing_in(indexed) == _routing_in(plain), (method, path)
                    answers.add(ours.status_code)
    # Each kind of routing's answer was compared: served, refused, redirected, not found,
    # the wrong method.
    assert {200, 401, 307, 404, 405} <= answers


async def test_an_app_served_under_a_root_path_is_routed_as_fastapi_routes_it(stack: Stack):
    indexed, plain = _apps(stack.settings)
    async with indexed.router.lifespan_context(indexed), plain.router.lifespan_context(plain):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app, root_path="/pakta"), base_url="http://pakta.test")
            for app in (indexed, plain)
        ]
        async with clients[0] as indexed_client, clients[1] as plain_client:
            for path in ("/pakta/agreements/ksdd-1", "/pakta/healthz", "/pakta", "/pakta/", "/pakt/x", "/healthz"):
                for method in ("GET", "POST"):
                    ours = await indexed_client.request(method, path)
                    theirs = await plain_client.request(method, path)
                    assert _answer(ours) == _answer(theirs), (method, path)
                    assert _routing_in(indexed) == _routing_in(plain), (method, path)


async def test_a_wrong_method_is_the_same_405_with_allow_in_the_one_error_shape(stack: Stack):
    indexed, plain = _apps(stack.settings)
    async with app_client(indexed) as indexed_client, app_client(plain) as plain_client:
        ours = await indexed_client.get("/agreements/ksdd-1/actions")
        theirs = await plain_client.get("/agreements/ksdd-1/actions")
    assert ours.status_code == 405 and ours.headers["allow"] == "POST"
    assert ours.json()["error"]["code"] and set(ours.json()) == {"error"}
    assert _answer(ours) == _answer(theirs)


async def test_the_openapi_document_is_the_same_byte_for_byte(stack: Stack):
    indexed, plain = _apps(stack.settings)
    async with app_client(indexed) as indexed_client, app_client(plain) as plain_client:
        ours = await indexed_client.get("/openapi.json")
        theirs = await plain_client.get("/openapi.json")
    assert ours.status_code == 200 and ours.content == theirs.content


async def test_a_dependency_override_is_honoured_on_the_routes_the_index_serves(stack: Stack):
    async def refused() -> None:
        raise Forbidden("overridden")

    for app in _apps(stack.settings):
        app.dependency_overrides[get_args(PrincipalDep)[1].dependency] = refused
        async with app_client(app) as client:
            response = await client.get("/agreements/ksdd-1", headers=stack.auth(stack.user("kota-cirebon", "staff")))
            assert response.status_code == 403 and response.json()["error"]["message"] == "overridden"


async def test_a_router_included_after_the_first_request_is_routed_too(stack: Stack):
    indexed, plain = _apps(stack.settings)
    async with app_client(indexed) as indexed_client, app_client(plain) as plain_client:
        assert (await indexed_client.get("/later")).status_code == 404
        for app in (indexed, plain):
            app.get("/later")(_later)
        ours, theirs = await indexed_client.get("/later"), await plain_client.get("/later")
        assert ours.status_code == 200 and _answer(ours) == _answer(theirs)
        assert _routing_in(indexed)[0] == "/later"


async def _later() -> dict[str, str]:
    return {"added": "later"}


# Python calls (C functions too) between the app's router's entry and the route's handler:
# an agreement's GET and action (the API's routes are few under their path's first segment),
# any request (a web page is tried against the web pages before it under /ui, ≈ 20).
AN_AGREEMENT_S_ROUTING_CALLS = 32
ROUTING_CALLS_BOUND = 64
# A route's handler, as FastAPI makes it (`request_response`): where routing ends.
(_HANDLER,) = (code for code in request_response.__code__.co_consts if isinstance(code, CodeType))


@contextmanager
def _routing_calls() -> Iterator[list[int]]:
    """The calls routing makes in each request: those made under the router's entry until
    the matched route's handler (FastAPI's `request_response` app) starts — not the
    handler's, nor those of other tasks run by the loop meanwhile (the stack's worker)."""
    router_entry = Router.__call__.__code__
    counted: list[int] = []
    entries: list[FrameType] = []
    # A coroutine's frame is "called" again each time it resumes: a call is its first.
    started: dict[int, FrameType] = {}

    def routing(frame: FrameType | None) -> bool:
        while frame is not None:
            if frame.f_code is _HANDLER:
                return False
            if frame is entries[-1]:
                return True
            frame = frame.f_back
        return False

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            if started.get(id(frame)) is frame:
                return
            started[id(frame)] = frame
        if event == "call" and frame.f_code is router_entry:
            entries.append(frame)
            counted.append(0)
        elif event in ("call", "c_call") and entries and routing(frame if event == "c_call" else frame.f_back):
            counted[-1] += 1

    sys.setprofile(profile)
    try:
        yield counted
    finally:
        sys.setprofile(None)


async def test_routing_a_request_takes_a_bounded_number_of_python_calls_whatever_its_route(stack: Stack):
    indexed, plain = _apps(stack.settings)
    requests = (
        ("GET", "/agreements/ksdd-1"),
        ("GET", "/agreements?limit=3"),
        ("POST", "/agreements/ksdd-1/actions"),
        ("GET", "/healthz"),
        ("GET", "/public/agreements/ksdd-1"),
        ("GET", "/ui/signin"),
    )
    async with app_client(indexed) as indexed_client, app_client(plain) as plain_client:
        for method, path in requests:  # the first request of each kind warms what is built once
            await indexed_client.request(method, path)
            await plain_client.request(method, path)
        with _routing_calls() as ours:
            for method, path in requests:
                await indexed_client.request(method, path, json={} if method == "POST" else None)
        with _routing_calls() as theirs:
            for method, path in requests:
                await plain_client.request(method, path, json={} if method == "POST" else None)
    assert len(ours) == len(theirs) == len(requests)
    counts = dict(zip(requests, ours, strict=True))
    assert max(ours) <= ROUTING_CALLS_BOUND, counts
    assert counts["GET", "/agreements/ksdd-1"] <= AN_AGREEMENT_S_ROUTING_CALLS, counts
    assert counts["POST", "/agreements/ksdd-1/actions"] <= AN_AGREEMENT_S_ROUTING_CALLS, counts
    # What the index saves: FastAPI's walk over the included routers, twice (≈ 150 calls
    # for the first router's /healthz, ≈ 2,300 for a public page after 22 routers).
    assert min(theirs) > 2 * ROUTING_CALLS_BOUND, dict(zip(requests, theirs, strict=True))
