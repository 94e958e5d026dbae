"""Activity names with their input and output models, timeouts and retry policies.

The workflow imports only this module (not the activity implementations), so the worker
and the workflow agree on names and shapes without the workflow touching any I/O code.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio.common import RetryPolicy

from workflows.messages import AgreementState, Event

TASK_QUEUE = "pakta"


class Recorder(BaseModel):
    """Who records a batch: the workflow run, the length of its history when the recording
    task ran, and the run it continued from. Orders competing writes under one seq."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    history_length: int
    continued_run_id: str | None = None


class RecordEventsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: AgreementState  # the state after the events, projected into `agreements`
    events: list[Event]
    recorder: Recorder | None = None  # None: callers from before superseding existed


class RecordEventsResult(BaseModel):
    inserted: int  # 0 when a retry finds the events already recorded
    head: str  # hash of the agreement's last audit row
    superseded: int = 0  # rows of a task that never completed, moved out of the chain


RECORD_EVENTS = "record_events"
# A local activity: short and idempotent on (agreement_id, seq); retried until the database
# is back, so an accepted command is never lost, only delayed.
RECORD_EVENTS_TIMEOUT = timedelta(seconds=30)
RECORD_EVENTS_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200),
                                  backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30))

ALL_ACTIVITIES: tuple[str, ...] = (RECORD_EVENTS,)


class NotifyInput(BaseModel):
    """What the agreement workflow hands to notification delivery after recording a
    command's events: the events and the state after them (who is party, who awaits)."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    events: list[Event]
    state: AgreementState


# A child workflow per recorded batch, abandoned by its parent: deliveries retry for days
# (webhooks with backoff) without holding the agreement's continue-as-new or completion.
NOTIFY_WORKFLOW = "NotifyWorkflow"


def notify_workflow_id(agreement_id: str, first_seq: int) -> str:
    return f"notify-{agreement_id}-{first_seq}"


# ---------------------------------------------------------------- notification delivery
# NotifyWorkflow (workflows/notify.py) plans the deliveries of a batch in one activity, then
# runs one activity per delivery: in-app inbox per audience, email per recipient, webhook
# per endpoint. Each delivery activity is idempotent on (event_id, recipient, channel).

from typing import Literal  # noqa: E402  (kept with the section that needs it)

from workflows.notifications import Notification  # noqa: E402


class DeliveryPolicy(BaseModel):
    """Retry schedule of email and webhook deliveries, read from the worker's settings by
    the plan activity (so it is recorded in history and the workflow stays deterministic)."""

    initial_interval_seconds: float = 10.0
    maximum_interval_seconds: float = 3600.0
    give_up_seconds: float = 3 * 24 * 3600.0  # after this, a delivery is failed for good
    email_attempt_seconds: float = 60.0
    webhook_attempt_seconds: float = 25.0

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(initial_interval=timedelta(seconds=self.initial_interval_seconds),
                           backoff_coefficient=2.0,
                           maximum_interval=timedelta(seconds=self.maximum_interval_seconds),
                           maximum_attempts=0)


class PlanInput(BaseModel):
    """Either a recorded batch (`events` + `state`: rules decide the notifications) or
    ready-made `notifications` (e.g. an endpoint-disabled notice) to resolve to recipients."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    events: list[Event] = []
    state: AgreementState | None = None
    notifications: list[Notification] = []


class EmailRecipient(BaseModel):
    address: str
    name: str | None = None
    language: Literal["id", "en"] = "id"
    time_zone: str | None = None


class EmailDelivery(BaseModel):
    notification: int  # index into DeliveryPlan.notifications
    recipient: EmailRecipient


class WebhookDelivery(BaseModel):
    event: int  # index into PlanInput.events
    endpoint_id: str


class DeliveryPlan(BaseModel):
    notifications: list[Notification]
    emails: list[EmailDelivery]
    webhooks: list[WebhookDelivery]
    policy: DeliveryPolicy


class DeliverInboxInput(BaseModel):
    notification: Notification


class DeliverEmailInput(BaseModel):
    notification: Notification
    recipient: EmailRecipient


class DeliverWebhookInput(BaseModel):
    event: Event
    endpoint_id: str


class DeliveryResult(BaseModel):
    # sent: delivered now; duplicate: the log says it was delivered before (a retry or a
    # replay); skipped: nothing to do (endpoint deleted or disabled meanwhile).
    outcome: Literal["sent", "duplicate", "skipped"]


class GaveUpInput(BaseModel):
    """A delivery whose retries ran out (or that was refused for good): log it failed; for a
    webhook, switch the endpoint off if it has been failing for too long."""

    channel: Literal["email", "webhook"]
    recipient: str  # the address, or the endpoint id
    event_id: str
    agreement_id: str
    reason: str
    permanent: bool  # refused (SMTP 5xx, HTTP 4xx) rather than unreachable


class GaveUpResult(BaseModel):
    disabled: bool = False  # this failure switched the webhook endpoint off
    org: str | None = None
    url: str | None = None
    reason: str = ""  # the last error the log holds


class NotifyResult(BaseModel):
    notifications: int = 0
    inbox: int = 0
    emails: int = 0
    webhooks: int = 0
    failed: int = 0
    disabled_endpoints: list[str] = []


PLAN_DELIVERIES = "plan_deliveries"
DELIVER_INBOX = "deliver_inbox"
DELIVER_EMAIL = "deliver_email"
DELIVER_WEBHOOK = "deliver_webhook"
DELIVERY_GAVE_UP = "delivery_gave_up"
# Database-only activities: short, retried until the database is back.
NOTIFY_DB_TIMEOUT = timedelta(seconds=30)
NOTIFY_DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                              maximum_interval=timedelta(minutes=1))

ALL_ACTIVITIES = ALL_ACTIVITIES + (PLAN_DELIVERIES, DELIVER_INBOX, DELIVER_EMAIL, DELIVER_WEBHOOK,
                                   DELIVERY_GAVE_UP)


# ---------------------------------------------------------------- portfolio sweep
# PortfolioSweepWorkflow (workflows/portfolio.py), started hourly by the Temporal Schedule
# `pakta-portfolio-sweep`: once a day it reconciles the read model with the agreement
# workflows, page by page; every run it sends the digests of the organisations whose local
# time is at the digest hour, each as an abandoned DigestWorkflow `digest-<org>-<day>`.

from datetime import datetime  # noqa: E402

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
    digest_hour: int = 8
    digest_until_hour: int = 17
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
    digest_hour: int = 8
    digest_until_hour: int = 17


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
PORTFOLIO_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                              maximum_interval=timedelta(minutes=5), maximum_attempts=10)

ALL_ACTIVITIES = ALL_ACTIVITIES + (RECONCILE_ROWS, RECONCILE_WORKFLOWS, PLAN_DIGESTS)
