"""Shared fixtures, all lazy (a server starts only if a test asks for it) and, except
`task_queue`, one per test session:

- `pg`                EmbeddedPostgres on a free port in a tmp dir, migrated to head
- `settings`          Settings pointing at `pg` (Temporal left at its default address)
- `temporal_env`      WorkflowEnvironment on the Temporal dev server (pydantic converter)
- `time_skipping_env` WorkflowEnvironment on the time-skipping test server
- `task_queue`        a fresh task queue name per test
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from services.embedded.postgres import EmbeddedPostgres
from services.settings import Settings
from tests.fixtures.servers import start_dev_server, start_postgres, start_time_skipping_server


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = start_postgres(tmp_path_factory.mktemp("pakta-pg"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(pg: EmbeddedPostgres) -> Settings:
    return Settings(env="dev", database_url=pg.url, metrics_port=0, log_json=False)


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping_server()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"pakta-test-{uuid.uuid4().hex}"
