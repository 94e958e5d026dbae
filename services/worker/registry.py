"""What a Pakta worker registers: every workflow, an activity for every name in
`workflows.contracts.ALL_ACTIVITIES` (a test checks that none is missing), and the
sandbox the workflows run in (also used by replayers)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.worker.workflow_sandbox import SandboxRestrictions

from services.settings import Settings
from services.worker.activities.notify import NotifyActivities
from services.worker.activities.portfolio import PortfolioActivities
from services.worker.activities.records import RecordActivities
from services.worker.dispatcher import OutboxDispatcher
from services.worker.sandbox import WorkflowCodeSandboxRunner
from workflows.agreement import AgreementWorkflow
from workflows.notify.workflow import NotifyWorkflow
from workflows.portfolio.digest_workflow import DigestWorkflow
from workflows.portfolio.party_settings import PartySettingsWorkflow
from workflows.portfolio.sweep import PortfolioSweepWorkflow

WORKFLOWS: list[type] = [
    AgreementWorkflow,
    NotifyWorkflow,
    PortfolioSweepWorkflow,
    DigestWorkflow,
    PartySettingsWorkflow,
]


def activities(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    dispatcher: OutboxDispatcher | None = None,
) -> list[Callable[..., Any]]:
    """The activity callables, bound to the worker's settings and database; a recording
    that writes deliveries to the outbox nudges `dispatcher` (the database's NOTIFY wakes
    dispatchers in every process; this covers one that cannot listen)."""
    records = RecordActivities(sessionmaker, on_outbox=dispatcher.nudge if dispatcher else None)
    notify = NotifyActivities(settings, sessionmaker)
    portfolio = PortfolioActivities(settings, sessionmaker)
    return [
        records.record_events,
        notify.plan_deliveries,
        notify.deliver_inbox,
        notify.deliver_email,
        notify.deliver_webhook,
        notify.delivery_gave_up,
        portfolio.reconcile_rows,
        portfolio.reconcile_workflows,
        portfolio.plan_digests,
        portfolio.refresh_party_settings,
    ]


def workflow_runner() -> WorkflowCodeSandboxRunner:
    """The sandbox every Pakta worker and replayer runs workflows in. The decider reckons
    office hours in each party's time zone, so `zoneinfo.ZoneInfo` is let through (zone
    data comes from the pinned `tzdata` package, the same on every worker).

    The `workflows` package is passed through whole: the sandbox would otherwise import
    each workflow module afresh for every run it holds — its pydantic models rebuilt, about
    200 KB a cached agreement and the CPU to build them on every new run or cache miss. It
    may be shared because it is deterministic and keeps no mutable state: the import
    contracts keep it free of I/O (docs/architecture.md), and its only module-level values
    are constants and caches of versioned data (procedures, SDGs). The sandbox is entered
    for the workflow's code only, with code compiled once (`services.worker.sandbox`)."""
    members = SandboxRestrictions.invalid_module_members_default.with_child_unrestricted("zoneinfo", "ZoneInfo")
    restrictions = SandboxRestrictions.default.with_passthrough_modules("workflows")
    return WorkflowCodeSandboxRunner(restrictions=dataclasses.replace(restrictions, invalid_module_members=members))
