"""Annotated dependencies for route handlers:

    async def handler(session: SessionDep, temporal: TemporalDep, me: PrincipalDep): ...

SessionDep commits when the handler returns and rolls back when it raises: routes never
commit themselves (commit only at the edge).

Every dependency is `async def`, even those that do nothing to await: FastAPI runs a plain
`def` dependency in its thread pool, a hand-off to a thread and back for each request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from services.auth import Principal, VerifiedTokens, verify_token
from services.errors import ServiceUnavailable, Unauthorized
from services.settings import Settings


def settings_of(request: Request) -> Settings:
    """The app's settings. For the hot routes (an action, a creation), which call it
    rather than take SettingsDep: FastAPI solves each dependency on every request."""
    settings: Settings = request.app.state.settings
    return settings


async def get_settings_dep(request: Request) -> Settings:
    return settings_of(request)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": commit right after the handler returns, before the response is sent,
# so a failed commit is the client's 500 and a 2xx means the write is durable.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.read_sessionmaker() as session:
        yield session


# For handlers that write nothing through their session (reading an agreement, sending it a
# command: the workflow records). Each statement runs on its own, as under READ COMMITTED
# each would see what was committed when it started anyway; without a transaction around
# them a request saves its BEGIN and COMMIT, two round trips to PostgreSQL. A write through
# it would commit at once, statement by statement: handlers that write take SessionDep.
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


def read_session(request: Request) -> AsyncSession:
    """A session as ReadSessionDep's, for a hot route to open itself (`async with`): FastAPI
    solves a dependency that yields through an exit stack of its own on every request."""
    session: AsyncSession = request.app.state.read_sessionmaker()
    return session


def temporal_of(request: Request) -> Client:
    """The app's Temporal client, or 503 while it is not connected. For the hot routes, as
    `settings_of`."""
    client: Client | None = getattr(request.app.state, "temporal", None)
    if client is None:
        raise ServiceUnavailable("Temporal is not connected yet.", code="temporal_unavailable")
    return client


async def get_temporal(request: Request) -> Client:
    return temporal_of(request)


TemporalDep = Annotated[Client, Depends(get_temporal)]


class BearerPrincipal(SecurityBase):
    """The caller's principal, from their `Authorization: Bearer` token, or 401.

    One dependency where `HTTPBearer` and a function taking its credentials were two: FastAPI
    solves each dependency, and its own, on every request (≈ a tenth of a GET's CPU, #11). As
    a `SecurityBase` of `HTTPBearer`'s model and name, the OpenAPI document declares the same
    `HTTPBearer` scheme and requirement on the same routes; the header is read as
    `HTTPBearer` reads it (the scheme's case ignored, the token stripped)."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(description="A Pakta JWT (`pakta token` mints one).")
        self.scheme_name = "HTTPBearer"

    async def __call__(self, request: Request) -> Principal:
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        if not token or scheme.lower() != "bearer":
            raise Unauthorized("A bearer token is required.")
        return await verified_principal(request, token)


async def verified_principal(request: Request, token: str) -> Principal:
    """The principal of `token` (a bearer token, or the one a web session's cookie holds):
    verified once, then recognised by this process until it expires (`VerifiedTokens`)."""
    verified: VerifiedTokens = request.app.state.verified_tokens
    if (known := verified.principal(token)) is not None:
        return known
    settings: Settings = request.app.state.settings
    if settings.oidc_jwks_url:  # may fetch the issuer's keys: keep it off the event loop
        principal, expires_at = await run_in_threadpool(verify_token, settings, token)
    else:
        principal, expires_at = verify_token(settings, token)
    verified.remember(token, principal, expires_at)
    return principal


PrincipalDep = Annotated[Principal, Depends(BearerPrincipal())]
