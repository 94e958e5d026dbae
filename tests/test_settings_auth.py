"""Settings from the environment, and bearer tokens: mint, verify, refuse."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.api.app import create_app
from services.auth import InvalidToken, Principal, decode_token, mint_token
from services.errors import Conflict, PaktaError, Unauthorized
from services.settings import DEV_JWT_SECRET, Settings

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


def test_production_refuses_the_dev_secret():
    with pytest.raises(RuntimeError, match="PAKTA_JWT_SECRET"):
        create_app(Settings(env="production", jwt_secret=DEV_JWT_SECRET))
    create_app(Settings(env="production", jwt_secret="a-real-secret-from-the-vault"))


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
        jwt.encode({"sub": "u1", "roles": ["staff"], "exp": int(time.time()) + 3600}, SECRET),  # no org (made at collection: outlive the suite)
        "a.b.c",
    ],
    ids=["garbage", "wrong-secret", "missing-org", "malformed"],
)
def test_invalid_tokens_are_refused(token):
    with pytest.raises(InvalidToken) as caught:
        decode_token(Settings(jwt_secret=SECRET), token)
    assert isinstance(caught.value, Unauthorized) and caught.value.code == "invalid_token"


def _signed(**claims: object) -> str:
    return jwt.encode({"sub": "u1", "org": "jabar", "roles": ["staff"], "exp": int(time.time()) + 3600, **claims},
                      SECRET)


@pytest.mark.parametrize("claims", [
    {"roles": ["system"]},
    {"roles": ["staff", "superuser"]},
    {"roles": []},
    {"gates": ["ministry", "everything"]},
    {"org": ""},
    {"org": "Jabar Province; DROP"},
    {"sub": "siti\u0000"},
    {"sub": ""},
], ids=["system-role", "unknown-role", "no-role", "unknown-gate", "empty-org", "malformed-org", "nul-in-sub",
        "empty-sub"])
def test_a_token_claiming_roles_gates_or_an_organisation_pakta_does_not_know_is_refused(claims):
    with pytest.raises(InvalidToken) as caught:
        decode_token(Settings(jwt_secret=SECRET), _signed(**claims))
    assert caught.value.status == 401 and caught.value.details["claims"]


def test_unsigned_token_is_refused():
    token = jwt.encode({"sub": "u1", "org": "jabar", "roles": ["admin"], "exp": int(time.time()) + 60},
                       None, algorithm="none")
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
        claims = {"sub": "u9", "org": "kemendagri", "roles": ["approver"], "gates": ["ministry"],
                  "exp": int(time.time()) + 60}
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        assert decode_token(settings, token).gates == ["ministry"]
        forged = jwt.encode(claims, "guessable-but-long-enough-for-hs256-xx", algorithm="HS256", headers={"kid": "k1"})
        with pytest.raises(InvalidToken):
            decode_token(settings, forged)
    finally:
        server.shutdown()


def test_errors_carry_status_code_and_details():
    error = Conflict("Cannot sign a draft.", code="invalid_transition", stage="draft",
                     allowed_actions=["submit"], message_ignored=None)
    assert error.status == 409
    assert error.to_body() == {"error": {"code": "invalid_transition", "message": "Cannot sign a draft.",
                                         "stage": "draft", "allowed_actions": ["submit"],
                                         "message_ignored": None}}
    assert PaktaError("boom").status == 500
    # details can never overwrite the code or message
    assert Conflict(details={"code": "x", "message": "y"}).to_body()["error"]["code"] == "conflict"
