"""Fixtures of the worker's tests (on top of tests/conftest.py):

- `sink`  a real SMTP server (aiosmtpd, tests/receivers.py) on a free port, per test
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.receivers import MailSink


@pytest.fixture
def sink() -> Iterator[MailSink]:
    server = MailSink().start()
    yield server
    server.stop()
