"""`POST /agreements/{id}/actions` is a `PlainAction` route (services/api/plain_actions.py):
its body, headers and path are read and validated without FastAPI's solving. Whatever a
client sends, it must answer as FastAPI's solving of the same signature answers: the same
values given to the endpoint, the same 401s, the same 400s, 413s and 422s in the one error
shape, in the same order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute

from services.api import plain_actions, plain_reads
from services.api.app import create_app
from services.api.deps import PrincipalDep
from services.api.errors import register_error_handlers
from services.api.limits import RequestLimits
from services.api.plain_actions import PlainAction
from services.api.routes.agreements import act, router
from services.auth import Principal, VerifiedTokens, mint_token
from services.errors import Forbidden
from services.settings import Settings
from tests.api.test_plain_reads import echo_of, paths_solved_by_fastapi
from tests.fixtures.api import app_client

pytestmark = pytest.mark.asyncio(loop_scope="session")

SETTINGS = Settings(env="dev", jwt_secret="test-secret-long-enough-for-hs256-keys", metrics_port=0)
TOKEN = mint_token(SETTINGS, sub="staff@kota-cirebon", org="kota-cirebon", roles=["staff"])
BODY_LIMIT = 4096

BODIES = (
    b'{"type": "submit"}',
    b'{"type": "decide", "gate": "review", "outcome": "approve"}',
    b'{"type": "sign", "version": 1, "method": "electronic"}',
    b'{"type": "submit_draft", "document": "' + b"a" * 64 + b'"}',
    b'{"type": "accept_draft", "version": "2"}',
    b'{"type": "decide", "gate": "review", "outcome": "maybe", "extra": 1}',
    b'{"type": "nonsense"}', b'{"type": 7}', b'{}', b'{"kind": "submit"}',
    b'[]', b'[{"type": "submit"}]', b'"submit"', b'7', b'null', b'true',
    b'', b' ', b'{', b'{"type": "submit",}', b"{'type': 'submit'}", b'{"type": "submit"} x', b'\xff\xfe',
    b'{"type": "submit", "note": "\xe2\x80\xa8 \xf0\x9f\x98\x80"}',
    b'{"type": "sign", "version": 99999999999999999999999, "method": "wet_ink"}',
    b'{"type": "withdraw", "reason": "' + b"r" * 3000 + b'"}',
)  # fmt: skip

CONTENT_TYPES = (
    "application/json", None, "application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json",
    "application/vnd.pakta+json; v=1", "application/jsonx", "text/plain", "text/json",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", ";", "application/",
)  # fmt: skip

HEADERS = (
    {}, {"If-Match": '"3"'}, {"If-Match": "*"}, {"If-Match": ""}, {"If-Match": "W/\"4\""}, {"if-match": "nonsense"},
    {"Idempotency-Key": "k-1"}, {"Idempotency-Key": ""}, {"Idempotency-Key": "k" * 200},
    {"Idempotency-Key": "k" * 201}, {"IDEMPOTENCY-KEY": "upper"},
    {"If-Match": '"2"', "Idempotency-Key": "both"}, {"If-Match": "x", "Idempotency-Key": ""},
)  # fmt: skip


def _app() -> FastAPI:
    """The action's echo twice: served as `PlainAction`, and as FastAPI solves it; behind the
    API's body limit, as in the app."""
    app = FastAPI()
    app.state.settings, app.state.verified_tokens = SETTINGS, VerifiedTokens()
    register_error_handlers(app)
    app.add_middleware(RequestLimits, default_limit=BODY_LIMIT)
    for way, route_class in (("plain", PlainAction), ("solved", APIRoute)):
        app.router.add_api_route(
            f"/{way}/{{agreement_id}}/actions", echo_of(act), methods=["POST"], route_class_override=route_class
        )
    return app


async def _both(
    client: Any, agreement_id: str, body: Any, headers: dict[str, str] | list[tuple[str, str]]
) -> tuple[Any, ...]:
    answers = []
    for way in ("plain", "solved"):
        content = body() if callable(body) else body
        answer = await client.post(f"/{way}/{agreement_id}/actions", content=content, headers=headers)
        answers.append(answer)
    return tuple((a.status_code, dict(a.headers), a.content) for a in answers)


