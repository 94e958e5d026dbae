"""The Temporal server killed while an Update's task has recorded its events but not
completed: an Update reaching an idle workflow runs in a *speculative* task, which the server
keeps in memory only, so nothing of it survives — not even the task's place in history. The
client's retry (same update id, a new `at`) runs in a task at the very same history length
and decides other events under the same seqs. It must win over the lost task's rows, not be
refused as conflicting with "a newer task" (which stuck an agreement in the whole-stack-kill
fault run: the refusal was stored under the caller's Idempotency-Key and replayed forever).

A Temporal dev server of its own, on its database file, killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.service import RPCError
from temporalio.worker import Worker

from services.api.commands import execute_act, now_utc
from services.embedded.temporal import EmbeddedTemporal
from services.settings import Settings
from services.store import queries
from services.temporal_client import connect_temporal
from services.worker.activities.records import RecordActivities
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.fixtures.ports import started_temporal
from tests.workflows.test_agreement_workflow import STAFF, ksdpk
from workflows import messages as m
from workflows.agreement import ActInput, AgreementInput, AgreementWorkflow, workflow_id
from workflows.contracts.records import RECORD_EVENTS, RecordEventsInput, RecordEventsResult

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def temporal(tmp_path: Path) -> AsyncIterator[EmbeddedTemporal]:
    server = await started_temporal(tmp_path / "temporal")
    try:
        yield server
    finally:
        server.stop()


def kill(server: EmbeddedTemporal) -> None:
    """SIGKILL, as the whole stack died: no chance to persist anything held in memory."""
    assert server.process is not None
    server.process.kill()
    server.process.wait(timeout=10)
    server.process = None


class FreezesAfterRecordingAComment:
    """`record_events` that commits a comment's events, then never returns: the task that
    ran it is still open on the server when the server dies."""

    def __init__(self, records: RecordActivities) -> None:
        self.records = records
        self.recorded = asyncio.Event()

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(self, input: RecordEventsInput) -> RecordEventsResult:
        result = await self.records.record_events(input)
        if any(event.type == "comment_added" for event in input.events):
            self.recorded.set()
            await asyncio.Event().wait()
        return result


async def test_a_command_retried_after_the_server_lost_its_task_is_performed_not_refused(
    temporal, settings, sessionmaker, task_queue
):
    client = await connect_temporal(Settings(temporal_address=temporal.address))
    agreement_id = str(uuid.uuid4())
    comment = m.Comment(text="Dicatat, lalu server Temporal mati")
    frozen = FreezesAfterRecordingAComment(RecordActivities(sessionmaker))
    registered = [frozen.record_events, *activities(settings, sessionmaker)[1:]]
    async with Worker(
        client, task_queue=task_queue, workflows=WORKFLOWS, workflow_runner=workflow_runner(), activities=registered
    ):
        handle = await client.start_workflow(
            AgreementWorkflow.run,
            AgreementInput(agreement_id=agreement_id, proposal=ksdpk(), actor=STAFF),
            id=workflow_id(agreement_id),
            task_queue=task_queue,
        )
        created = await handle.execute_update(AgreementWorkflow.ready, STAFF)
        first_try = asyncio.create_task(
            execute_act(client, agreement_id, ActInput(command=comment, actor=STAFF, at=now_utc()), update_id="c-1")
        )
        await asyncio.wait_for(frozen.recorded.wait(), timeout=30)
        kill(temporal)
        with pytest.raises(RPCError):
            await first_try
    async with sessionmaker() as session:
        lost = await queries.list_events(session, agreement_id=agreement_id)
    assert [e.type for e in lost][-1] == "comment_added"  # PostgreSQL kept what the task wrote

    temporal.spawn()
    await temporal.wait_ready()
    client = await connect_temporal(Settings(temporal_address=temporal.address))
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities(settings, sessionmaker),
    ):
        # The client retries, as the API does for a retried request: same update id, new `at`.
        retry = ActInput(command=comment, actor=STAFF, at=now_utc())
        receipt = await execute_act(client, agreement_id, retry, update_id="c-1")
        assert receipt.version == created.version + 1
        state = await client.get_workflow_handle(workflow_id(agreement_id)).query(AgreementWorkflow.state)
        assert [c.text for c in state.comments] == [comment.text]

    async with sessionmaker() as session:
        chain = await queries.verify_chain(session, agreement_id=agreement_id)
        events = await queries.list_events(session, agreement_id=agreement_id)
        apart = await queries.list_superseded(session, agreement_id=agreement_id)
    assert chain["valid"] and chain["count"] == len(events) == state.seq
    assert [e.type for e in events].count("comment_added") == 1
    assert [r["type"] for r in apart] == ["comment_added"]  # the lost task's row, kept apart
    assert apart[0]["history_length"] == apart[0]["superseded_by_history_length"]  # the same length
    assert apart[0]["task_started_at"] < apart[0]["superseded_by_task_started_at"]
