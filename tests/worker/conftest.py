"""Fixtures of the worker's tests (on top of tests/conftest.py):

- `sink`      a real SMTP server (aiosmtpd, tests/receivers.py) on a free port, per test
- `settings`  overridden: the settings of `own_database`, a database of the test's own. The
              worker's tests run outbox dispatchers (`OutboxDispatcher`, `pakta worker`,
              `pakta dispatcher`), which claim every due delivery of their database: on one
              shared by the session they would send other tests' leftovers to this test's
              sink, or to a receiver that got the port a finished test's receiver had.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.settings import Settings
from tests.receivers import MailSink


@pytest.fixture
def settings(own_database: Settings) -> Settings:
    return own_database


@pytest.fixture
def sink() -> Iterator[MailSink]:
    server = MailSink().start()
    yield server
    server.stop()
