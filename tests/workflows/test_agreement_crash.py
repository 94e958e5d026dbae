"""A worker that dies after recording a command's events but before completing its
workflow task: Temporal retries the task, the command is decided again — and must come out
the same, so recording it again changes nothing and the agreement carries on."""

from __future__ import annotations

import uuid

import pytest
from temporalio import workflow
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from services.api.commands import execute_act, now_utc
from services.store import queries
from services.store.db import session_scope
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.workflows.test_agreement_workflow import REVIEW, STAFF, ksdpk
from workflows import lifecycle as L
from workflows import messages as m
from workflows.agreement import ActInput, AgreementInput, AgreementWorkflow, workflow_id
from workflows.contracts.records import Recorder
from workflows.notify.workflow import NotifyWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

CRASHES = {"left": 0}


@workflow.defn(name="AgreementWorkflow")
class WorkerDiesAfterRecording(AgreementWorkflow):
    @workflow.run
    async def run(self, input: AgreementInput) -> m.AgreementState:
        return await super().run(input)

    async def _record(self, events, after=None):
        await super()._record(events, after)
        if CRASHES["left"] and not workflow.unsafe.is_replaying():
            CRASHES["left"] -= 1
            # Any non-application error fails the workflow task, as a dead worker would:
            # the events are in PostgreSQL, the task's outcome is lost, Temporal retries it.
            raise RuntimeError("the worker died after recording")


async def test_a_task_retried_after_recording_decides_the_same_events(temporal_env, settings, sessionmaker, task_queue):
    client = temporal_env.client
    # Unsandboxed: the crash counter must survive from the failed task to its retry.
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[WorkerDiesAfterRecording, NotifyWorkflow],
        activities=activities(settings, sessionmaker),
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        agreement_id = str(uuid.uuid4())
        await client.start_workflow(
            AgreementWorkflow.run,
            AgreementInput(agreement_id=agreement_id, proposal=ksdpk(), actor=STAFF),
            id=workflow_id(agreement_id),
            task_queue=task_queue,
        )
        handle = client.get_workflow_handle(workflow_id(agreement_id))
        await handle.execute_update(AgreementWorkflow.ready, STAFF)

        CRASHES["left"] = 1
        # As the API sends it: stamped with the time the request arrived.
        receipt = await execute_act(client, agreement_id, ActInput(command=m.Submit(), actor=STAFF, at=now_utc()))
        assert CRASHES["left"] == 0, "the crash did not happen"
        snapshot = await handle.query(AgreementWorkflow.snapshot, STAFF)
        assert snapshot.stage == "review" and snapshot.version == receipt.version == 2
        await execute_act(
            client,
            agreement_id,
            ActInput(command=m.Decide(gate="review", outcome="approve"), actor=REVIEW, at=now_utc()),
        )
        snapshot = await handle.query(AgreementWorkflow.snapshot, REVIEW)
        assert snapshot.step.key == "penyusunan_ksb"

    async with sessionmaker() as session:
        chain = await queries.verify_chain(session, agreement_id=agreement_id)
        record = await queries.get_agreement(session, agreement_id=agreement_id)
        events = await queries.list_events(session, agreement_id=agreement_id)
    assert chain["valid"] and chain["count"] == record.state.seq == len(events)
    assert record.state.version == snapshot.version
    assert [e.type for e in events].count("agreement_submitted") == 1


async def test_a_command_lost_with_its_task_does_not_block_the_agreement(
    temporal_env, settings, sessionmaker, task_queue
):
    """The whole stack was killed after a task recorded a comment and before it completed:
    Temporal never held the update. The next command decides the same seq anew; the
    comment's row gives way to history, kept apart, and the agreement carries on."""
    client = temporal_env.client
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities(settings, sessionmaker),
    ):
        agreement_id = str(uuid.uuid4())
        handle = await client.start_workflow(
            AgreementWorkflow.run,
            AgreementInput(agreement_id=agreement_id, proposal=ksdpk(), actor=STAFF),
            id=workflow_id(agreement_id),
            task_queue=task_queue,
        )
        created = await handle.execute_update(AgreementWorkflow.ready, STAFF)
        run_id = (await handle.describe()).run_id
        # What the dead task wrote: its comment, as the decider made it, under seq 2.
        state = await handle.query(AgreementWorkflow.state)
        lost = L.decide(state, m.Comment(text="Ditulis, lalu semuanya mati"), STAFF, now_utc())
        after = state
        for event in lost:
            after = L.evolve(after, event)
        async with session_scope(sessionmaker) as session:
            await queries.append_events(
                session, state=after, events=lost, recorder=Recorder(run_id=run_id, history_length=2)
            )

        receipt = await execute_act(client, agreement_id, ActInput(command=m.Submit(), actor=STAFF, at=now_utc()))
        snapshot = await handle.query(AgreementWorkflow.snapshot, STAFF)
        assert snapshot.stage == "review" and snapshot.version == receipt.version == created.version + 1
        await execute_act(
            client,
            agreement_id,
            ActInput(command=m.Decide(gate="review", outcome="approve"), actor=REVIEW, at=now_utc()),
        )
        snapshot = await handle.query(AgreementWorkflow.snapshot, REVIEW)
        assert snapshot.step.key == "penyusunan_ksb"

    async with sessionmaker() as session:
        chain = await queries.verify_chain(session, agreement_id=agreement_id)
        events = await queries.list_events(session, agreement_id=agreement_id)
        apart = await queries.list_superseded(session, agreement_id=agreement_id)
    assert chain["valid"] and chain["superseded"] == 1 and chain["count"] == len(events)
    assert "comment_added" not in [e.type for e in events]
    assert [r["type"] for r in apart] == ["comment_added"] and apart[0]["run_id"] == run_id
