"""NotifyWorkflow: delivers the notifications of one recorded batch of events.

Started by the agreement workflow as an abandoned child (id `notify-<agreement>-<seq>`),
so deliveries may retry for days without holding the agreement up. It plans the batch in
one activity — the pure rules run there, so what they decided is recorded in history and a
later change of the rules cannot make this workflow's replay diverge — then runs one
activity per delivery, in parallel:

- inbox: one per notification (audience), retried until the database is back;
- email: one per recipient, retried with backoff, given up after the policy's bound;
- webhook: one per subscribed endpoint of each party organisation, same schedule; a
  refusal (4xx other than 429) is not retried. A webhook given up may switch its endpoint
  off (failing for too long); the organisation's staff are then told, by inbox and email.

Each delivery activity is idempotent on (event_id, recipient, channel), so a retry, a
replay or a second run of this workflow for the same events delivers nothing twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import contracts as c
    from workflows import messages as m
    import zoneinfo  # noqa: F401  (office hours per recipient zone)

    from workflows import timeline
    from workflows.notifications import Notification, endpoint_disabled


# Reminders, escalations and other news that time (not a person) brings.
OFFICE_HOURS_ONLY = frozenset({
    "deadline_reminder", "deadline_escalated", "evaluation_opened", "evaluation_reminder",
    "evaluation_escalated", "expiry_reminder",
})


@workflow.defn(name=c.NOTIFY_WORKFLOW)
class NotifyWorkflow:
    def __init__(self) -> None:
        self._result = c.NotifyResult()

    @workflow.run
    async def run(self, input: c.NotifyInput) -> c.NotifyResult:
        plan = await self._plan(c.PlanInput(agreement_id=input.agreement_id, events=input.events,
                                            state=input.state))
        await self._deliver(plan, input.events)
        return self._result

    @workflow.query
    def progress(self) -> c.NotifyResult:
        return self._result

    async def _plan(self, request: c.PlanInput) -> c.DeliveryPlan:
        plan = await workflow.execute_activity(
            c.PLAN_DELIVERIES, request, result_type=c.DeliveryPlan,
            start_to_close_timeout=c.NOTIFY_DB_TIMEOUT, retry_policy=c.NOTIFY_DB_RETRY)
        self._result.notifications += len(plan.notifications)
        return plan

    async def _deliver(self, plan: c.DeliveryPlan, events: list[m.Event]) -> None:
        jobs = [self._inbox(n) for n in plan.notifications]
        jobs += [self._email(plan.notifications[e.notification], e.recipient, plan.policy) for e in plan.emails]
        jobs += [self._webhook(events[w.event], w.endpoint_id, plan.policy) for w in plan.webhooks]
        await asyncio.gather(*jobs)

    async def _inbox(self, notification: Notification) -> None:
        try:
            await workflow.execute_activity(
                c.DELIVER_INBOX, c.DeliverInboxInput(notification=notification), result_type=c.DeliveryResult,
                start_to_close_timeout=c.NOTIFY_DB_TIMEOUT, retry_policy=c.NOTIFY_DB_RETRY)
            self._result.inbox += 1
        except ActivityError:
            self._result.failed += 1

    async def _email(self, notification: Notification, recipient: c.EmailRecipient,
                     policy: c.DeliveryPolicy) -> None:
        if notification.event_type in OFFICE_HOURS_ONLY and workflow.patched("office-hours-email"):
            # Time-driven mail waits for office hours where its reader is (a partner abroad,
            # a weekend): a durable timer, so a restart does not lose or double it.
            opens = timeline.next_office_moment(workflow.now(), recipient.time_zone or "Asia/Jakarta")
            if opens > workflow.now():
                await workflow.sleep(opens - workflow.now())
        try:
            result = await workflow.execute_activity(
                c.DELIVER_EMAIL, c.DeliverEmailInput(notification=notification, recipient=recipient),
                result_type=c.DeliveryResult,
                start_to_close_timeout=timedelta(seconds=policy.email_attempt_seconds),
                schedule_to_close_timeout=timedelta(seconds=policy.give_up_seconds),
                retry_policy=policy.retry_policy())
            if result.outcome != "skipped":
                self._result.emails += 1
        except ActivityError as error:
            self._result.failed += 1
            await self._gave_up("email", recipient.address.strip().lower(), notification.event_id,
                                notification.agreement_id, error)

    async def _webhook(self, event: m.Event, endpoint_id: str, policy: c.DeliveryPolicy) -> None:
        try:
            result = await workflow.execute_activity(
                c.DELIVER_WEBHOOK, c.DeliverWebhookInput(event=event, endpoint_id=endpoint_id),
                result_type=c.DeliveryResult,
                start_to_close_timeout=timedelta(seconds=policy.webhook_attempt_seconds),
                schedule_to_close_timeout=timedelta(seconds=policy.give_up_seconds),
                retry_policy=policy.retry_policy())
            if result.outcome != "skipped":
                self._result.webhooks += 1
            return
        except ActivityError as error:
            self._result.failed += 1
            gave_up = await self._gave_up("webhook", endpoint_id, event.id, event.agreement_id, error)
        if gave_up.disabled and gave_up.org and gave_up.url:
            self._result.disabled_endpoints.append(endpoint_id)
            notice = endpoint_disabled(org=gave_up.org, endpoint_id=endpoint_id, url=gave_up.url,
                                       event=event, reason=gave_up.reason)
            plan = await self._plan(c.PlanInput(agreement_id=event.agreement_id, notifications=[notice]))
            await self._deliver(plan, [])

    async def _gave_up(self, channel: str, recipient: str, event_id: str, agreement_id: str,
                       error: ActivityError) -> c.GaveUpResult:
        cause = error.cause
        permanent = isinstance(cause, ApplicationError) and cause.non_retryable
        workflow.logger.warning("delivery given up: %s %s %s (%s)", channel, event_id, recipient, cause)
        return await workflow.execute_activity(
            c.DELIVERY_GAVE_UP,
            c.GaveUpInput(channel=channel, recipient=recipient, event_id=event_id,
                          agreement_id=agreement_id, reason=str(cause or error), permanent=permanent),
            result_type=c.GaveUpResult,
            start_to_close_timeout=c.NOTIFY_DB_TIMEOUT, retry_policy=c.NOTIFY_DB_RETRY)
