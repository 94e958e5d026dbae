"""Bearer tokens verified once per process and then recognised (services.auth.VerifiedTokens):
only the very token verified, never past its expiry nor a bounded age, never more of them
than the capacity; and through the API an unknown or altered token is still refused."""

from __future__ import annotations

import pytest

from services.api.app import create_app
from services.auth import Principal, VerifiedTokens, mint_token, verify_token
from services.settings import Settings
from tests.fixtures.api import app_client
from tests.web.live import csrf_of

SECRET = "test-secret-long-enough-for-hs256-keys"
ALICE = Principal(sub="alice@jabar", org="jabar", roles=["staff"])


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_verified_token_is_recognised_until_its_expiry_and_not_after():
    clock = Clock()
    tokens = VerifiedTokens(clock=clock, max_age_seconds=300)
    tokens.remember("token-a", ALICE, expires_at=clock.now + 60)
    assert tokens.principal("token-a") == ALICE
    clock.now += 59.9
    assert tokens.principal("token-a") == ALICE
    clock.now += 0.1
    assert tokens.principal("token-a") is None
    assert len(tokens) == 0


def test_a_long_lived_token_is_verified_again_after_the_bounded_age():
    clock = Clock()
    tokens = VerifiedTokens(clock=clock, max_age_seconds=300)
    tokens.remember("token-a", ALICE, expires_at=clock.now + 8 * 3600)
    clock.now += 299
    assert tokens.principal("token-a") == ALICE
    clock.now += 1
    assert tokens.principal("token-a") is None


def test_only_the_very_token_verified_is_recognised():
    tokens = VerifiedTokens()
    settings = Settings(jwt_secret=SECRET)
    token = mint_token(settings, sub="alice@jabar", org="jabar", roles=["staff"])
    principal, expires_at = verify_token(settings, token)
    tokens.remember(token, principal, expires_at)
    assert tokens.principal(token) == principal
    assert tokens.principal(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert tokens.principal(token + ".") is None


def test_an_expired_token_is_not_remembered():
    clock = Clock()
    tokens = VerifiedTokens(clock=clock)
    tokens.remember("token-a", ALICE, expires_at=clock.now - 1)
    assert tokens.principal("token-a") is None and len(tokens) == 0


def test_the_tokens_held_never_exceed_the_capacity_expired_ones_going_first_then_the_oldest():
    clock = Clock()
    tokens = VerifiedTokens(clock=clock, capacity=3)
    tokens.remember("short", ALICE, expires_at=clock.now + 10)
    tokens.remember("old", ALICE, expires_at=clock.now + 100)
    tokens.remember("middle", ALICE, expires_at=clock.now + 100)
    clock.now += 20  # "short" has expired
    tokens.remember("new", ALICE, expires_at=clock.now + 100)
    assert len(tokens) == 3
    assert [tokens.principal(t) is not None for t in ("old", "middle", "new")] == [True, True, True]
    tokens.remember("newer", ALICE, expires_at=clock.now + 100)
    assert len(tokens) == 3
    assert tokens.principal("old") is None
    assert [tokens.principal(t) is not None for t in ("middle", "new", "newer")] == [True, True, True]


def test_the_verified_principal_cannot_be_changed_by_a_request_that_holds_it():
    with pytest.raises(ValueError, match="frozen"):
        ALICE.org = "jatim"  # type: ignore[misc]


@pytest.mark.asyncio(loop_scope="session")
async def test_the_api_recognises_a_verified_token_and_still_refuses_an_altered_or_expired_one(stack):
    settings = stack.settings
    app = create_app(settings)
    token = mint_token(settings, sub="staff@kota-cirebon", org="kota-cirebon", roles=["staff"])
    expired = mint_token(settings, sub="staff@kota-cirebon", org="kota-cirebon", roles=["staff"], ttl_seconds=-1)
    header, claims, signature = token.split(".")
    altered = f"{header}.{claims}.{signature[::-1]}"
    async with app_client(app) as client:
        for _ in range(2):
            answer = await client.get("/agreements?limit=1", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
        assert len(app.state.verified_tokens) == 1
        refused = await client.get("/agreements?limit=1", headers={"Authorization": f"Bearer {altered}"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
        refused = await client.get("/agreements?limit=1", headers={"Authorization": f"Bearer {expired}"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_expired"
        assert len(app.state.verified_tokens) == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_the_web_pages_recognise_the_token_their_session_holds_as_the_api_does(stack):
    settings = stack.settings
    app = create_app(settings)
    token = mint_token(settings, sub="staff@kota-cirebon", org="kota-cirebon", roles=["staff"])
    async with app_client(app) as client:
        page = await client.get("/ui/signin")
        csrf = csrf_of(page.text)
        signed_in = await client.post("/ui/signin", data={"csrf": csrf, "token": token, "next": "/ui/"})
        assert signed_in.status_code == 303, signed_in.text
        for _ in range(2):
            home = await client.get("/ui/")
            assert home.status_code == 200 and "staff@kota-cirebon" in home.text
        assert app.state.verified_tokens.principal(token) == Principal(
            sub="staff@kota-cirebon", org="kota-cirebon", roles=["staff"]
        )
        answer = await client.get("/agreements?limit=1", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and len(app.state.verified_tokens) == 1  # one entry for both


@pytest.mark.asyncio(loop_scope="session")
async def test_the_authorization_header_is_read_as_http_bearer_reads_it_and_anything_else_is_a_401(stack):
    settings = stack.settings
    app = create_app(settings)
    token = mint_token(settings, sub="staff@kota-cirebon", org="kota-cirebon", roles=["staff"])
    async with app_client(app) as client:
        for accepted in (f"Bearer {token}", f"bearer {token}", f"BEARER   {token}  "):
            answer = await client.get("/agreements?limit=1", headers={"Authorization": accepted})
            assert answer.status_code == 200, (accepted, answer.text)
        for refused in (None, "", "Bearer", "Bearer    ", f"Basic {token}", token, f"Token {token}"):
            headers = {} if refused is None else {"Authorization": refused}
            answer = await client.get("/agreements/any-id", headers=headers)
            assert answer.status_code == 401, (refused, answer.text)
            assert answer.headers["WWW-Authenticate"] == "Bearer"
            assert answer.json()["error"]["code"] == "unauthorized"
            assert answer.json()["error"]["message"] == "A bearer token is required."


def test_the_openapi_document_declares_the_bearer_scheme_on_every_route_that_takes_a_principal():
    document = create_app(Settings(env="dev", jwt_secret=SECRET, metrics_port=0)).openapi()
    assert document["components"]["securitySchemes"] == {
        "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "A Pakta JWT (`pakta token` mints one)."}
    }
    assert document["paths"]["/agreements/{agreement_id}"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in document["paths"]["/healthz"]["get"]
