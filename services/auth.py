"""Bearer JWTs: who is calling, for which organisation, with which roles and gates.

HS256 with `PAKTA_JWT_SECRET` by default; when `PAKTA_OIDC_JWKS_URL` is set, tokens are
verified against the issuer's published keys instead (RS256), so production can use a
real identity provider without code changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args

import jwt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.errors import Unauthorized
from services.settings import Settings
from workflows.messages import GATES, Gate, OrgId, ShortText

# The roles a person can hold. `admin` administers its own organisation; `operator` runs
# the platform (sees every agreement, imports for any organisation, reconciles); `system`
# is not among them: the system actor exists only inside the agreement workflow (its
# timer), never in a token. docs/security.md says what each role may do.
Role = Literal["staff", "partner", "signatory", "approver", "scheduler", "auditor", "admin", "operator"]
ROLES: tuple[str, ...] = get_args(Role)

DEFAULT_TTL_SECONDS = 8 * 3600


class Principal(BaseModel):
    """The caller as its token says: a subject (recorded in the audit trail, so it must be
    storable text), a non-empty organisation, and only roles and gates Pakta knows. A token
    claiming anything else is refused whole rather than trimmed to what is known."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: ShortText
    org: OrgId
    roles: Annotated[list[Role], Field(min_length=1, max_length=len(ROLES))]
    gates: Annotated[list[Gate], Field(max_length=len(GATES))] = []

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


# Asymmetric algorithms an OIDC issuer signs with; never `none`, never HMAC with a public key.
OIDC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


def decode_token(settings: Settings, token: str) -> Principal:
    """Verify `token` and return its principal; raise InvalidToken (a 401) otherwise
    (`verify_token` without the expiry)."""
    return verify_token(settings, token)[0]


def verify_token(settings: Settings, token: str) -> tuple[Principal, float]:
    """Verify `token` and return its principal and its expiry (`exp`, seconds since the
    epoch); raise InvalidToken (a 401) otherwise.

    HS256 tokens are checked with the shared secret (dev, or production with a strong
    secret); tokens signed with an asymmetric key are checked against the OIDC issuer's
    JWKS when one is configured, and their claims mapped to Pakta's through settings. A
    JWKS lookup may fetch keys over HTTP (cached): call it off the event loop then.
    """
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"The bearer token is invalid: {exc}.") from exc
    try:
        if settings.oidc_jwks_url and algorithm in OIDC_ALGORITHMS:
            key = (
                _jwks_client(settings.oidc_jwks_url, settings.oidc_jwks_cooldown_seconds)
                .get_signing_key_from_jwt(token)
                .key
            )
            verified = jwt.decode(
                token,
                key,
                algorithms=OIDC_ALGORITHMS,
                issuer=settings.oidc_issuer,
                audience=settings.oidc_audience,
                leeway=settings.oidc_leeway_seconds,
                options={"require": ["sub", "exp"]},
            )
            expires_at = float(verified["exp"])  # PyJWT checked it is a number
            claims = oidc_claims(settings, verified)
        elif settings.accepts_hmac_tokens:
            claims = jwt.decode(
                token,
                settings.jwt_secret,
                algorithms=[settings.jwt_algorithm],
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                options={"require": ["sub", "exp"]},
            )
            expires_at = float(claims["exp"])
        else:
            raise InvalidToken(
                "Tokens signed with a shared secret are not accepted here; sign in through the identity provider."
            )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The bearer token has expired.", code="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"The bearer token is invalid: {exc}.") from exc
    try:
        return Principal.model_validate(claims), expires_at
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise InvalidToken(
            "The bearer token's claims are not Pakta's: it needs an organisation (org) and known roles and gates.",
            claims=fields,
        ) from exc


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()  # a space-separated claim, like OAuth's `scope`
    return [str(v) for v in value] if isinstance(value, list) else []


def oidc_claims(settings: Settings, claims: dict[str, Any]) -> dict[str, Any]:
    """An issuer's claims as Pakta's `sub`, `org`, `roles` and `gates`. With a role map,
    only the issuer's values it names count (an issuer hands out many roles that are none
    of Pakta's business); without one, the claims must hold Pakta's own names."""
    roles, gates = (
        _as_list(_claim(claims, settings.oidc_roles_claim)),
        _as_list(_claim(claims, settings.oidc_gates_claim)),
    )
    if settings.oidc_role_map:
        mapped = [settings.oidc_role_map[v] for v in roles + gates if v in settings.oidc_role_map]
        roles = sorted({v for v in mapped if not v.startswith("gate:")})
        gates = sorted({v.removeprefix("gate:") for v in mapped if v.startswith("gate:")})
    return {"sub": claims.get("sub"), "org": _claim(claims, settings.oidc_org_claim), "roles": roles, "gates": gates}


class VerifiedTokens:
    """Bearer tokens this process verified lately, with their principal, so a client's next
    requests skip the signature and claims checks (≈ 0.1 ms of CPU each, and for an issuer's
    tokens a hop to a thread). Keyed by the whole token, signature included: only the very
    token verified is recognised. An entry lasts until the token's `exp` — what verifying
    it again would allow — and at most `max_age_seconds`, so a key the issuer withdraws
    counts no longer than its cached JWKS would let it (Pakta revokes no token itself:
    a token is valid until it expires, or until the secret or the issuer's keys change, and
    changing the secret restarts the process). At most `capacity` tokens are held; the
    oldest go first."""

    def __init__(
        self, *, capacity: int = 4096, max_age_seconds: float = 300.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.capacity = capacity
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._known: dict[str, tuple[Principal, float]] = {}

    def __len__(self) -> int:
        return len(self._known)

    def principal(self, token: str) -> Principal | None:
        """The principal of `token` if it was verified and has not expired since."""
        known = self._known.get(token)
        if known is None:
            return None
        if self._clock() >= known[1]:
            del self._known[token]
            return None
        return known[0]

    def remember(self, token: str, principal: Principal, expires_at: float) -> None:
        now = self._clock()
        until = min(expires_at, now + self.max_age_seconds)
        if until <= now:
            return
        if len(self._known) >= self.capacity:
            self._known = {t: known for t, known in self._known.items() if known[1] > now}
            while len(self._known) >= self.capacity:
                del self._known[next(iter(self._known))]
        self._known[token] = (principal, until)


@lru_cache(maxsize=4)
def _jwks_client(url: str, cooldown_seconds: float) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=10, cooldown_duration=cooldown_seconds)
