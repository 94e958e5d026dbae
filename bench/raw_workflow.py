"""The raw baseline's workflow: the least a Temporal application does per transition —
one Update, checked by a validator, whose handler records one PostgreSQL row through a
local activity (or, in the other variant, a regular activity) and answers the new version.

It holds no rules: it measures the floor Pakta's AgreementWorkflow stands on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

RAW_WORKFLOW = "BenchRawAgreement"
RAW_RECORD = "bench_raw_record"


@dataclass
class RawPlan:
    transitions: int
    local: bool = True


@dataclass
class RawTransition:
    expected_version: int
    action: str
    payload: str = ""


@dataclass
class RawRow:
    workflow_id: str
    version: int
    action: str
    payload: str


@workflow.defn(name=RAW_WORKFLOW)
class RawAgreement:
    def __init__(self) -> None:
        self.version = 0
        self.local = True

    @workflow.run
    async def run(self, plan: RawPlan) -> int:
        self.local = plan.local
        await workflow.wait_condition(lambda: self.version >= plan.transitions and workflow.all_handlers_finished())
        return self.version

    @workflow.update
    async def transition(self, transition: RawTransition) -> int:
        row = RawRow(workflow.info().workflow_id, self.version + 1, transition.action, transition.payload)
        if self.local:
            await workflow.execute_local_activity(RAW_RECORD, row, start_to_close_timeout=timedelta(seconds=10))
        else:
            await workflow.execute_activity(RAW_RECORD, row, start_to_close_timeout=timedelta(seconds=10))
        self.version += 1
        return self.version

    @transition.validator
    def _in_order(self, transition: RawTransition) -> None:
        if transition.expected_version != self.version:
            raise ValueError(f"version {self.version}, not {transition.expected_version}")
