"""The recording's log line: written at DEBUG only, and not even built at INFO — one line per
recording sat on every action's path (docs/performance-log.md, `perf-latency`)."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator

import pytest
import structlog
from temporalio.testing import ActivityEnvironment

from services.logging import configure_logging
from services.settings import Settings
from services.worker.activities.records import RecordActivities
from tests.builders import NOW, ksdd_proposal, run, staff
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts.records import RecordEventsInput

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """The processes' logging (`configure_logging`), into a buffer; put back afterwards."""
    config, root = structlog.get_config(), logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(Settings(log_json=True))
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        structlog.configure(**config)
        root.handlers[:], root.level = handlers, level


def a_submission() -> tuple[m.AgreementState, list[m.Event]]:
    """A new agreement's creation and submission: the state after them, and their events."""
    created = L.create(ksdd_proposal(), staff(), NOW, str(uuid.uuid4()))
    state = None
    for event in created:
        state = L.evolve(state, event)
    assert state is not None
    after, submitted = run(state, staff(), m.Submit())
    return after, created + submitted


async def test_a_recording_writes_no_log_line_at_info_and_one_at_debug(sessionmaker, logged):
    activities, env = RecordActivities(sessionmaker), ActivityEnvironment()

    logging.getLogger().setLevel(logging.INFO)
    state, events = a_submission()
    await env.run(activities.record_events, RecordEventsInput(state=state, events=events))
    assert "events_recorded" not in logged.getvalue()

    logging.getLogger().setLevel(logging.DEBUG)
    state, events = a_submission()
    await env.run(activities.record_events, RecordEventsInput(state=state, events=events))
    lines = [line for line in logged.getvalue().splitlines() if "events_recorded" in line]
    assert len(lines) == 1 and state.id in lines[0] and f'"seq_to": {events[-1].seq}' in lines[0]
