"""Fixtures of the worker's tests (on top of tests/conftest.py):

- `sink`      a real SMTP server (aiosmtpd, tests/receivers.py) on a free port, per test
- `statements` the worker's sessionmaker and every statement its one pooled connection sends
- `settings`  overridden: the settings of `own_database`, a database of the test's own. The
              worker's tests run outbox dispatchers (`OutboxDispatcher`, `pakta worker`,
              `pakta dispatcher`), which claim every due delivery of their database: on one
              shared by the session they would send other tests' leftovers to this test's
              sink, or to a receiver that got the port a finished test's receiver had.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from services.settings import Settings
from services.store.db import create_sessionmaker, pooled_driver
from services.worker.main import worker_engine
from tests.receivers import MailSink


@pytest.fixture
def settings(own_database: Settings) -> Settings:
    return own_database


@pytest.fixture
def sink() -> Iterator[MailSink]:
    server = MailSink().start()
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def statements(settings: Settings) -> AsyncIterator[tuple[Any, list[str]]]:
    """The worker's sessionmaker (its engine: no ping at checkout) and every statement its
    pooled connection sends, BEGIN and COMMIT included (asyncpg's query logger, which calls
    back on the loop's next turn); the pool is kept to that one connection."""
    engine = worker_engine(settings)
    sent: list[str] = []
    async with pooled_driver(engine) as driver:
        driver.add_query_logger(lambda record: sent.append(" ".join(record.query.split())[:60]))
    yield create_sessionmaker(engine), sent
    await engine.dispose()
