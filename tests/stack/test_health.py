"""The real app against the real PostgreSQL and Temporal dev server: probes, metrics, the
one error shape, and the request dependencies (auth, commit at the edge)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from services.api.app import create_app
from services.api.deps import PrincipalDep, SessionDep, TemporalDep
from services.auth import mint_token
from services.embedded.ports import free_port
from services.errors import Conflict
from tests.fixtures.api import app_client


@pytest.fixture
def live_settings(settings, temporal_env):
    target = temporal_env.client.service_client.config.target_host
    return settings.model_copy(update={"temporal_address": target})


async def test_healthz_and_readyz_when_everything_is_up(live_settings):
    async with app_client(create_app(live_settings)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "temporal": "ok"}}


async def test_readyz_names_temporal_when_it_is_down(settings):
    dead = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with app_client(create_app(dead)) as client:
        assert (await client.get("/healthz")).status_code == 200  # alive, just not ready
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        error = ready.json()["error"]
        assert error["code"] == "not_ready" and "temporal" in error["message"]
        assert error["down"] == ["temporal"]
        assert error["checks"]["database"] == "ok" and error["checks"]["temporal"].startswith("error")


async def test_readyz_names_the_database_when_it_is_down(live_settings):
    dead = live_settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://pakta@127.0.0.1:{free_port()}/pakta"}
    )
    async with app_client(create_app(dead)) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["error"]["down"] == ["database"]


async def test_metrics_count_requests_by_route_template(live_settings):
    async with app_client(create_app(live_settings)) as client:
        await client.get("/healthz")
        await client.get("/no/such/route")
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'pakta_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics.text
    assert 'route="<unmatched>",status="404"' in metrics.text
    assert "pakta_http_request_duration_seconds_bucket" in metrics.text


async def test_framework_errors_have_the_one_shape(live_settings):
    async with app_client(create_app(live_settings)) as client:
        missing = await client.get("/no/such/route")
        assert missing.status_code == 404
        assert missing.json() == {"error": {"code": "not_found", "message": "Not Found"}}
        assert missing.headers["x-request-id"]
        wrong_method = await client.delete("/healthz")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"]["code"] == "method_not_allowed"
        echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert echoed.headers["x-request-id"] == "abc-123"


# -- dependencies, through a router that exists only in this test ---------------------------


class Note(BaseModel):
    text: str
    fail: bool = False


def probe_router() -> APIRouter:
    router = APIRouter(prefix="/_probe")

    @router.get("/me")
    async def me(principal: PrincipalDep, temporal: TemporalDep):
        return {"principal": principal.model_dump(), "namespace": temporal.namespace}

    @router.get("/numbers/{n}")
    async def number(n: int, limit: int = 10):
        if n > limit:
            raise Conflict(f"{n} is over the limit", code="over_limit", limit=limit)
        return {"n": n}

    @router.post("/notes")
    async def add_note(note: Note, session: SessionDep):
        await session.execute(text("INSERT INTO test_probe.notes (text) VALUES (:t)"), {"t": note.text})
        if note.fail:
            raise Conflict("refused after writing")
        return {"ok": True}

    @router.get("/crash")
    async def crash():
        raise RuntimeError("a bug")

    return router


@pytest.fixture
async def probe_client(live_settings, pg):
    app = create_app(live_settings)
    app.include_router(probe_router())
    async with app_client(app) as client:
        async with app.state.engine.begin() as conn:
            # In a schema of its own, so the schema Alembic manages stays exactly the models'.
            await conn.execute(text("CREATE SCHEMA IF NOT EXISTS test_probe"))
            await conn.execute(text("CREATE TABLE IF NOT EXISTS test_probe.notes (text text)"))
            await conn.execute(text("TRUNCATE test_probe.notes"))
        client.app = app
        yield client


async def test_principal_dependency(probe_client, live_settings):
    missing = await probe_client.get("/_probe/me")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "unauthorized"
    bad = await probe_client.get("/_probe/me", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"
    token = mint_token(live_settings, sub="ana", org="jabar", roles=["staff"])
    ok = await probe_client.get("/_probe/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {
        "principal": {"sub": "ana", "org": "jabar", "roles": ["staff"], "gates": []},
        "namespace": "default",
    }


async def test_validation_and_domain_errors_have_the_one_shape(probe_client):
    invalid = await probe_client.get("/_probe/numbers/abc")
    assert invalid.status_code == 422
    error = invalid.json()["error"]
    assert error["code"] == "validation_error" and error["errors"][0]["loc"] == ["path", "n"]
    conflict = await probe_client.get("/_probe/numbers/50")
    assert conflict.status_code == 409
    assert conflict.json() == {"error": {"code": "over_limit", "message": "50 is over the limit", "limit": 10}}


async def test_unexpected_errors_are_a_500_in_the_one_shape(probe_client):
    crash = await probe_client.get("/_probe/crash")
    assert crash.status_code == 500
    assert crash.json() == {"error": {"code": "internal_error", "message": "Internal server error."}}


async def test_session_commits_only_when_the_handler_succeeds(probe_client):
    assert (await probe_client.post("/_probe/notes", json={"text": "kept"})).status_code == 200
    refused = await probe_client.post("/_probe/notes", json={"text": "rolled back", "fail": True})
    assert refused.status_code == 409
    async with probe_client.app.state.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT text FROM test_probe.notes"))).scalars().all()
    assert rows == ["kept"]


async def test_metrics_in_production_need_the_scrapers_token(live_settings):
    strong = "pW3x9LqZ7vN2mK8rT4yB6hJ1cF5dG0sA"
    hidden = live_settings.model_copy(update={"env": "production", "jwt_secret": strong})
    async with app_client(create_app(hidden)) as client:
        assert (await client.get("/metrics")).status_code == 404
    guarded = hidden.model_copy(update={"metrics_token": "scrape-me-please-0123456789"})
    async with app_client(create_app(guarded)) as client:
        refused = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        scraped = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please-0123456789"})
        assert scraped.status_code == 200 and "pakta_http_requests_total" in scraped.text
