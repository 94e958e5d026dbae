"""Agreements that ran on the code before life13 replay on today's (issue #11, branch hist13):
the saved histories were recorded by a real worker of that code (fde7966) on the
time-skipping server — one in force from 31 January whose evaluation periods ticked by the
old rule (each period stepped from the last, clamped: 28 February, 28 March, 28 April), one
whose end an amendment brought near after two expiry reminders had fallen (the old code sent
them at the signing, then the 30-day one). Neither holds a marker of the two patches, so
today's workflow must take the legacy branch of each on replay. A replay fails only when the
commands differ; the periods' dates change none of them, so what the replay records is
watched too: the same events the old code recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import (
    Interceptor,
    Replayer,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from services.temporal_client import DATA_CONVERTER
from services.worker.registry import WORKFLOWS, workflow_runner
from tests.workflows.test_agreement_years import patches
from workflows import messages as m
from workflows.agreement import NOTIFY_OUTBOX
from workflows.contracts import records

pytestmark = pytest.mark.asyncio(loop_scope="session")
HISTORIES = Path(__file__).parents[1] / "histories"


class RecordedOnReplay(Interceptor):
    """The events each `record_events` of a replayed run is handed, in order: what the
    workflow decided again from the saved history (a local activity's input is not in it)."""

    def __init__(self) -> None:
        self.events: list[m.Event] = []

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        seen = self

        class Outbound(WorkflowOutboundInterceptor):
            def start_local_activity(self, input: StartLocalActivityInput) -> workflow.ActivityHandle[Any]:
                if input.activity == records.RECORD_EVENTS:
                    seen.events.extend(input.args[0].events)
                return super().start_local_activity(input)

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(Outbound(outbound))

        return Inbound


async def replayed(name: str) -> tuple[WorkflowHistory, list[m.Event]]:
    path = HISTORIES / f"{name}.json"
    history = WorkflowHistory.from_json(f"agreement-{path.stem}", json.loads(path.read_text()))
    recorded = RecordedOnReplay()
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=DATA_CONVERTER,
        workflow_runner=workflow_runner(),
        interceptors=[recorded],
    )
    await replayer.replay_workflow(history)
    return history, recorded.events


async def test_periods_ticked_by_the_old_rule_from_the_31st_replay_on_it():
    history, events = await replayed("anchored_periods_before_the_patch")
    assert patches(history) == [NOTIFY_OUTBOX]
    notices = [e.data["notice"] for e in events if e.type == "notice_due"]
    assert notices == ["evaluation:2027-02-28", "evaluation:2027-03-28", "evaluation:2027-04-28"]


async def test_reminders_the_old_code_sent_after_the_end_moved_replay_as_sent():
    history, events = await replayed("expiry_reminders_before_the_patch")
    assert patches(history) == [NOTIFY_OUTBOX]
    signed = datetime(2027, 10, 20, 3, tzinfo=UTC)
    reminders = [(e.at.replace(microsecond=0), e.data["days_before"]) for e in events if e.type == "expiry_reminder"]
    assert reminders == [(signed, 90), (signed, 60), (datetime(2027, 10, 29, 2, tzinfo=UTC), 30)]
