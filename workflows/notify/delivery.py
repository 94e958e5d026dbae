"""Delivery of a plan of notifications, shared by NotifyWorkflow and DigestWorkflow.

Runs in workflow code: every step is a Temporal command (activity or timer), issued in
a fixed order for a given plan, so both workflows' histories replay. The plan is made in
one activity; then one activity per delivery runs, in parallel:

- inbox: one per notification (audience), retried until the database is back;
- email: one per recipient, retried with backoff, given up after the policy's bound;
  time-driven mail first waits for office hours in the recipient's zone;
- webhook: one per subscribed endpoint, same schedule; a refusal (4xx other than 429) is
  not retried. A webhook given up may switch its endpoint off (failing for too long);
  the organisation's staff are then told, by inbox and email.

Counts go into the caller's `NotifyResult`, which its `progress` query shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import zoneinfo  # noqa: F401  (office hours per recipient zone need the real ZoneInfo)

    # By full name: a `from workflows import x` would load a fresh sandbox copy of x.
    import workflows.messages as m
    import workflows.timeline as timeline
    from workflows.contracts import notify as c
    from workflows.notify.rules import OFFICE_HOURS_ONLY, Notification, endpoint_disabled


async def plan(request: c.PlanInput, result: c.NotifyResult) -> c.DeliveryPlan:
    """The notifications of `request` resolved to recipients, by the plan activity."""
    planned: c.DeliveryPlan = await workflow.execute_activity(
        c.PLAN_DELIVERIES,
        request,
        result_type=c.DeliveryPlan,
        start_to_close_timeout=c.NOTIFY_DB_TIMEOUT,
        retry_policy=c.NOTIFY_DB_RETRY,
    )
    result.notifications += len(planned.notifications)
    return planned


async def deliver(planned: c.DeliveryPlan, events: Sequence[m.Event], result: c.NotifyResult) -> None:
    """Every delivery of `planned`, in parallel; `events` are those the plan's webhook
    deliveries index into (none for a plan of ready-made notifications)."""
    jobs = [_inbox(n, result) for n in planned.notifications]
    jobs += [_email(planned.notifications[e.notification], e.recipient, planned.policy, result) for e in planned.emails]
    jobs += [_webhook(events[w.event], w.endpoint_id, planned.policy, result) for w in planned.webhooks]
    await asyncio.gather(*jobs)


async def _inbox(notification: Notification, result: c.NotifyResult) -> None:
    try:
        await workflow.execute_activity(
            c.DELIVER_INBOX,
            c.DeliverInboxInput(notification=notification),
            result_type=c.DeliveryResult,
            start_to_close_timeout=c.NOTIFY_DB_TIMEOUT,
            retry_policy=c.NOTIFY_DB_RETRY,
        )
        result.inbox += 1
    except ActivityError:
        result.failed += 1


async def _email(
    notification: Notification, recipient: c.EmailRecipient, policy: c.DeliveryPolicy, result: c.NotifyResult
) -> None:
    if notification.event_type in OFFICE_HOURS_ONLY and workflow.patched("office-hours-email"):
        # Time-driven mail waits for office hours where its reader is (a partner abroad,
        # a weekend): a durable timer, so a restart does not lose or double it.
        opens = timeline.next_office_moment(workflow.now(), recipient.time_zone or m.DEFAULT_TIME_ZONE)
        if opens > workflow.now():
            await workflow.sleep(opens - workflow.now())
    try:
        outcome = await workflow.execute_activity(
            c.DELIVER_EMAIL,
            c.DeliverEmailInput(notification=notification, recipient=recipient),
            result_type=c.DeliveryResult,
            start_to_close_timeout=timedelta(seconds=policy.email_attempt_seconds),
            schedule_to_close_timeout=timedelta(seconds=policy.give_up_seconds),
            retry_policy=policy.retry_policy(),
        )
        if outcome.outcome != "skipped":
            result.emails += 1
    except ActivityError as error:
        result.failed += 1
        await _gave_up(
            "email", recipient.address.strip().lower(), notification.event_id, notification.agreement_id, error
        )


async def _webhook(event: m.Event, endpoint_id: str, policy: c.DeliveryPolicy, result: c.NotifyResult) -> None:
    try:
        outcome = await workflow.execute_activity(
            c.DELIVER_WEBHOOK,
            c.DeliverWebhookInput(event=event, endpoint_id=endpoint_id),
            result_type=c.DeliveryResult,
            start_to_close_timeout=timedelta(seconds=policy.webhook_attempt_seconds),
            schedule_to_close_timeout=timedelta(seconds=policy.give_up_seconds),
            retry_policy=policy.retry_policy(),
        )
        if outcome.outcome != "skipped":
            result.webhooks += 1
        return
    except ActivityError as error:
        result.failed += 1
        gave_up = await _gave_up("webhook", endpoint_id, event.id, event.agreement_id, error)
    if gave_up.disabled and gave_up.org and gave_up.url:
        result.disabled_endpoints.append(endpoint_id)
        notice = endpoint_disabled(
            org=gave_up.org, endpoint_id=endpoint_id, url=gave_up.url, event=event, reason=gave_up.reason
        )
        notices = await plan(c.PlanInput(agreement_id=event.agreement_id, notifications=[notice]), result)
        await deliver(notices, [], result)


async def _gave_up(
    channel: Literal["email", "webhook"], recipient: str, event_id: str, agreement_id: str, error: ActivityError
) -> c.GaveUpResult:
    cause = error.cause
    permanent = isinstance(cause, ApplicationError) and cause.non_retryable
    workflow.logger.warning("delivery given up: %s %s %s (%s)", channel, event_id, recipient, cause)
    gave_up: c.GaveUpResult = await workflow.execute_activity(
        c.DELIVERY_GAVE_UP,
        c.GaveUpInput(
            channel=channel,
            recipient=recipient,
            event_id=event_id,
            agreement_id=agreement_id,
            reason=str(cause or error),
            permanent=permanent,
        ),
        result_type=c.GaveUpResult,
        start_to_close_timeout=c.NOTIFY_DB_TIMEOUT,
        retry_policy=c.NOTIFY_DB_RETRY,
    )
    return gave_up
