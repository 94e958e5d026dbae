"""A run recorded before a party's settings version could move alone (`trust17`) replays on
today's code (issue #11, replay18). Then a refresh bringing the party the values it has
was refused as unchanged whatever its version — by the validator as a rule, so it reached
history only when the state changed between the validator and the handler: two prompts of
one organisation in flight (the register going Z → X → Y → X), both validated on Z, the
second handled after the first recorded X. Such a run holds a failed update and no
recording; today's handler records the version alone there unless the run's history lacks
the `settings-version-alone` marker.

The race is provoked for real on the Temporal dev server: the two updates are admitted while
no worker polls, so one workflow task delivers both and both validators run before either
handler. The saved history `settings_version_alone_before_the_patch.json` is that race on a
worker whose handler decided with the rule of before (`unchanged_settings_refused=True`,
asked of nobody) — what a worker of before recorded."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer, Worker

from services.temporal_client import DATA_CONVERTER
from services.worker.registry import WORKFLOWS, activities, workflow_runner
from tests.readmodel import events_of
from tests.workflows.test_agreement_before_the_patches import RecordedOnReplay
from tests.workflows.test_agreement_workflow import start
from workflows import messages as m
from workflows.agreement import SETTINGS_VERSION_ALONE, ActInput, AgreementWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")
HISTORIES = Path(__file__).parents[1] / "histories"
SAVED = HISTORIES / "settings_version_alone_before_the_patch.json"

Z = m.RefreshPartySettings(org="jabar", time_zone="Asia/Jayapura", as_of=datetime(2026, 12, 1, 1, tzinfo=UTC))
# The register back at X (the party's zone when the agreement was created): X's first
# version, then its version after Y came and went.
X = m.RefreshPartySettings(org="jabar", time_zone="Asia/Jakarta", as_of=datetime(2026, 12, 1, 2, tzinfo=UTC))
X_AGAIN = X.model_copy(update={"as_of": datetime(2026, 12, 1, 4, tzinfo=UTC)})


def markers(history: WorkflowHistory, name: str) -> int:
    """How many markers of the patch `name` the history records."""
    return sum(
        event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and f'"{name}"'.encode() in event.SerializeToString()
        for event in history.events
    )


async def admitted(client: Client, handle: WorkflowHandle, update_id: str) -> None:
    """Wait until the server holds the update (no worker needs to poll for that)."""
    request = PollWorkflowExecutionUpdateRequest(
        namespace=client.namespace,
        update_ref=UpdateRef(workflow_execution=WorkflowExecution(workflow_id=handle.id), update_id=update_id),
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
        ),
    )
    while True:
        try:
            await client.workflow_service.poll_workflow_execution_update(request)
            return
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        await asyncio.sleep(0.05)


async def two_prompts_in_flight(client: Client, task_queue: str, worker) -> tuple[WorkflowHandle, str, list]:
    """An agreement whose party took Z, then X and X again sent while no worker polls: one
    task delivers both, so both are validated on Z. The agreement's id, and what each
    update answered (a receipt, or the failure)."""
    async with worker():
        handle, created = await start(client, task_queue)
        await handle.execute_update(AgreementWorkflow.act, ActInput(command=Z, actor=m.SYSTEM))
    answers = []
    for command in (X, X_AGAIN):  # in this order: the second handled after the first
        update_id = str(uuid.uuid4())
        answers.append(
            asyncio.create_task(
                handle.execute_update(AgreementWorkflow.act, ActInput(command=command, actor=m.SYSTEM), id=update_id)
            )
        )
        await admitted(client, handle, update_id)
    async with worker():
        outcomes = await asyncio.gather(*answers, return_exceptions=True)
    return handle, created.id, outcomes


def replayer(recorded: RecordedOnReplay) -> Replayer:
    return Replayer(
        workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=workflow_runner(), interceptors=[recorded]
    )


async def test_a_prompt_refused_as_unchanged_after_another_landed_replays_to_the_refusal():
    """Fails on the code before replay18: the replayed handler records the version alone
    where the saved history holds no recording (`[TMPRL1100] Nondeterminism`)."""
    history = WorkflowHistory.from_json("agreement-settings-version-alone", json.loads(SAVED.read_text()))
    failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED]
    assert b"settings_unchanged" in failed[-1].SerializeToString()
    assert markers(history, SETTINGS_VERSION_ALONE) == 0
    recorded = RecordedOnReplay()
    await replayer(recorded).replay_workflow(history)
    changes = [(e.type, e.data["time_zone"], e.data["as_of"]) for e in recorded.events if e.type != "agreement_created"]
    assert changes == [
        ("party_settings_changed", "Asia/Jayapura", "2026-12-01T01:00:00Z"),
        ("party_settings_changed", "Asia/Jakarta", "2026-12-01T02:00:00Z"),
    ]


async def test_a_new_run_records_the_version_alone_and_asks_the_patch_only_for_it(
    temporal_env, settings, sessionmaker, task_queue
):
    client = temporal_env.client

    def worker() -> Worker:
        return Worker(
            client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            workflow_runner=workflow_runner(),
            activities=activities(settings, sessionmaker),
        )

    handle, agreement_id, (first, second) = await two_prompts_in_flight(client, task_queue, worker)
    assert (first.version, second.version) == (3, 4)
    alone = list(await events_of(sessionmaker, agreement_id))[-1]
    assert alone.data == {"org": "jabar", "days_off": [], "time_zone": "Asia/Jakarta", "as_of": "2026-12-01T04:00:00Z"}
    history = await handle.fetch_history()
    assert markers(history, SETTINGS_VERSION_ALONE) == 1  # Z and the first X asked nothing

    async with worker():
        # Validated and handled in one go, the same version sent again is refused as
        # unchanged (by the validator: no history); a newer one is the version alone again,
        # and the run asks no second time.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(AgreementWorkflow.act, ActInput(command=X_AGAIN, actor=m.SYSTEM))
        assert refused.value.cause.type == "settings_unchanged"
        newer = X.model_copy(update={"as_of": datetime(2026, 12, 1, 5, tzinfo=UTC)})
        receipt = await handle.execute_update(AgreementWorkflow.act, ActInput(command=newer, actor=m.SYSTEM))
        assert receipt.version == 5
    history = await handle.fetch_history()
    assert markers(history, SETTINGS_VERSION_ALONE) == 1

    recorded = RecordedOnReplay()
    await replayer(recorded).replay_workflow(history)
    assert [(e.seq, e.type, e.data) for e in recorded.events] == [
        (e.seq, e.type, e.data) for e in await events_of(sessionmaker, agreement_id)
    ]


# Recorded by review18 on the dev server, one prompt bringing the party the zone it has
# (Asia/Jakarta) under a first version, nothing else in flight: by a worker deciding as
# every release from `trust17` to `review17` did (the version alone recorded, no patch
# asked), and by one deciding as `replay18` did (the patch asked at every version alone).
RECORDED_BY_TRUST17 = HISTORIES / "settings_version_alone_recorded_by_trust17.json"
ASKED_AT_A_PLAIN_VERSION = HISTORIES / "settings_version_alone_asked_at_a_plain_version.json"


@pytest.mark.parametrize(
    ("saved", "marked"), [(RECORDED_BY_TRUST17, 0), (ASKED_AT_A_PLAIN_VERSION, 1)], ids=["trust17", "replay18"]
)
async def test_a_version_alone_recorded_with_or_without_the_marker_replays_to_its_recording(saved, marked):
    """Fails on `8f344fa` for the run recorded since trust17: its replayed handler, finding no
    marker, refused the version alone the history records (`[TMPRL1100] Nondeterminism
    error: Missing associated machine for LocalActivity(2)`) — every agreement that ever took
    a version alone frozen at its next replay."""
    history = WorkflowHistory.from_json("agreement-settings-version-alone", json.loads(saved.read_text()))
    assert markers(history, SETTINGS_VERSION_ALONE) == marked
    recorded = RecordedOnReplay()
    await replayer(recorded).replay_workflow(history)
    changes = [(e.type, e.data["time_zone"], e.data["as_of"]) for e in recorded.events if e.type != "agreement_created"]
    assert changes == [("party_settings_changed", "Asia/Jakarta", "2026-11-30T01:00:00Z")]
