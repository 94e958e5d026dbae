"""Contract of notification delivery: how the agreement workflow starts NotifyWorkflow,
and the activities NotifyWorkflow (and DigestWorkflow) run to plan and deliver."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.common import RetryPolicy

from workflows.messages import AgreementState, Event
from workflows.notify.rules import Notification


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
    """One NotifyWorkflow per recorded batch, named by the batch's first event."""
    return f"notify-{agreement_id}-{first_seq}"


# NotifyWorkflow (workflows/notify/workflow.py) plans the deliveries of a batch in one
# activity, then runs one activity per delivery: in-app inbox per audience, email per
# recipient, webhook per endpoint. Each delivery activity is idempotent on (event_id,
# recipient, channel).


class DeliveryPolicy(BaseModel):
    """Retry schedule of email and webhook deliveries, read from the worker's settings by
    the plan activity (so it is recorded in history and the workflow stays deterministic).
    No defaults here: the settings hold them (`delivery_*`, `webhook_timeout_seconds`)."""

    initial_interval_seconds: float
    maximum_interval_seconds: float
    give_up_seconds: float  # after this, a delivery is failed for good
    email_attempt_seconds: float
    webhook_attempt_seconds: float

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            initial_interval=timedelta(seconds=self.initial_interval_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=self.maximum_interval_seconds),
            maximum_attempts=0,
        )


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
    # Checked when the contact was saved; not again here, so a recorded plan always replays.
    time_zone: str | None = None
    # The days its reader's region does not serve beyond the national ones (the agreement's
    # party's `days_off`), for a time-driven mail's office hours (`rules.mail_time`). Left
    # out of the JSON when empty: other mail's outbox rows, and the legacy workflow's plans,
    # read as they did before.
    days_off: list[date] = Field(default_factory=list, exclude_if=lambda days: not days)


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
NOTIFY_DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1)
)

ACTIVITIES: tuple[str, ...] = (PLAN_DELIVERIES, DELIVER_INBOX, DELIVER_EMAIL, DELIVER_WEBHOOK, DELIVERY_GAVE_UP)
