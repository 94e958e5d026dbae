"""Signing in through an OIDC issuer: authorization code with PKCE against a local issuer
(discovery, authorize, token, JWKS), the issuer's access token verified like any bearer
token, and the session then opening the page asked for; signing out ends the issuer's
session too when it has an end-session endpoint (RP-initiated logout)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from services.api.app import create_app
from services.settings import Settings
from tests.fixtures.api import app_client
from tests.fixtures.ports import listening_socket
from tests.web.live import csrf_of


class LocalIssuer:
    """An identity provider in miniature: it signs in whoever comes (as `person`) and
    checks the PKCE verifier against the challenge before handing out a token."""

    def __init__(self, person: dict[str, object], *, ends_sessions: bool = True) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ends_sessions = ends_sessions
        self.sessions: set[str] = set()  # the issuer's own sign-ins (its session ids)
        self.ended: list[dict[str, str]] = []
        self.listening = listening_socket()  # the port is uvicorn's from now on: nothing can take it first
        self.port = self.listening.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.person = person
        self.codes: dict[str, dict[str, str]] = {}
        self.refused: list[str] = []
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
                Route("/end_session", self.end_session),
            ]
        )
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))

    async def discovery(self, request: Request) -> JSONResponse:
        config = {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
        }
        if self.ends_sessions:
            config["end_session_endpoint"] = f"{self.url}/end_session"
        return JSONResponse(config)

    async def authorize(self, request: Request) -> RedirectResponse:
        q = request.query_params
        assert q["response_type"] == "code" and q["code_challenge_method"] == "S256" and q["client_id"] == "pakta-web"
        code = f"code-{len(self.codes)}-{len(self.sessions)}"
        sid = f"sid-{len(self.sessions)}"
        self.sessions.add(sid)
        self.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"], "sid": sid}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

    async def token(self, request: Request) -> JSONResponse:
        form = await request.form()
        grant = self.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier") or "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if grant is None or digest != grant["challenge"] or form.get("redirect_uri") != grant["redirect_uri"]:
            self.refused.append(str(form.get("code")))
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {**self.person, "iss": self.url, "aud": "pakta", "iat": now, "exp": now + 600}
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
        identity = {"sub": self.person["sub"], "iss": self.url, "aud": "pakta-web", "iat": now, "exp": now + 600}
        id_token = jwt.encode({**identity, "sid": grant["sid"]}, self.key, algorithm="RS256", headers={"kid": "k1"})
        return JSONResponse({"access_token": token, "id_token": id_token, "token_type": "Bearer", "expires_in": 600})

    async def end_session(self, request: Request) -> RedirectResponse | JSONResponse:
        """RP-initiated logout: the ID token this issuer signed names the session to end."""
        q = request.query_params
        try:
            claims = jwt.decode(q["id_token_hint"], self.key.public_key(), algorithms=["RS256"], audience="pakta-web")
        except (KeyError, jwt.InvalidTokenError):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        self.sessions.discard(claims["sid"])
        self.ended.append({"sid": claims["sid"], "post_logout_redirect_uri": q["post_logout_redirect_uri"]})
        return RedirectResponse(q["post_logout_redirect_uri"], 302)

    async def jwks(self, request: Request) -> JSONResponse:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return JSONResponse({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    async def __aenter__(self) -> LocalIssuer:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.listening]))
        for _ in range(500):
            if self.server.started:
                break
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self.task


async def test_a_person_signs_in_through_the_issuer_with_pkce_and_comes_back(settings: Settings, orgs):
    province, _ = orgs
    person = {"sub": "siti", "org": province, "roles": ["staff"]}
    async with LocalIssuer(person) as issuer:
        configured = settings.model_copy(
            update={
                "oidc_jwks_url": f"{issuer.url}/jwks",
                "oidc_issuer": issuer.url,
                "oidc_audience": "pakta",
                "public_url": "http://pakta.test",
                "oidc_client_id": "pakta-web",
            }
        )
        app = create_app(configured)
        async with app_client(app) as pakta:
            asked = await pakta.get("/ui/dashboard")
            signin = await pakta.get(asked.headers["location"])
            assert 'id="oidc-signin"' in signin.text
            login = await pakta.get("/ui/oidc/login", params={"next": "/ui/dashboard"})
            assert login.status_code == 303
            authorize = urlparse(login.headers["location"])
            assert f"{authorize.scheme}://{authorize.netloc}" == issuer.url
            assert "code_verifier" not in authorize.query  # only its challenge travels
            async with httpx.AsyncClient() as browser:
                back = await browser.get(login.headers["location"])
            assert back.status_code == 302
            callback = urlparse(back.headers["location"])
            assert callback.path == "/ui/oidc/callback"
            # A forged state is refused, and spends the pending sign-in.
            forged = await pakta.get("/ui/oidc/callback?code=x&state=forged")
            assert forged.status_code == 401
            again = await pakta.get("/ui/oidc/login", params={"next": "/ui/dashboard"})
            async with httpx.AsyncClient() as browser:
                back = await browser.get(again.headers["location"])
            callback = urlparse(back.headers["location"])
            done = await pakta.get(f"{callback.path}?{callback.query}")
            assert done.status_code == 303 and done.headers["location"] == "/ui/dashboard", done.text
            page = await pakta.get("/ui/dashboard")
            assert page.status_code == 200 and "siti" in page.text
            # A code is good once: replaying the callback signs nobody in.
            replay = await pakta.get(f"{callback.path}?{callback.query}")
            assert replay.status_code == 401
            assert parse_qs(callback.query)["code"][0] not in issuer.codes


async def signed_in_through(issuer: LocalIssuer, pakta: httpx.AsyncClient) -> None:
    login = await pakta.get("/ui/oidc/login", params={"next": "/ui/dashboard"})
    async with httpx.AsyncClient() as browser:
        back = await browser.get(login.headers["location"])
    callback = urlparse(back.headers["location"])
    done = await pakta.get(f"{callback.path}?{callback.query}")
    assert done.status_code == 303, done.text


def configured_for(settings: Settings, issuer: LocalIssuer) -> Settings:
    return settings.model_copy(
        update={
            "oidc_jwks_url": f"{issuer.url}/jwks",
            "oidc_issuer": issuer.url,
            "oidc_audience": "pakta",
            "public_url": "http://pakta.test",
            "oidc_client_id": "pakta-web",
        }
    )


async def test_signing_out_ends_the_issuer_s_session_too_and_comes_back_to_sign_in(settings: Settings, orgs):
    province, _ = orgs
    person = {"sub": "siti", "org": province, "roles": ["staff"]}
    async with (
        LocalIssuer(person) as issuer,
        app_client(create_app(configured_for(settings, issuer))) as pakta,
    ):
        await signed_in_through(issuer, pakta)
        assert len(issuer.sessions) == 1
        page = await pakta.get("/ui/dashboard")
        assert (await pakta.post("/ui/signout", data={})).status_code == 403  # CSRF, as every form
        out = await pakta.post("/ui/signout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303
        end = urlparse(out.headers["location"])
        assert f"{end.scheme}://{end.netloc}{end.path}" == f"{issuer.url}/end_session"
        query = parse_qs(end.query)
        assert query["post_logout_redirect_uri"] == ["http://pakta.test/ui/signin"]
        assert query["client_id"] == ["pakta-web"]
        # Pakta's own session is gone before the browser even reaches the issuer ...
        assert (await pakta.get("/ui/dashboard")).status_code == 303
        async with httpx.AsyncClient() as browser:
            back = await browser.get(out.headers["location"])
        # ... and the issuer ended its own, then sends the browser back to Pakta's sign-in.
        assert back.status_code == 302 and back.headers["location"] == "http://pakta.test/ui/signin"
        assert issuer.sessions == set() and [e["sid"] for e in issuer.ended] == ["sid-0"]


async def test_signing_out_stays_local_when_the_issuer_has_no_end_session_endpoint(settings: Settings, orgs):
    province, _ = orgs
    person = {"sub": "siti", "org": province, "roles": ["staff"]}
    async with (
        LocalIssuer(person, ends_sessions=False) as issuer,
        app_client(create_app(configured_for(settings, issuer))) as pakta,
    ):
        await signed_in_through(issuer, pakta)
        page = await pakta.get("/ui/dashboard")
        out = await pakta.post("/ui/signout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/ui/signin"
        assert (await pakta.get("/ui/dashboard")).status_code == 303
        assert issuer.ended == []


async def test_a_next_too_long_to_keep_signs_in_through_the_issuer_to_the_inbox(settings: Settings, orgs):
    # The pending sign-in's `next` is kept in the session cookie: 15,000 characters of it made
    # a cookie a browser drops (over 4 KB), so that sign-in failed without a word.
    province, _ = orgs
    person = {"sub": "siti", "org": province, "roles": ["staff"]}
    async with (
        LocalIssuer(person) as issuer,
        app_client(create_app(configured_for(settings, issuer))) as pakta,
    ):
        login = await pakta.get("/ui/oidc/login", params={"next": "/ui/agreements?title=" + "a" * 15_000})
        assert login.status_code == 303
        cookie = next(c for c in login.headers.get_list("set-cookie") if c.startswith("pakta_session="))
        assert len(cookie.split(";")[0]) < 4000
        async with httpx.AsyncClient() as browser:
            back = await browser.get(login.headers["location"])
        callback = urlparse(back.headers["location"])
        done = await pakta.get(f"{callback.path}?{callback.query}")
        assert done.status_code == 303 and done.headers["location"] == "/ui/", done.headers["location"][:100]