def _headers(content_type: str | None, **more: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {TOKEN}", **more}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


async def test_an_action_s_body_is_read_as_fastapi_reads_it_whatever_it_holds_and_however_it_is_labelled():
    statuses = set()
    async with app_client(_app()) as client:
        for body in BODIES:
            for content_type in CONTENT_TYPES:
                plain, solved = await _both(client, "ksdd-1", body, _headers(content_type))
                assert plain == solved, (body, content_type)
                statuses.add(plain[0])
    assert statuses == {200, 422}  # both kinds of answer were compared


async def test_an_action_s_headers_and_id_are_read_as_fastapi_reads_them():
    statuses = set()
    async with app_client(_app()) as client:
        for headers in HEADERS:
            for body in (b'{"type": "submit"}', b'{"type": 1}', b"{"):
                for agreement_id in ("ksdd-2026-0001", "%C3%A9t%C3%A9", "x" * 300):
                    plain, solved = await _both(client, agreement_id, body, _headers("application/json", **headers))
                    assert plain == solved, (headers, body, agreement_id)
                    statuses.add(plain[0])
        # A header sent twice: the first one counts, for both.
        twice = [("Authorization", f"Bearer {TOKEN}"), ("Content-Type", "application/json")]
        twice += [("Idempotency-Key", "a"), ("Idempotency-Key", "")]
        plain, solved = await _both(client, "ksdd-1", b'{"type": "submit"}', twice)
        assert plain == solved and plain[0] == 200
    assert statuses == {200, 422}


async def test_an_action_without_a_good_token_is_the_same_401_unless_its_json_cannot_even_be_read():
    async with app_client(_app()) as client:
        for authorization in (None, "Basic abc", "Bearer not-a-token", f"Bearer {TOKEN}x"):
            headers = {"Content-Type": "application/json", "Idempotency-Key": ""}
            if authorization is not None:
                headers["Authorization"] = authorization
            for body in (b'{"type": "submit"}', b'{"type": 1}', b"", b"{"):
                plain, solved = await _both(client, "ksdd-1", body, headers)
                assert plain == solved and plain[0] == (422 if body == b"{" else 401), (authorization, body)


async def test_an_action_s_body_over_the_limit_is_the_same_413_declared_or_streamed():
    async def streamed() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b" " * (BODY_LIMIT // 2)

    async with app_client(_app()) as client:
        declared = b'{"type": "submit", "note": "' + b"n" * BODY_LIMIT + b'"}'
        for body in (declared, streamed):
            plain, solved = await _both(client, "ksdd-1", body, _headers("application/json"))
            assert plain == solved and plain[0] == 413


async def test_a_route_with_what_a_plain_action_does_not_serve_is_refused_when_it_is_built():
    async def with_a_query(request: Request, limit: int, body: dict[str, int]) -> Any:
        return None

    async def with_two_bodies(request: Request, one: dict[str, int], two: dict[str, int]) -> Any:
        return None

    app = FastAPI()
    for endpoint in (with_a_query, with_two_bodies):
        with pytest.raises(TypeError, match="PlainAction"):
            app.router.add_api_route("/refused", endpoint, methods=["POST"], route_class_override=PlainAction)


async def test_an_agreement_s_action_is_a_plain_action_that_solves_no_dependency_per_request(monkeypatch):
    routes = {(r.path, tuple(sorted(r.methods))): type(r) for r in router.routes if isinstance(r, APIRoute)}
    assert routes[("/agreements/{agreement_id}/actions", ("POST",))] is PlainAction
    solved = paths_solved_by_fastapi(monkeypatch)
    async with app_client(_app()) as client:
        await _both(client, "ksdd-1", b'{"type": "submit"}', _headers("application/json"))
    assert solved == ["/solved/ksdd-1/actions"]


async def test_an_app_that_overrides_the_principal_is_served_with_its_override_on_an_action():
    app = _app()
    somebody = Principal(sub="auditor@bpk", org="bpk", roles=["auditor"])

    async def fixed_principal() -> Principal:
        return somebody

    app.dependency_overrides[PrincipalDep.__metadata__[0].dependency] = fixed_principal
    async with app_client(app) as client:
        plain, solved = await _both(client, "ksdd-1", b'{"type": "submit"}', {"Content-Type": "application/json"})
    assert plain == solved and plain[0] == 200 and b'"auditor@bpk"' in plain[2]


async def test_a_fastapi_without_the_inclusion_hook_serves_the_action_with_its_own_solving(monkeypatch):
    # As a FastAPI would look to `PlainAction` whose private inclusion hook went away.
    monkeypatch.setattr(plain_reads, "routing", SimpleNamespace())  # the hook is looked up there
    solved = paths_solved_by_fastapi(monkeypatch)
    async with app_client(_app()) as client:
        plain, solved_answer = await _both(client, "ksdd-1", b'{"type": "submit"}', _headers("application/json"))
    assert plain == solved_answer and plain[0] == 200
    assert solved == ["/plain/ksdd-1/actions", "/solved/ksdd-1/actions"]


async def test_an_action_fastapi_s_own_telemetry_watches_is_served_by_fastapi_s_handler(monkeypatch):
    # As when a provider was set before the app was built (`observability.native_telemetry`):
    # FastAPI's handler records the body, the values and the errors for its telemetry.
    monkeypatch.setattr(plain_actions, "get_telemetry_data", lambda: SimpleNamespace())
    solved = paths_solved_by_fastapi(monkeypatch)
    async with app_client(_app()) as client:
        plain, solved_answer = await _both(client, "ksdd-1", b'{"type": "submit"}', _headers("application/json"))
    assert plain == solved_answer and plain[0] == 200
    assert solved == ["/plain/ksdd-1/actions", "/solved/ksdd-1/actions"]


async def test_the_real_app_s_action_honours_its_overrides_as_its_other_routes_do(settings: Settings):
    app = create_app(settings)

    async def nobody() -> Principal:
        raise Forbidden("Overridden: nobody acts here.")

    app.dependency_overrides[PrincipalDep.__metadata__[0].dependency] = nobody
    async with app_client(app) as client:
        answer = await client.post("/agreements/x/actions", json={"type": "submit"})
    assert answer.status_code == 403 and answer.json()["error"]["message"] == "Overridden: nobody acts here."
