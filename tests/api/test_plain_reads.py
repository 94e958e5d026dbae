"""`GET /agreements`, `GET /agreements/{id}` and its action plan are `PlainRead` routes (services/api/plain_reads.py):
their parameters are validated in one pass instead of FastAPI's solving. Whatever a client
sends, they must answer as FastAPI's solving of the same signature answers: the same values
given to the endpoint, the same 401s, the same 422s in the one error shape."""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from services.api import plain_reads
from services.api.app import create_app
from services.api.deps import PrincipalDep
from services.api.errors import register_error_handlers
from services.api.plain_reads import PlainRead
from services.api.routes.agreements import get_agreement, list_agreements, router
from services.auth import Principal, VerifiedTokens, mint_token
from services.errors import Forbidden
from services.settings import Settings
from tests.fixtures.api import app_client

pytestmark = pytest.mark.asyncio(loop_scope="session")

SETTINGS = Settings(env="dev", jwt_secret="test-secret-long-enough-for-hs256-keys", metrics_port=0)
TOKEN = mint_token(SETTINGS, sub="staff@kota-cirebon", org="kota-cirebon", roles=["staff"])

LIST_QUERIES = (
    "",
    "limit=50&stage=review",
    "kind=ksdd&stage=implementation&org=kota-cirebon&q=bench%2012&overdue=true&expiring_within_days=30",
    "health=at_risk&cursor=abc&limit=200",
    "overdue=1", "overdue=yes", "overdue=off", "overdue=maybe", "overdue=",
    "limit=0", "limit=201", "limit=abc", "limit=", "limit=5&limit=7", "limit=1.0", "limit=%2B3",
    "stage=", "stage=bogus", "stage=review&stage=signing", "kind=KSDD", "health=nope",
    "expiring_within_days=-1", "expiring_within_days=3651", "expiring_within_days=0",
    "org=" + "x" * 64, "org=" + "x" * 65, "q=" + "kata " * 40, "q=" + "k" * 201, "q=", "cursor=" + "c" * 501,
    "limit=0&stage=bogus&overdue=maybe&org=" + "x" * 65,
    "unknown=1&limit=3", "q=%F0%9F%98%80%E2%80%A8",
)  # fmt: skip


