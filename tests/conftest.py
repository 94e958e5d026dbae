"""Shared fixtures, all lazy (a server starts only if a test asks for it) and, except
`task_queue`, `sessionmaker`, `receiver`, `orgs` and `own_database`, one per test session:

- `pg`                EmbeddedPostgres on a free port in a tmp dir, migrated to head
- `settings`          Settings pointing at `pg`'s shared database (Temporal left at its
                      default address)
- `own_database`      Settings on a database of the test's own, cloned from the migrated
                      template and dropped after the test (per test: every test that runs
                      an outbox dispatcher is on one, see below); `databases` (one per
                      session) clones the next while a test runs
- `temporal_env`      WorkflowEnvironment on the Temporal dev server (pydantic converter)
- `time_skipping_env` WorkflowEnvironment on the time-skipping test server
- `task_queue`        a fresh task queue name per test; on the dev server (`temporal_env`),
                      the workflows still running on it are terminated after the test
- `sessionmaker`      an async SQLAlchemy sessionmaker on `pg`, its engine disposed after the test
- `receiver`          a local webhook receiver (tests/receivers.py) on a free port, per test
- `orgs`              two organisation names no other test uses (a province, a regency)

Each layer's folder may add its own in its conftest.py (tests/api: `stack`; tests/worker:
`sink`, and `settings` overridden by `own_database`). tests/README.md says which layer starts
which server.

An outbox dispatcher claims every due delivery of its database, so one on the shared
database would send what another test left due — to that test's receiver's port, which a
later receiver may have got, or to its own mail sink. So every test running a dispatcher
works on a database of its own (tests/worker: all of them; the `stack` and `web` stacks: one
per session each).
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
from tests.fixtures.servers import (
    Databases,
    end_workflows_left_on,
    settings_on,
    start_dev_server,
    start_postgres,
    start_time_skipping_server,
)
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
    return settings_on(pg.url)


@pytest.fixture(scope="session")
async def databases(pg: EmbeddedPostgres) -> AsyncIterator[Databases]:
    made = Databases(pg)
    yield made
    await made.close()


@pytest.fixture
async def own_database(databases: Databases) -> AsyncIterator[Settings]:
    async with databases.one() as url:
        yield settings_on(url)


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_dev_server() as env:  # shut down on the way out
        yield env


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping_server() as env:
        yield env


@pytest.fixture
async def task_queue(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    queue = f"pakta-test-{uuid.uuid4().hex}"
    yield queue
    # On the session's dev server, what the test left running ends with it (its worker has
    # stopped by now: the fixtures that run one ask for `task_queue`).
    env = request.node.funcargs.get("temporal_env")
    if env is not None:
        await end_workflows_left_on(env.client, queue)


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
