"""AgreementWorkflow on the time-skipping test server with a real worker on a fresh task
queue per test and the real record_events activity writing to the embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Replayer,
    Worker,
)

from services.api.commands import execute_act
from services.store import queries
from services.temporal_client import DATA_CONVERTER
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.readmodel import events_of
from workflows import contracts
from workflows import messages as m
from workflows.agreement import ActInput, AgreementInput, AgreementWorkflow, Receipt, workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")
HISTORIES = Path(__file__).parents[1] / "histories"

STAFF = m.Actor(sub="siti", org="jabar", roles=["staff"])
PARTNER = m.Actor(sub="pak-budi", org="unpad", roles=["partner"])
REVIEW = m.Actor(sub="tkksd", org="jabar", roles=["approver"], gates=["review", "legal", "dprd", "head"])
SIGN_JABAR = m.Actor(sub="gubernur", org="jabar", roles=["signatory"])
SIGN_UNPAD = m.Actor(sub="rektor", org="unpad", roles=["signatory"])


def ksdpk() -> m.Proposal:
    return m.Proposal(
        title="Riset ketahanan pangan",
        kind="ksdpk",
        objectives="Riset bersama.",
        sector="agriculture",
        parties=[
            m.Party(org="jabar", role="initiator", sector="government", signatory="Gubernur"),
            m.Party(org="unpad", role="counterparty", sector="academia", signatory="Rektor"),
        ],
        start_date=date(2027, 3, 1),
        duration_months=24,
        indicators=[m.Indicator(name="Petani didampingi", target=200, unit="orang")],
    )


@pytest.fixture
async def worker(time_skipping_env, settings, sessionmaker, task_queue):
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities(settings, sessionmaker),
    ):
        yield time_skipping_env.client


async def start(client, task_queue, **extra):
    agreement_id = str(uuid.uuid4())
    await client.start_workflow(
        AgreementWorkflow.run,
        AgreementInput(agreement_id=agreement_id, proposal=ksdpk(), actor=STAFF, **extra),
        id=workflow_id(agreement_id),
        task_queue=task_queue,
    )
    # Address the workflow by id alone, as the API does, so commands follow it across
    # continue-as-new into its latest run.
    handle = client.get_workflow_handle(workflow_id(agreement_id))
    receipt = await handle.execute_update(AgreementWorkflow.ready, STAFF)
    return handle, await seen(handle, STAFF, receipt)


async def seen(handle, actor, receipt: Receipt) -> m.Snapshot:
    """The actor's snapshot after the command of `receipt` (the API builds it from the read
    model; here the workflow answers)."""
    snapshot = await handle.query(AgreementWorkflow.snapshot, actor)
    assert (snapshot.id, snapshot.version) == (receipt.id, receipt.version)
    return snapshot


async def accepted_updates(handle) -> int:
    history = await handle.fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events)


async def act(handle, actor, command, **kw) -> m.Snapshot:
    client = handle._client
    agreement_id = handle.id.removeprefix("agreement-")
    receipt = await execute_act(client, agreement_id, ActInput(command=command, actor=actor, **kw))
    return await seen(handle, actor, receipt)


async def drive_to_implementation(handle) -> m.Snapshot:
    await act(handle, STAFF, m.Submit())
    await act(handle, REVIEW, m.Decide(gate="review", outcome="approve"))
    await act(handle, STAFF, m.SubmitDraft(document="1" * 64))
    await act(handle, PARTNER, m.AcceptDraft(version=1))
    # procedure 2026.1: the TKKSD approves the drafted KSB before it is signed (issue #10)
    await act(handle, REVIEW, m.Decide(gate="review", outcome="approve"))
    await act(handle, SIGN_JABAR, m.Sign(version=1, method="electronic"))
    await act(handle, SIGN_UNPAD, m.Sign(version=1, method="electronic"))
    await act(handle, PARTNER, m.SubmitDraft(document="2" * 64))
    await act(handle, STAFF, m.AcceptDraft(version=2))
    await act(handle, REVIEW, m.Decide(gate="legal", outcome="approve"))
    await act(handle, SIGN_JABAR, m.Sign(version=2, method="electronic"))
    return await act(handle, SIGN_UNPAD, m.Sign(version=2, method="electronic"))


async def test_agreement_reaches_implementation_and_is_recorded(worker, task_queue, sessionmaker):
    handle, created = await start(worker, task_queue)
    assert created.stage == "draft" and created.version == 1
    final = await drive_to_implementation(handle)
    assert final.stage == "implementation" and final.version == 13
    # KSDPK: the third party has no TKKSD, DPRD or legal bureau in the procedure.
    assert {(g.gate, g.org) for g in final.gates} == {("review", "jabar"), ("legal", "jabar")}

    async with sessionmaker() as session:
        record = await queries.get_agreement(session, agreement_id=created.id)
        chain = await queries.verify_chain(session, agreement_id=created.id)
    assert record is not None and record.state.stage == "implementation" and record.state.version == 13
    assert chain["valid"] and chain["count"] == record.state.seq

    if os.environ.get("PAKTA_CAPTURE_HISTORY"):  # refresh the saved history on purpose only
        HISTORIES.mkdir(exist_ok=True)
        history = await handle.fetch_history()
        (HISTORIES / "ksdpk_to_implementation.json").write_text(history.to_json())


async def test_refused_update_leaves_no_trace_in_history(worker, task_queue):
    handle, _ = await start(worker, task_queue)
    accepted_before = await accepted_updates(handle)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await act(handle, PARTNER, m.Submit())
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "forbidden"
    assert cause.details[0]["status"] == 403 and cause.details[0]["allowed_actions"] == ["comment"]
    with pytest.raises(WorkflowUpdateFailedError) as stale:
        await act(handle, STAFF, m.Submit(), expected_version=5)
    assert stale.value.cause.details[0]["status"] == 412
    # Validator rejections are never accepted into history (only workflow tasks remain).
    assert await accepted_updates(handle) == accepted_before
    assert (await handle.query(AgreementWorkflow.state)).version == 1


async def test_state_survives_continue_as_new(worker, task_queue):
    handle, _created = await start(worker, task_queue, commands_per_run=3)
    first_run = (await handle.describe()).run_id
    final = await drive_to_implementation(handle)
    assert final.stage == "implementation"
    deadline = time.monotonic() + 60  # the hand-over follows the last command closely, not at once
    while time.monotonic() < deadline:
        history = await handle.fetch_history()  # the latest run's
        started = history.events[0].workflow_execution_started_event_attributes
        if started.continued_execution_run_id:
            break
        await asyncio.sleep(0.05)
    assert started.continued_execution_run_id and started.first_execution_run_id == first_run
    state = await handle.query(AgreementWorkflow.state)
    assert state.version == 13 and len(state.signatures) == 4


async def test_terminal_agreement_completes_its_workflow(worker, task_queue):
    handle, _ = await start(worker, task_queue)
    await act(handle, STAFF, m.Withdraw(reason="Tidak lagi diprioritaskan."))
    result = await worker.get_workflow_handle_for(AgreementWorkflow.run, handle.id).result()
    assert isinstance(result, m.AgreementState) and result.stage == "withdrawn"


async def test_saved_histories_replay_on_current_code():
    """A change that would break agreements already running fails here: the saved
    histories come from real runs and must replay deterministically on today's code."""
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no saved histories"
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=workflow_runner())
    for path in files:
        history = WorkflowHistory.from_json(f"agreement-{path.stem}", json.loads(path.read_text()))
        await replayer.replay_workflow(history)


