"""Fixtures of the workflow tests (on top of tests/conftest.py):

- `env`  a time-skipping test server of its own with a real worker on the test's task
         queue (the timelines: years pass here)
"""

from __future__ import annotations

import pytest
from temporalio.worker import Worker

from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.fixtures.servers import start_time_skipping_server


@pytest.fixture
async def env(settings, sessionmaker, task_queue):
    """A time-skipping server of its own: years pass here, and a workflow another test left
    behind (its worker gone) would stop the clock from skipping."""
    environment = await start_time_skipping_server()
    try:
        async with Worker(
            environment.client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            workflow_runner=workflow_runner(),
            activities=activities(settings, sessionmaker),
        ):
            yield environment
    finally:
        await environment.shutdown()
