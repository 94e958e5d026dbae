"""Per-request plumbing: a request id, a structured access line, Prometheus metrics, and
the 500 for anything unexpected (logged here, with the request id, exactly once); and
whether FastAPI's own OpenTelemetry runs at all (`native_telemetry`)."""

from __future__ import annotations

import os
import random
import re
import time
from typing import Any

import structlog
from fastapi.telemetry import TelemetryConfig
from opentelemetry import _logs, metrics, trace
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.errors import internal_error_response

log = structlog.get_logger("pakta.access")

REQUESTS = Counter("pakta_http_requests_total", "HTTP requests handled.", ["method", "route", "status"])
LATENCY = Histogram("pakta_http_request_duration_seconds", "HTTP request latency.", ["method", "route", "status"])
# Each (method, route, status)'s two series, as `labels()` gives them (it checks and looks
# them up under a lock on every call): one dict look-up per request instead. As many as the
# series themselves.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Not worth a log line each: probes and scrapes arrive every few seconds.
_QUIET = {"/healthz", "/readyz", "/metrics"}


# The global providers' stand-ins until something sets a provider (OpenTelemetry's API has no
# public "is it configured" question; FastAPI asks by these same names).
_UNSET_PROVIDERS = frozenset(
    {
        ("opentelemetry.trace", "ProxyTracerProvider"),
        ("opentelemetry.metrics._internal", "_ProxyMeterProvider"),
        ("opentelemetry._logs._internal", "ProxyLoggerProvider"),
    }
)


def native_telemetry(
    tracer_provider: Any = None, meter_provider: Any = None, logger_provider: Any = None
) -> TelemetryConfig:
    """FastAPI's OpenTelemetry (spans, metrics, logs of each request) on for the signals
    whose global provider is set when the app is built — by default the process's own.
    Pakta sets none (its metrics are Prometheus', its logs structlog's), yet FastAPI would
    ask all three providers on every request whether one was set since: ≈ 2.6 % of the
    API's CPU under the bench, for nothing. An operator who runs `pakta api` under
    `opentelemetry-instrument`, or sets a provider before the app is built, keeps them."""
    providers = (
        tracer_provider or trace.get_tracer_provider(),
        meter_provider or metrics.get_meter_provider(),
        logger_provider or _logs.get_logger_provider(),
    )
    tracing, measuring, logs = (
        (type(provider).__module__, type(provider).__name__) not in _UNSET_PROVIDERS for provider in providers
    )
    return {"tracing": tracing, "metrics": measuring, "logs": logs}


def new_request_id() -> str:
    """A new request's id: 32 hex digits, as `uuid4().hex` has, from the process's own
    random generator (seeded from the OS, and again in a forked child) — no system call
    and no UUID object per request. It only tells requests apart in the logs."""
    return f"{random.getrandbits(128):032x}"


def exposed_metrics() -> CollectorRegistry:
    """What /metrics shows: this process's metrics — or, when `pakta api` serves its port
    with several processes (`PAKTA_API_PROCESSES`; it sets `PROMETHEUS_MULTIPROC_DIR` for
    them), all of theirs added up, since a scrape reaches one of them at random."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    return registry


class RequestObservability:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else new_request_id()
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if response_started:
                raise
            await internal_error_response()(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            # The route template, not the path: /agreements/{id} is one series, not millions.
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            series = _SERIES.get((scope["method"], route, status))
            if series is None:
                labels = (scope["method"], route, str(status))
                series = _SERIES[(scope["method"], route, status)] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
            series[0].inc()
            series[1].observe(elapsed)
            if scope["path"] not in _QUIET or status >= 400:
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )
            structlog.contextvars.unbind_contextvars("request_id")