def echo_of(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """An endpoint of `endpoint`'s very signature that answers with the values it was given."""

    @functools.wraps(endpoint)
    async def echo(**values: Any) -> JSONResponse:
        given = {name: [type(v).__name__, v] for name, v in sorted(values.items()) if not isinstance(v, Request)}
        return JSONResponse(jsonable_encoder(given))

    return echo


def _app() -> FastAPI:
    """Each endpoint's echo twice: served as `PlainRead`, and as FastAPI solves it."""
    app = FastAPI()
    app.state.settings, app.state.verified_tokens = SETTINGS, VerifiedTokens()
    register_error_handlers(app)
    for name, path, endpoint in (("list", "", list_agreements), ("one", "/{agreement_id}", get_agreement)):
        app.router.add_api_route(
            f"/plain/{name}{path}", echo_of(endpoint), methods=["GET"], route_class_override=PlainRead
        )
        app.router.add_api_route(
            f"/solved/{name}{path}", echo_of(endpoint), methods=["GET"], route_class_override=APIRoute
        )
    return app


async def _both(client: Any, path: str, headers: dict[str, str]) -> tuple[Any, ...]:
    answers = [await client.get(f"/{way}/{path}", headers=headers) for way in ("plain", "solved")]
    return tuple((a.status_code, dict(a.headers), a.content) for a in answers)


def paths_solved_by_fastapi(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests FastAPI's dependency solving is asked for, from now on."""
    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counted(**arguments: Any) -> Any:
        solved.append(arguments["request"].url.path)
        return await solve(**arguments)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    return solved


async def test_the_list_s_query_is_read_as_fastapi_reads_it_whatever_it_holds():
    async with app_client(_app()) as client:
        for query in LIST_QUERIES:
            plain, solved = await _both(client, f"list?{query}", {"Authorization": f"Bearer {TOKEN}"})
            assert plain == solved, query
        statuses = {
            (await client.get(f"/plain/list?{q}", headers={"Authorization": f"Bearer {TOKEN}"})).status_code
            for q in LIST_QUERIES
        }
        assert statuses == {200, 422}  # both kinds of answer were compared


async def test_an_agreement_s_id_is_read_as_fastapi_reads_it_whatever_it_holds():
    async with app_client(_app()) as client:
        for agreement_id in ("ksdd-2026-0001", "%C3%A9t%C3%A9", "a%20b", "x" * 300, "%F0%9F%98%80"):
            plain, solved = await _both(client, f"one/{agreement_id}", {"Authorization": f"Bearer {TOKEN}"})
            assert plain == solved and plain[0] == 200, agreement_id


async def test_a_read_without_a_good_token_is_the_same_401_even_when_its_query_is_bad_too():
    async with app_client(_app()) as client:
        for authorization in (None, "Basic abc", "Bearer not-a-token", f"Bearer {TOKEN}x"):
            headers = {} if authorization is None else {"Authorization": authorization}
            for path in ("list?limit=0&stage=bogus", "list", "one/some-id"):
                plain, solved = await _both(client, path, headers)
                assert plain == solved and plain[0] == 401, (authorization, path)


async def test_a_route_with_what_a_plain_read_does_not_serve_is_refused_when_it_is_built():
    async def with_a_header(request: Request, body: dict[str, int] | None = None) -> Any:
        return None

    app = FastAPI()
    with pytest.raises(TypeError, match="PlainRead"):
        app.router.add_api_route("/refused", with_a_header, methods=["POST"], route_class_override=PlainRead)


async def test_the_agreement_list_and_an_agreement_are_plain_reads_that_solve_no_dependency_per_request(monkeypatch):
    reads = {(r.path, tuple(sorted(r.methods))): type(r) for r in router.routes if isinstance(r, APIRoute)}
    assert reads[("/agreements", ("GET",))] is PlainRead
    assert reads[("/agreements/{agreement_id}", ("GET",))] is PlainRead
    assert reads[("/agreements/{agreement_id}/action-plan", ("GET",))] is PlainRead
    solved = paths_solved_by_fastapi(monkeypatch)
    async with app_client(_app()) as client:
        for path in ("list?limit=3", "one/some-id"):
            await _both(client, path, {"Authorization": f"Bearer {TOKEN}"})
    assert solved == ["/solved/list", "/solved/one/some-id"]


async def test_an_app_that_overrides_the_principal_is_served_with_its_override():
    app = _app()
    somebody = Principal(sub="auditor@bpk", org="bpk", roles=["auditor"])

    async def fixed_principal() -> Principal:
        return somebody

    app.dependency_overrides[PrincipalDep.__metadata__[0].dependency] = fixed_principal
    async with app_client(app) as client:
        plain, solved = await _both(client, "list?limit=3", {})
    assert plain == solved and plain[0] == 200 and b'"auditor@bpk"' in plain[2]


async def test_a_fastapi_without_the_inclusion_hook_serves_the_plain_reads_with_its_own_solving(monkeypatch):
    # As a FastAPI would look to `PlainRead` whose private inclusion hook went away.
    monkeypatch.setattr(plain_reads, "routing", SimpleNamespace())
    solved = paths_solved_by_fastapi(monkeypatch)
    async with app_client(_app()) as client:
        plain, solved_answer = await _both(client, "list?limit=3", {"Authorization": f"Bearer {TOKEN}"})
    assert plain == solved_answer and plain[0] == 200
    assert solved == ["/plain/list", "/solved/list"]


async def test_a_read_fastapi_s_own_telemetry_watches_is_served_by_fastapi_s_handler(monkeypatch):
    # As when a provider was set before the app was built (`observability.native_telemetry`):
    # FastAPI's handler records the request and the values it solved for its telemetry.
    monkeypatch.setattr(plain_reads, "get_telemetry_data", lambda: SimpleNamespace())
    solved = paths_solved_by_fastapi(monkeypatch)
    async with app_client(_app()) as client:
        for path in ("list?limit=3", "one/some-id"):
            plain, solved_answer = await _both(client, path, {"Authorization": f"Bearer {TOKEN}"})
            assert plain == solved_answer and plain[0] == 200
    assert solved == ["/plain/list", "/solved/list", "/plain/one/some-id", "/solved/one/some-id"]


async def test_the_real_app_s_reads_honour_its_overrides_as_its_other_routes_do(settings: Settings):
    # The reads are in the agreements' router, which the app includes: the app that knows of
    # the overrides is the inclusion's, not the router's own route's.
    app = create_app(settings)

    async def nobody() -> Principal:
        raise Forbidden("Overridden: nobody reads here.")

    app.dependency_overrides[PrincipalDep.__metadata__[0].dependency] = nobody
    async with app_client(app) as client:
        reads = ("/agreements", "/agreements/x", "/agreements/x/action-plan")
        answers = {path: (await client.get(path)).status_code for path in reads}
    assert answers == dict.fromkeys(reads, 403)
