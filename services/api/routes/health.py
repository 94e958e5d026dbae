"""Probes and metrics: /healthz (the process is up), /readyz (its dependencies are
reachable, so a load balancer may send traffic), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from services.api.errors import error_response
from services.api.observability import exposed_metrics

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT = 2.0


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_database(request: Request) -> None:
    async with request.app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check_temporal(request: Request) -> None:
    client = getattr(request.app.state, "temporal", None)
    if client is None:
        raise RuntimeError("not connected")
    await client.service_client.check_health(timeout=timedelta(seconds=CHECK_TIMEOUT))


async def _outcome(check: Callable[[Request], Awaitable[None]], request: Request) -> str:
    try:
        await asyncio.wait_for(check(request), CHECK_TIMEOUT + 0.5)
        return "ok"
    except TimeoutError:
        return "error: timed out"
    except Exception as exc:
        return f"error: {str(exc)[:200] or type(exc).__name__}"


@router.get(
    "/readyz",
    summary="Readiness: PostgreSQL and Temporal are reachable",
    responses={503: {"description": "A dependency is down; the body names it"}},
    response_model=None,
)
async def readyz(request: Request) -> JSONResponse | dict[str, Any]:
    database, temporal = await asyncio.gather(_outcome(_check_database, request), _outcome(_check_temporal, request))
    checks = {"database": database, "temporal": temporal}
    down = [name for name, outcome in checks.items() if outcome != "ok"]
    if down:
        return error_response(503, "not_ready", f"Unavailable: {', '.join(down)}.", {"checks": checks, "down": down})
    return {"status": "ready", "checks": checks}


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Open in dev. In production the scraper shows `PAKTA_METRICS_TOKEN` as a bearer token;
    without one configured the endpoint does not exist there: route names, error rates and
    volumes are nobody else's business."""
    settings = request.app.state.settings
    if settings.metrics_token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {settings.metrics_token}".encode()):
            return error_response(
                401, "unauthorized", "The metrics token is required.", headers={"WWW-Authenticate": "Bearer"}
            )
    elif settings.is_production:
        return error_response(404, "not_found", "Not found.")
    return Response(generate_latest(exposed_metrics()), media_type=CONTENT_TYPE_LATEST)
