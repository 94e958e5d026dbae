"""Signing in through an OIDC issuer: the authorization-code flow with PKCE (S256), built on
Authlib's OAuth 2 pieces. Enabled when the issuer's tokens are accepted by the API
(`PAKTA_OIDC_JWKS_URL`, `PAKTA_OIDC_ISSUER`) and a client is registered for Pakta
(`PAKTA_OIDC_CLIENT_ID`, optionally `PAKTA_OIDC_CLIENT_SECRET`); the endpoints come from the
issuer's discovery document (`PAKTA_OIDC_DISCOVERY_URL`, by default
`{PAKTA_OIDC_ISSUER}/.well-known/openid-configuration`). The access token the issuer returns
is verified exactly like a bearer token of the API (`services.auth.decode_token`) and kept
in the session cookie; the state, the PKCE verifier and the page to return to wait in it
between the two legs.

Signing out of such a session ends the issuer's session too when its discovery document
names an `end_session_endpoint` (OpenID Connect RP-Initiated Logout 1.0): the browser goes
there with the ID token as `id_token_hint` and `post_logout_redirect_uri`
`PAKTA_PUBLIC_URL/ui/signin` (to be registered with the client), so the next sign-in asks
the person again instead of silently reusing the issuer's session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from services.api.web.pages import WebDep, error_page, redirect
from services.api.web.session import WebSession, safe_next
from services.auth import decode_token
from services.errors import PaktaError
from services.settings import Settings

router = APIRouter(prefix="/ui/oidc", include_in_schema=False)
# Where the session keeps the issuer's ID token, for `id_token_hint` when signing out.
ID_TOKEN = "i"


@dataclass(frozen=True)
class OidcClient:
    client_id: str
    client_secret: str | None
    discovery_url: str | None
    scope: str


def client_of(request: Request) -> OidcClient | None:
    """The registered client, if signing in through the issuer is configured."""
    settings: Settings = request.app.state.settings
    if not (
        settings.oidc_client_id and settings.oidc_jwks_url and (settings.oidc_discovery_url or settings.oidc_issuer)
    ):
        return None
    return OidcClient(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        discovery_url=settings.oidc_discovery_url,
        scope=settings.oidc_scope,
    )


_DISCOVERY: dict[str, dict[str, Any]] = {}


async def discovery(settings: Settings, client: OidcClient) -> dict[str, Any]:
    url = client.discovery_url or f"{(settings.oidc_issuer or '').rstrip('/')}/.well-known/openid-configuration"
    if url not in _DISCOVERY:
        async with httpx.AsyncClient(timeout=10) as http:
            resp = await http.get(url)
            resp.raise_for_status()
            _DISCOVERY[url] = resp.json()
    return _DISCOVERY[url]


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/ui/oidc/callback"


def post_logout_redirect_uri(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/ui/signin"


async def end_session_url(request: Request, ws: WebSession) -> str | None:
    """Where the browser ends the issuer's session after signing out of Pakta, or None:
    the session did not come from the issuer, or the issuer has no end-session endpoint
    (or cannot be asked now: signing out of Pakta must not wait on it)."""
    client = client_of(request)
    id_token = ws.data.get(ID_TOKEN)
    if client is None or not isinstance(id_token, str):
        return None
    settings: Settings = request.app.state.settings
    try:
        endpoint = (await discovery(settings, client)).get("end_session_endpoint")
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return None
    url: str = add_params_to_uri(
        endpoint,
        [
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", post_logout_redirect_uri(settings)),
            ("client_id", client.client_id),
        ],
    )
    return url


@router.get("/login")
async def login(request: Request, ws: WebDep, next: str | None = None) -> Response:
    client = client_of(request)
    if client is None:
        return error_page(request, ws, 404, ws.tr.t("Not found"), ws.tr.t("Sign in through the identity provider."))
    settings: Settings = request.app.state.settings
    config = await discovery(settings, client)
    state, verifier, nonce = generate_token(32), generate_token(64), generate_token(32)
    ws.data["o"] = {"s": state, "v": verifier, "n": safe_next(next)}
    ws.dirty = True
    url = add_params_to_uri(
        config["authorization_endpoint"],
        [
            ("response_type", "code"),
            ("client_id", client.client_id),
            ("redirect_uri", redirect_uri(settings)),
            ("scope", client.scope),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ],
    )
    return redirect(ws, url)


@router.get("/callback")
async def callback(
    request: Request, ws: WebDep, code: str | None = None, state: str | None = None, error: str | None = None
) -> Response:
    client = client_of(request)
    pending = ws.data.pop("o", None)
    ws.dirty = True
    t = ws.tr.t
    if client is None or not isinstance(pending, dict) or error or not code or state != pending.get("s"):
        return error_page(request, ws, 401, t("Sign in"), t("Signing in through the identity provider failed."))
    settings: Settings = request.app.state.settings
    config = await discovery(settings, client)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(settings),
        "code_verifier": pending["v"],
        "client_id": client.client_id,
    }
    auth: tuple[str, str] | None = (client.client_id, client.client_secret) if client.client_secret else None
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(
            config["token_endpoint"],
            data=form,
            auth=auth or httpx.USE_CLIENT_DEFAULT,
            headers={"Accept": "application/json"},
        )
    tokens = resp.json() if resp.status_code == 200 else {}
    token = tokens.get("access_token")
    try:
        principal = await run_in_threadpool(decode_token, settings, token) if token else None
    except PaktaError:
        principal = None
    if principal is None or not isinstance(token, str):
        return error_page(request, ws, 401, t("Sign in"), t("Signing in through the identity provider failed."))
    ws.sign_in(token, principal)
    if isinstance(tokens.get("id_token"), str):
        ws.data[ID_TOKEN] = tokens["id_token"]
    return redirect(ws, pending.get("n") or "/ui/")
