"""What a Pakta worker registers: every workflow, and an activity for every name in
`workflows.contracts.ALL_ACTIVITIES` (a test checks that none is missing)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workflows.agreement import AgreementWorkflow
from workflows.notify import NotifyWorkflow
from workflows.portfolio import DigestWorkflow, PortfolioSweepWorkflow

WORKFLOWS: list[type] = [AgreementWorkflow, NotifyWorkflow, PortfolioSweepWorkflow, DigestWorkflow]


def activities(settings: Any, sessionmaker: Any) -> list[Callable[..., Any]]:
    # Imported here, not at module level: the workflow sandbox imports this package and
    # must never pull in database or network code.
    from services.worker.activities.notify import NotifyActivities
    from services.worker.activities.portfolio import PortfolioActivities
    from services.worker.activities.records import RecordActivities

    records = RecordActivities(sessionmaker)
    notify = NotifyActivities(settings, sessionmaker)
    portfolio = PortfolioActivities(settings, sessionmaker)
    return [records.record_events, notify.plan_deliveries, notify.deliver_inbox, notify.deliver_email,
            notify.deliver_webhook, notify.delivery_gave_up,
            portfolio.reconcile_rows, portfolio.reconcile_workflows, portfolio.plan_digests]



def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every Pakta worker and replayer runs workflows in. The decider reckons
    office hours in each party's time zone, so `zoneinfo.ZoneInfo` is let through (zone
    data comes from the pinned `tzdata` package, the same on every worker)."""
    members = SandboxRestrictions.invalid_module_members_default.with_child_unrestricted("zoneinfo", "ZoneInfo")
    return SandboxedWorkflowRunner(restrictions=dataclasses.replace(SandboxRestrictions.default,
                                                                    invalid_module_members=members))
