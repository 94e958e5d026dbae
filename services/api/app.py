"""The HTTP API: `create_app()` wires settings, database, Temporal, errors, observability
and the routers. No state lives in the process beyond connection pools, so any number of
replicas can run behind a load balancer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from temporalio.client import Client

from services.api.database import api_engine
from services.api.errors import register_error_handlers
from services.api.limits import RequestLimits
from services.api.observability import RequestObservability, native_telemetry
from services.api.openapi import install_contract
from services.api.route_index import index_routes
from services.api.routes import (
    agreements,
    contacts,
    dev,
    documents,
    events,
    health,
    inbox,
    notifications,
    organisations,
    portfolio,
    register,
    reports,
    webhooks,
)
from services.api.web import PAGES as WEB_PAGES
from services.api.web import install as install_web
from services.api.web import too_large_page
from services.auth import VerifiedTokens
from services.heap import settle_heap_for_serving
from services.logging import configure_logging
from services.notifying import webhook
from services.settings import Settings, get_settings, secret_weakness
from services.store.db import create_sessionmaker
from services.temporal_client import connect_temporal

log = structlog.get_logger("pakta.api")

ROUTERS = (
    health,
    agreements,
    documents,
    events,
    inbox,
    notifications,
    webhooks,
    contacts,
    portfolio,
    reports,
    organisations,
    register,
    dev,
)

DESCRIPTION = """\
Pakta runs the lifecycle of cooperation agreements between public bodies (*kerja sama
daerah*): proposal, review, negotiation, approval, signing, implementation, evaluation,
amendment and expiry. Authenticate with a bearer JWT (`pakta token` mints one in dev).
Errors always have the shape `{"error": {"code": "...", "message": "..."}}`.
"""


def create_app(settings: Settings | None = None, *, temporal_client: Client | None = None) -> FastAPI:
    """Build the app. Pass `temporal_client` to share an existing client (tests, `pakta dev`);
    otherwise the lifespan opens a lazy one, so the API starts while Temporal is down and
    /readyz reports it until it is back."""
    settings = settings or get_settings()
    if settings.is_production and not settings.oidc_jwks_url and not settings.accepts_hmac_tokens:
        raise RuntimeError(
            f"refusing to start in production: PAKTA_JWT_SECRET cannot be used because "
            f"{secret_weakness(settings.jwt_secret)}; set a long random secret "
            "(openssl rand -base64 48) or PAKTA_OIDC_JWKS_URL"
        )
    try:  # a bad PAKTA_WEBHOOK_ALLOWED_HOSTS entry stops the start, not a registration later
        webhook.Egress.of(production=settings.is_production, allowed=settings.webhook_allowed_hosts)
    except ValueError as error:
        raise RuntimeError(f"PAKTA_WEBHOOK_ALLOWED_HOSTS: {error}") from None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = api_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        # Requests that only read (services.api.deps.ReadSessionDep) run each statement on
        # its own: no BEGIN and COMMIT round trips around it.
        app.state.read_sessionmaker = create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
        app.state.temporal = temporal_client or await connect_temporal(settings, lazy=True)
        log.info("api_started", temporal=settings.temporal_address, env=settings.env)
        try:
            yield
        finally:
            await engine.dispose()

    # FastAPIOffline: /docs and /redoc serve Swagger UI and ReDoc from the package, no CDN.
    app = FastAPIOffline(
        title="Pakta",
        summary="Workflow service for cooperation agreements between public bodies",
        description=DESCRIPTION,
        version=_version(),
        lifespan=lifespan,
        telemetry=native_telemetry(),
    )
    app.state.settings = settings
    app.state.verified_tokens = VerifiedTokens()  # services.auth: a token's checks once, not per request
    register_error_handlers(app)
    install_contract(app)
    app.add_middleware(
        RequestLimits,
        default_limit=settings.request_max_bytes,
        limits={
            "/documents": settings.document_max_bytes + 1,
            "/agreements/import": settings.import_max_bytes,
            # Web forms that may carry a document (a draft, the scan of a wet-ink signature).
            "/ui/agreements/": settings.document_max_bytes + 64 * 1024,
            # ... but the proposal form, which carries none: as `POST /agreements`.
            "/ui/agreements/new": settings.request_max_bytes,
        },
        # A form posted in a browser gets the site's page; the API keeps its JSON.
        pages=dict.fromkeys(WEB_PAGES, too_large_page),
    )
    app.add_middleware(RequestObservability)
    for module in ROUTERS:
        app.include_router(module.router)
    install_web(app)  # the web pages (/ui/, /public/) and their static files
    index_routes(app)  # each request's route by one look-up, not FastAPI's walk over 23 routers
    return app


def app_of_this_process() -> FastAPI:
    """The app one of `pakta api`'s processes serves when there are several
    (`PAKTA_API_PROCESSES`): each is started afresh, so it configures its own logging and
    builds its own app, pools and token cache from the same settings."""
    settings = get_settings()
    configure_logging(settings)
    app = create_app(settings)
    settle_heap_for_serving()
    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("pakta")
    except Exception:
        return "0.0.0"
