"""Fixtures of the web tests (on top of tests/conftest.py):

- `web`      the API app (with its web pages) served by uvicorn on a free loopback port, a
             real worker on the Temporal dev server on a task queue of its own, the
             embedded PostgreSQL on a database of the stack's own; one per session (see
             tests/web/live.py)
- `browser`  Debian's chromium driven by Playwright, headless, one per session; never a
             downloaded browser (`make test` installs chromium with apt when it is missing)
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
import uvicorn
from temporalio.worker import Worker

from services.api.app import create_app
from services.embedded.postgres import EmbeddedPostgres
from services.settings import Settings
from services.store.db import create_engine, create_sessionmaker
from services.worker.dispatcher import OutboxDispatcher
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.fixtures.ports import listening_socket
from tests.fixtures.servers import database_of_its_own, settings_on
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, LiveStack, chromium_installed


@pytest_asyncio.fixture(loop_scope="session")
async def web(live_stack: tuple[LiveStack, OutboxDispatcher]) -> AsyncIterator[LiveStack]:
    """The live stack, its outbox dispatcher running for this test only."""
    live, dispatcher = live_stack
    async with dispatcher.running():
        yield live


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def live_stack(pg: EmbeddedPostgres, temporal_env) -> AsyncIterator[tuple[LiveStack, OutboxDispatcher]]:
    async with database_of_its_own(pg) as url, _live_stack(settings_on(url), temporal_env) as built:
        yield built


@contextlib.asynccontextmanager
async def _live_stack(settings: Settings, temporal_env) -> AsyncIterator[tuple[LiveStack, OutboxDispatcher]]:
    task_queue = f"pakta-web-{uuid.uuid4()}"
    listening = listening_socket()  # the port is uvicorn's from now on: nothing can take it first
    port = listening.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    target = temporal_env.client.service_client.config.target_host
    configured = settings.model_copy(
        update={"temporal_address": target, "temporal_task_queue": task_queue, "public_url": base_url}
    )
    engine = create_engine(configured)
    sessionmaker = create_sessionmaker(engine)
    dispatcher = OutboxDispatcher(configured, sessionmaker)
    worker = Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities(configured, sessionmaker, dispatcher=dispatcher),
    )
    app = create_app(configured, temporal_client=temporal_env.client)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    try:
        async with worker:
            serving = asyncio.create_task(server.serve(sockets=[listening]))
            for _ in range(400):
                if server.started or serving.done():
                    break
                await asyncio.sleep(0.025)
            assert server.started, "uvicorn did not start"
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
                yield (
                    LiveStack(http=http, settings=configured, sessionmaker=sessionmaker, base_url=base_url),
                    dispatcher,
                )
            server.should_exit = True
            await serving
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser():
    from playwright.async_api import async_playwright

    assert chromium_installed(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium with apt"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()
