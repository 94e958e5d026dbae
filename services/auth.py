"""Bearer JWTs: who is calling, for which organisation, with which roles and gates.

HS256 with `PAKTA_JWT_SECRET` by default; when `PAKTA_OIDC_JWKS_URL` is set, tokens are
verified against the issuer's published keys instead (RS256), so production can use a
real identity provider without code changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import lru_cache

import jwt
from pydantic import BaseModel, ValidationError

from services.errors import Unauthorized
from services.settings import Settings

ROLES = ("staff", "partner", "signatory", "approver", "scheduler", "auditor", "admin")

DEFAULT_TTL_SECONDS = 8 * 3600


class Principal(BaseModel):
    sub: str
    org: str
    roles: list[str]
    gates: list[str] = []

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def holds_gate(self, gate: str) -> bool:
        return gate in self.gates


class InvalidToken(Unauthorized):
    code = "invalid_token"
    message = "The bearer token is invalid."


def mint_token(
    settings: Settings,
    *,
    sub: str,
    org: str,
    roles: Iterable[str],
    gates: Iterable[str] = (),
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "org": org,
        "roles": list(roles),
        "gates": list(gates),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)


def decode_token(settings: Settings, token: str) -> Principal:
    """Verify `token` and return its principal; raise InvalidToken (a 401) otherwise.

    With a JWKS URL this may fetch keys over HTTP (cached); call it off the event loop then.
    """
    options = {"require": ["sub", "exp"]}
    try:
        if settings.oidc_jwks_url:
            key = _jwks_client(settings.oidc_jwks_url).get_signing_key_from_jwt(token).key
            algorithms = ["RS256"]
        else:
            key, algorithms = settings.jwt_secret, [settings.jwt_algorithm]
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options=options,
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The bearer token has expired.", code="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"The bearer token is invalid: {exc}.") from exc
    try:
        return Principal.model_validate(claims)
    except ValidationError as exc:
        raise InvalidToken("The bearer token lacks the claims org and roles.") from exc


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)
