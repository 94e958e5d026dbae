"""Contract of the portfolio sweep: PortfolioSweepWorkflow (workflows/portfolio/sweep.py),
started hourly by the Temporal Schedule `pakta-portfolio-sweep`, and its activities. Once
a day it reconciles the read model with the agreement workflows, page by page; every run
it sends the digests of the organisations whose local time is at the digest hour, each as
an abandoned DigestWorkflow `digest-<org>-<day>` (workflows/portfolio/digest_workflow.py).
Also here: PartySettingsWorkflow, which brings an organisation's changed settings to its
open agreements (below).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict
from temporalio.common import RetryPolicy

# DigestWorkflow reports the same counts as NotifyWorkflow: it delivers the same way.
from workflows.contracts.notify import NotifyResult as NotifyResult
from workflows.notify.rules import Notification
from workflows.portfolio.digest import DIGEST_HOUR, DIGEST_UNTIL_HOUR

PORTFOLIO_SWEEP_WORKFLOW = "PortfolioSweepWorkflow"
DIGEST_WORKFLOW = "DigestWorkflow"
PORTFOLIO_SCHEDULE_ID = "pakta-portfolio-sweep"
PORTFOLIO_SWEEP_WORKFLOW_ID = "portfolio-sweep"  # the Schedule appends the scheduled time
# The reconciliation runs in the sweep whose time falls in this UTC hour: 02:00 WIB,
# 03:00 WITA, 04:00 WIT, when no one in Indonesia is at work.
RECONCILE_UTC_HOUR = 19

DiscrepancyKind = Literal[
    "projection_stale",  # the workflow holds a newer state: re-projected
    "projection_missing",  # a running agreement workflow without a row: projected
    "projection_ahead",  # the row is newer than the workflow's state (a reset?): reported
    "audit_incomplete",  # the audit trail lacks events the workflow's state counts: reported
    "workflow_missing",  # an open row without a workflow: reported
    "workflow_closed",  # an open row whose workflow has ended: reported (re-projected if it can be)
    "query_failed",  # the workflow did not answer its `state` query: reported
    # a party's days off or zone differ from its organisation's settings: the settings sent
    # (`refresh_party_settings`); repaired once the agreement took them
    "party_settings_stale",
]


class Discrepancy(BaseModel):
    agreement_id: str
    kind: DiscrepancyKind
    detail: str = ""
    repaired: bool = False


class SweepTotals(BaseModel):
    checked: int = 0
    repaired: int = 0
    discrepancies: int = 0
    by_kind: dict[str, int] = {}
    digests_sent: int = 0  # DigestWorkflows started
    digests_empty: int = 0  # due, but nothing to tell
    digests_already_sent: int = 0
    pages: int = 0


class SweepInput(BaseModel):
    """The sweep's parameters (from the Schedule) and, across continue-as-new, its progress."""

    model_config = ConfigDict(extra="forbid")

    at: datetime | None = None  # the moment to reckon with; None: when the run started
    reconcile: bool | None = None  # None: in the RECONCILE_UTC_HOUR run only
    digests: bool = True
    orgs: list[str] | None = None  # only the agreements and digests of these organisations
    digest_hour: int = DIGEST_HOUR
    digest_until_hour: int = DIGEST_UNTIL_HOUR
    page_size: int = 200
    pages_per_run: int = 100  # continue as new after this many pages
    # Progress, carried across continue-as-new.
    phase: Literal["rows", "workflows", "digests", "done"] = "rows"
    after_id: str | None = None  # rows: last agreement id done
    page_token: str | None = None  # workflows: visibility page token (base64)
    after_org: str | None = None  # digests: last organisation done
    totals: SweepTotals = SweepTotals()
    discrepancies: list[Discrepancy] = []  # the first ones found (bounded), for the result


class SweepResult(BaseModel):
    at: datetime
    reconciled: bool
    totals: SweepTotals
    discrepancies: list[Discrepancy]  # the first MAX_REPORTED_DISCREPANCIES


MAX_REPORTED_DISCREPANCIES = 200  # kept in the result; all are logged and counted


class ReconcileRowsInput(BaseModel):
    after_id: str | None = None
    limit: int = 200
    orgs: list[str] | None = None


class ReconcileWorkflowsInput(BaseModel):
    page_token: str | None = None
    limit: int = 200
    orgs: list[str] | None = None


class ReconcileResult(BaseModel):
    checked: int = 0
    repaired: int = 0
    discrepancies: list[Discrepancy] = []
    after_id: str | None = None  # rows: the next page starts after this id (None: done)
    page_token: str | None = None  # workflows: the next page's token (None: done)


class PlanDigestsInput(BaseModel):
    at: datetime
    after_org: str | None = None
    limit: int = 200
    orgs: list[str] | None = None
    digest_hour: int = DIGEST_HOUR
    digest_until_hour: int = DIGEST_UNTIL_HOUR


class PlanDigestsResult(BaseModel):
    digests: list[Notification] = []  # one per organisation due and not yet told today
    empty: int = 0
    already_sent: int = 0
    after_org: str | None = None  # the next page starts after this organisation (None: done)


class DigestInput(BaseModel):
    notification: Notification


def digest_workflow_id(event_id: str) -> str:
    return event_id  # `digest-<org>-<day>`: a second start the same day is refused


RECONCILE_ROWS = "reconcile_rows"
RECONCILE_WORKFLOWS = "reconcile_workflows"
PLAN_DIGESTS = "plan_digests"
# Pages of describes and queries: bounded by the page size, heartbeating per agreement.
PORTFOLIO_PAGE_TIMEOUT = timedelta(minutes=10)
PORTFOLIO_HEARTBEAT = timedelta(minutes=1)
PORTFOLIO_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=10,
)

# ---------------------------------------------------------------- a region's settings

# PartySettingsWorkflow (workflows/portfolio/party_settings.py): started by the API, abandoned,
# after `PUT /organisations/{org}/settings` commits, as `party-settings-<org>` (a second change
# meanwhile replaces the run: the newer settings are the ones to bring). It pages over the
# organisation's open agreements whose party differs from the settings and sends each
# `refresh_party_settings`. The nightly reconciliation sends them too (`reconcile_rows`), so
# a change whose prompt was lost (the API died after the commit) arrives the next night.
PARTY_SETTINGS_WORKFLOW = "PartySettingsWorkflow"
REFRESH_PARTY_SETTINGS = "refresh_party_settings"


def party_settings_workflow_id(org: str) -> str:
    return f"party-settings-{org}"


class RefreshCounts(BaseModel):
    sent: int = 0  # agreements that took the settings (an event recorded)
    unchanged: int = 0  # already had them (another sender was first)
    refused: int = 0  # closed meanwhile, or the organisation no longer a party
    failed: int = 0  # not answered (Temporal unavailable, the agreement still being created)


class PartySettingsInput(BaseModel):
    """Which organisation's settings to bring and, across continue-as-new, the progress."""

    model_config = ConfigDict(extra="forbid")

    org: str
    page_size: int = 200
    pages_per_run: int = 100  # continue as new after this many pages
    after_id: str | None = None  # the last agreement id done
    totals: RefreshCounts = RefreshCounts()


class RefreshPartySettingsInput(BaseModel):
    org: str
    after_id: str | None = None
    limit: int = 200


class RefreshPartySettingsResult(BaseModel):
    counts: RefreshCounts = RefreshCounts()
    after_id: str | None = None  # the next page starts after this id (None: done)


ACTIVITIES: tuple[str, ...] = (RECONCILE_ROWS, RECONCILE_WORKFLOWS, PLAN_DIGESTS, REFRESH_PARTY_SETTINGS)