async def test_worker_registers_every_contracted_activity(settings):
    names = {getattr(fn, "__temporal_activity_definition").name for fn in activities(settings, None)}
    assert set(contracts.ALL_ACTIVITIES) <= names


async def test_a_command_the_database_refuses_fails_alone_and_the_agreement_takes_the_next(
    worker, task_queue, sessionmaker
):
    # A value no model refuses but PostgreSQL does (NUL in JSON text), arriving from a
    # source the edge does not validate as text: a principal's subject.
    handle, snapshot = await start(worker, task_queue)
    odd = m.Actor(sub="siti\u0000", org="jabar", roles=["staff"])
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(AgreementWorkflow.act, ActInput(command=m.Comment(text="halo"), actor=odd))
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "unrecordable"
    assert cause.details[0]["status"] == 422
    unchanged = await handle.query(AgreementWorkflow.state)
    assert unchanged.version == snapshot.version and unchanged.comments == []
    # The lock was released: the next command goes through at once.
    after = await asyncio.wait_for(
        handle.execute_update(AgreementWorkflow.act, ActInput(command=m.Comment(text="halo"), actor=STAFF)), 30
    )
    assert after.version == snapshot.version + 1
    assert (await seen(handle, STAFF, after)).comments[-1].text == "halo"
    async with sessionmaker() as session:
        trail = await queries.list_events(session, agreement_id=snapshot.id)
    assert [e.type for e in trail][-1] == "comment_added" and all("\u0000" not in e.actor["sub"] for e in trail)


class RecordingsSeen(Interceptor):
    """Every `record_events` input the worker's activities receive, in order."""

    def __init__(self) -> None:
        self.inputs: list[contracts.records.RecordEventsInput] = []

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        seen = self

        class Seeing(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> object:
                result = await super().execute_activity(input)
                if activity.info().activity_type == contracts.records.RECORD_EVENTS:
                    seen.inputs.append(input.args[0])
                return result

        return Seeing(next)


async def test_each_recording_is_handed_the_head_its_events_follow_so_it_can_write_at_once(
    time_skipping_env, settings, sessionmaker, task_queue
):
    recordings = RecordingsSeen()
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities(settings, sessionmaker),
        interceptors=[recordings],
    ):
        handle, created = await start(time_skipping_env.client, task_queue)
        await act(handle, STAFF, m.Submit())

    first, second = recordings.inputs[:2]
    trail = await events_of(sessionmaker, created.id)
    assert first.events[0].seq == 1 and first.follows == contracts.records.CHAIN_START  # the trail's start
    assert second.events[0].seq == first.state.seq + 1
    assert second.follows == trail[first.state.seq - 1].hash  # the head the first recording left
