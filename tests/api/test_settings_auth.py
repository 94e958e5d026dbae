"""Settings from the environment, and bearer tokens: mint, verify, refuse."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.api.app import create_app
from services.auth import InvalidToken, Principal, decode_token, mint_token
from services.errors import Conflict, PaktaError, Unauthorized
from services.settings import DEV_JWT_SECRET, PUBLISHED_SECRETS, Settings, secret_weakness

SECRET = "test-secret-long-enough-for-hs256-keys"


def test_settings_read_pakta_environment(monkeypatch):
    monkeypatch.setenv("PAKTA_API_PORT", "9000")
    monkeypatch.setenv("PAKTA_TEMPORAL_TLS", "true")
    monkeypatch.setenv("PAKTA_ENV", "production")
    settings = Settings()
    assert settings.api_port == 9000 and settings.temporal_tls is True
    assert settings.logs_as_json  # production defaults to JSON logs
    assert not Settings(env="dev").logs_as_json
    assert Settings(env="dev", log_json=True).logs_as_json


def test_secrets_stay_out_of_repr():
    settings = Settings(jwt_secret="s3cret-value", smtp_password="hunter2")
    assert "s3cret-value" not in repr(settings) and "hunter2" not in repr(settings)


STRONG = "pW3x9LqZ7vN2mK8rT4yB6hJ1cF5dG0sA"


@pytest.mark.parametrize(
    "secret", [DEV_JWT_SECRET, "change-me-compose-only-secret-0123456789", "short-but-random-7f3a", "ab" * 40]
)
def test_production_refuses_a_published_short_or_repetitive_secret(secret):
    assert secret_weakness(secret)
    with pytest.raises(RuntimeError, match="PAKTA_JWT_SECRET"):
        create_app(Settings(env="production", jwt_secret=secret))


def test_production_starts_with_a_long_random_secret_or_an_oidc_issuer():
    assert secret_weakness(STRONG) is None
    create_app(Settings(env="production", jwt_secret=STRONG))
    create_app(Settings(env="production", oidc_jwks_url="http://127.0.0.1:1/jwks"))


def test_compose_makes_the_operator_supply_the_secret():
    compose = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    assert "PAKTA_JWT_SECRET: ${PAKTA_JWT_SECRET:?" in compose
    for secret in PUBLISHED_SECRETS - {"a-real-secret-from-the-vault"}:
        assert secret not in compose


def test_token_round_trip():
    settings = Settings(jwt_secret=SECRET)
    token = mint_token(settings, sub="u1", org="jabar", roles=["approver"], gates=["legal", "head"])
    principal = decode_token(settings, token)
    assert principal == Principal(sub="u1", org="jabar", roles=["approver"], gates=["legal", "head"])
    assert principal.has_role("approver", "admin") and principal.holds_gate("legal")
    assert not principal.has_role("staff")


def test_issuer_and_audience_are_enforced():
    settings = Settings(jwt_secret=SECRET, jwt_issuer="https://pakta", jwt_audience="pakta-api")
    token = mint_token(settings, sub="u1", org="jabar", roles=["staff"])
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "pakta-api"
    assert decode_token(settings, token).sub == "u1"
    other = settings.model_copy(update={"jwt_audience": "someone-else"})
    with pytest.raises(InvalidToken):
        decode_token(other, token)


def test_expired_token_is_refused():
    settings = Settings(jwt_secret=SECRET)
    token = mint_token(settings, sub="u1", org="jabar", roles=["staff"], ttl_seconds=-10)
    with pytest.raises(InvalidToken) as caught:
        decode_token(settings, token)
    assert caught.value.status == 401 and caught.value.code == "token_expired"
    assert caught.value.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        mint_token(Settings(jwt_secret=SECRET + "-other"), sub="u1", org="jabar", roles=["staff"]),
        jwt.encode(
            {"sub": "u1", "roles": ["staff"], "exp": int(time.time()) + 3600}, SECRET
        ),  # no org (made at collection: outlive the suite)
        "a.b.c",
    ],
    ids=["garbage", "wrong-secret", "missing-org", "malformed"],
)
def test_invalid_tokens_are_refused(token):
    with pytest.raises(InvalidToken) as caught:
        decode_token(Settings(jwt_secret=SECRET), token)
    assert isinstance(caught.value, Unauthorized) and caught.value.code == "invalid_token"


def _signed(**claims: object) -> str:
    return jwt.encode(
        {"sub": "u1", "org": "jabar", "roles": ["staff"], "exp": int(time.time()) + 3600, **claims}, SECRET
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": ["system"]},
        {"roles": ["staff", "superuser"]},
        {"roles": []},
        {"gates": ["ministry", "everything"]},
        {"org": ""},
        {"org": "Jabar Province; DROP"},
        {"sub": "siti\u0000"},
        {"sub": ""},
    ],
    ids=[
        "system-role",
        "unknown-role",
        "no-role",
        "unknown-gate",
        "empty-org",
        "malformed-org",
        "nul-in-sub",
        "empty-sub",
    ],
)
def test_a_token_claiming_roles_gates_or_an_organisation_pakta_does_not_know_is_refused(claims):
    with pytest.raises(InvalidToken) as caught:
        decode_token(Settings(jwt_secret=SECRET), _signed(**claims))
    assert caught.value.status == 401 and caught.value.details["claims"]


def test_unsigned_token_is_refused():
    token = jwt.encode(
        {"sub": "u1", "org": "jabar", "roles": ["admin"], "exp": int(time.time()) + 60}, None, algorithm="none"
    )
    with pytest.raises(InvalidToken):
        decode_token(Settings(jwt_secret=SECRET), token)


def test_oidc_tokens_are_verified_against_the_issuers_jwks():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class JWKS(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), JWKS)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings(oidc_jwks_url=f"http://127.0.0.1:{server.server_port}/jwks")
        claims = {
            "sub": "u9",
            "org": "kemendagri",
            "roles": ["approver"],
            "gates": ["ministry"],
            "exp": int(time.time()) + 60,
        }
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        assert decode_token(settings, token).gates == ["ministry"]
        forged = jwt.encode(claims, "guessable-but-long-enough-for-hs256-xx", algorithm="HS256", headers={"kid": "k1"})
        with pytest.raises(InvalidToken):
            decode_token(settings, forged)
    finally:
        server.shutdown()


def test_errors_carry_status_code_and_details():
    error = Conflict(
        "Cannot sign a draft.",
        code="invalid_transition",
        stage="draft",
        allowed_actions=["submit"],
        message_ignored=None,
    )
    assert error.status == 409
    assert error.to_body() == {
        "error": {
            "code": "invalid_transition",
            "message": "Cannot sign a draft.",
            "stage": "draft",
            "allowed_actions": ["submit"],
            "message_ignored": None,
        }
    }
    assert PaktaError("boom").status == 500
    # details can never overwrite the code or message
    assert Conflict(details={"code": "x", "message": "y"}).to_body()["error"]["code"] == "conflict"


class Issuer:
    """A real OIDC issuer's key endpoint on loopback, with keys made in the test; it can
    rotate to a new key and counts how often its keys were fetched."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        self.rotate("k1")
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                body = json.dumps(
                    {
                        "keys": [
                            {
                                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())),
                                "kid": kid,
                                "use": "sig",
                                "alg": "RS256",
                            }
                            for kid, k in issuer.keys.items()
                        ]
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks"

    def rotate(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid

    def token(self, claims: dict[str, object], **headers: str) -> str:
        now = int(time.time())
        body = {
            "iss": "https://sso.jabarprov.go.id/realms/pemda",
            "aud": "pakta",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(body, self.keys[self.kid], algorithm="RS256", headers={"kid": self.kid, **headers})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    yield server
    server.server.shutdown()


def keycloak_settings(issuer: Issuer, **overrides: object) -> Settings:
    return Settings(
        env="production",
        jwt_secret=DEV_JWT_SECRET,
        oidc_jwks_url=issuer.url,
        oidc_issuer="https://sso.jabarprov.go.id/realms/pemda",
        oidc_audience="pakta",
        oidc_org_claim="pemda.org",
        oidc_roles_claim="realm_access.roles",
        oidc_gates_claim="realm_access.roles",
        oidc_role_map={"pakta-staf": "staff", "pakta-penyetuju": "approver", "biro-hukum": "gate:legal"},
        **overrides,
    )


KEYCLOAK_CLAIMS = {
    "sub": "198001012005011001",
    "pemda": {"org": "jabar"},
    "realm_access": {"roles": ["offline_access", "pakta-penyetuju", "biro-hukum"]},
}


def test_an_issuers_claims_are_mapped_to_pakta_organisation_roles_and_gates(issuer):
    principal = decode_token(keycloak_settings(issuer), issuer.token(KEYCLOAK_CLAIMS))
    assert principal == Principal(sub="198001012005011001", org="jabar", roles=["approver"], gates=["legal"])


@pytest.mark.parametrize(
    "claims", [{"iss": "https://evil.example"}, {"aud": "another-app"}], ids=["other-issuer", "other-audience"]
)
def test_a_token_from_another_issuer_or_for_another_audience_is_refused(issuer, claims):
    with pytest.raises(InvalidToken):
        decode_token(keycloak_settings(issuer), issuer.token({**KEYCLOAK_CLAIMS, **claims}))


def test_keys_are_cached_and_fetched_again_for_a_key_id_not_seen_yet(issuer):
    settings = keycloak_settings(issuer, oidc_jwks_cooldown_seconds=0)
    decode_token(settings, issuer.token(KEYCLOAK_CLAIMS))
    decode_token(settings, issuer.token(KEYCLOAK_CLAIMS))
    fetched = issuer.fetches
    assert fetched >= 1
    decode_token(settings, issuer.token(KEYCLOAK_CLAIMS))
    assert issuer.fetches == fetched  # cached
    issuer.rotate("k2")
    assert decode_token(settings, issuer.token(KEYCLOAK_CLAIMS)).org == "jabar"
    assert issuer.fetches == fetched + 1


def test_clock_skew_is_tolerated_within_the_leeway_and_no_further(issuer):
    settings = keycloak_settings(issuer, oidc_leeway_seconds=60)
    now = int(time.time())
    assert decode_token(settings, issuer.token({**KEYCLOAK_CLAIMS, "exp": now - 30})).org == "jabar"
    with pytest.raises(InvalidToken) as caught:
        decode_token(settings, issuer.token({**KEYCLOAK_CLAIMS, "exp": now - 120}))
    assert caught.value.code == "token_expired"


def test_in_production_a_weak_shared_secret_signs_nothing_when_an_issuer_is_configured(issuer):
    settings = keycloak_settings(issuer)
    hmac = jwt.encode(
        {"sub": "u1", "org": "jabar", "roles": ["admin"], "exp": int(time.time()) + 60},
        DEV_JWT_SECRET,
        algorithm="HS256",
    )
    with pytest.raises(InvalidToken, match="identity provider"):
        decode_token(settings, hmac)


def test_a_mapped_token_that_yields_no_pakta_role_is_refused(issuer):
    claims = {**KEYCLOAK_CLAIMS, "realm_access": {"roles": ["offline_access"]}}
    with pytest.raises(InvalidToken):
        decode_token(keycloak_settings(issuer), issuer.token(claims))


def test_made_up_key_ids_do_not_make_pakta_fetch_the_keys_again_within_the_cooldown(issuer):
    settings = keycloak_settings(issuer, oidc_jwks_cooldown_seconds=600)
    decode_token(settings, issuer.token(KEYCLOAK_CLAIMS))
    fetched = issuer.fetches
    for n in range(5):
        with pytest.raises(InvalidToken):
            decode_token(settings, issuer.token(KEYCLOAK_CLAIMS, kid=f"made-up-{n}"))
    assert issuer.fetches == fetched
