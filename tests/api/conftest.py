"""Fixtures of the API tests (on top of tests/conftest.py):

- `stack`  the whole stack in-process, one per session: the real app (lifespan and all)
           over httpx, a real worker on the Temporal dev server on a task queue of its
           own, the embedded PostgreSQL on a database of the stack's own (see
           tests/api/stack.py for what it offers). Its outbox dispatcher runs during each
           test that asks for `stack` only.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from temporalio.worker import Worker

from services.api.app import create_app
from services.embedded.postgres import EmbeddedPostgres
from services.settings import Settings
from services.store.db import create_engine, create_sessionmaker
from services.worker.dispatcher import OutboxDispatcher
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.api.stack import Stack
from tests.fixtures.servers import database_of_its_own, settings_on
from tests.receivers import WEBHOOK_TIMEOUT


@pytest_asyncio.fixture(loop_scope="session")
async def stack(whole_stack: tuple[Stack, OutboxDispatcher]) -> AsyncIterator[Stack]:
    running, dispatcher = whole_stack
    async with dispatcher.running():
        yield running


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def whole_stack(pg: EmbeddedPostgres, temporal_env) -> AsyncIterator[tuple[Stack, OutboxDispatcher]]:
    async with database_of_its_own(pg) as url, _whole_stack(settings_on(url), temporal_env) as built:
        yield built


@contextlib.asynccontextmanager
async def _whole_stack(settings: Settings, temporal_env) -> AsyncIterator[tuple[Stack, OutboxDispatcher]]:
    task_queue = f"pakta-e2e-{uuid.uuid4()}"
    target = temporal_env.client.service_client.config.target_host
    configured = settings.model_copy(
        update={
            "temporal_address": target,
            "temporal_task_queue": task_queue,
            "webhook_timeout_seconds": WEBHOOK_TIMEOUT,  # tests/receivers.py says why
        }
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
    app = create_app(configured)
    try:
        async with worker, app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://pakta.test", timeout=60) as http:
                yield Stack(http=http, settings=configured, sessionmaker=sessionmaker), dispatcher
    finally:
        await engine.dispose()
