"""Shared fixtures, all lazy (a server starts only if a test asks for it) and, except
`task_queue`, `sessionmaker`, `receiver` and `orgs`, one per test session:

- `pg`                EmbeddedPostgres on a free port in a tmp dir, migrated to head
- `settings`          Settings pointing at `pg` (Temporal left at its default address)
- `temporal_env`      WorkflowEnvironment on the Temporal dev server (pydantic converter)
- `time_skipping_env` WorkflowEnvironment on the time-skipping test server
- `task_queue`        a fresh task queue name per test
- `sessionmaker`      an async SQLAlchemy sessionmaker on `pg`, its engine disposed after the test
- `receiver`          a local webhook receiver (tests/receivers.py) on a free port, per test
- `orgs`              two organisation names no other test uses (a province, a regency)

Each layer's folder may add its own in its conftest.py (tests/api: `stack`; tests/worker:
`sink`). tests/README.md says which layer starts which server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from services.embedded.postgres import EmbeddedPostgres
from services.settings import Settings
from services.store.db import create_engine, create_sessionmaker
from tests.fixtures.servers import start_dev_server, start_postgres, start_time_skipping_server
from tests.receivers import WebhookReceiver


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
    async with await start_dev_server() as env:  # shut down on the way out
        yield env


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping_server() as env:
        yield env


@pytest.fixture
def task_queue() -> str:
    return f"pakta-test-{uuid.uuid4().hex}"


@pytest.fixture
def orgs() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"prov-{tag}", f"kab-{tag}"


@pytest.fixture
async def sessionmaker(settings: Settings):
    engine = create_engine(settings)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = await WebhookReceiver().start()
    yield server
    await server.stop()
