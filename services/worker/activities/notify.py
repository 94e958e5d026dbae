"""Notification delivery activities of NotifyWorkflow: plan a batch, then deliver to the
inbox, by email and by webhook — each exactly once per (event, recipient, channel).

Agreements no longer start a NotifyWorkflow per command (their recording writes an outbox,
see `services.worker.planning` and `services.worker.dispatcher`); these activities stay
registered so the NotifyWorkflows already running, and DigestWorkflow, finish.

The protocol of every send (email, webhook), against the `deliveries` log:

    1. claim   — one transaction: the row goes to 'sending' with a lease, unless it is
                 'sent' (then do nothing: a retry or a replay) or another execution holds
                 the lease (then retry later);
    2. send    — SMTP or HTTP, outside any transaction;
    3. mark    — one transaction: 'sent' — or, after a failure, the lease freed (retried)
                 or 'failed' (refused), only while the row is still this claim's (its
                 attempt number, `release_delivery`): a failure recorded after the lease ran
                 out, once Temporal's next attempt claimed the row, writes nothing.

The one window no log can close is a crash between 2 and 3: the server accepted, we never
recorded it, and the retry sends again. Both copies then carry the same identity — the
deterministic Message-ID of the mail, the event id as `webhook-id` — so the receiver can
drop the second. Everything else (retries after 'sent', replays of the workflow, a second
execution racing the first) sends nothing twice.

The inbox needs no such care: storing the notification *is* the delivery, one transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.notifying import webhook
from services.settings import Settings
from services.store import notifications as store
from services.store.db import session_scope
from services.worker.channels import email
from services.worker.channels import webhook as webhook_channel
from services.worker.names import MailNames
from workflows.contracts import notify as c
from workflows.lifecycle import party_orgs
from workflows.notify.rules import Notification, mail_time, notifications_for

log = structlog.get_logger("pakta.notify")

DELIVERED = Counter(
    "pakta_notifications_delivered",
    "Notification deliveries by channel and outcome (sent, duplicate, skipped, retry, failed, superseded)",
    ["channel", "outcome"],
)


def mail_lease(timeout: float) -> timedelta:
    """A mail's claim (`timeout`: `PAKTA_SMTP_TIMEOUT_SECONDS`): `timeout` from the claim
    until the mail's `by` (the wait for a connection, its setup and the envelope's replies;
    `MailConnections.send`), then at most two replies of `timeout` each — DATA's and the
    content's: one command at a time DATA is not sent after `by`, pipelined the content is
    not sent after `by` + `timeout` — or, for a mail late at `by`, its RSET's; and 2 s to
    record how it went."""
    return timedelta(seconds=timeout * 3 + 2)


def webhook_lease(timeout: float) -> timedelta:
    """How long a claim keeps other executions of the same delivery off: longer than the
    request may take (`timeout`: a webhook's, which bounds it whole), with room to record
    the outcome; shorter than the activity's start-to-close timeout (see `policy`), so the
    retry Temporal makes after a worker died mid-send can claim and send."""
    return timedelta(seconds=timeout * 1.5 + 2)


_Key = store.DeliveryKey


def delivery_policy(settings: Settings) -> c.DeliveryPolicy:
    """The retry schedule of email and webhook deliveries, from the settings: the
    NotifyWorkflows' plans carry it, the outbox dispatcher follows it."""
    s = settings
    return c.DeliveryPolicy(
        initial_interval_seconds=s.delivery_retry_initial_seconds,
        maximum_interval_seconds=max(s.delivery_retry_max_seconds, s.delivery_retry_initial_seconds),
        give_up_seconds=s.delivery_give_up_hours * 3600,
        email_attempt_seconds=s.smtp_timeout_seconds * 4 + 5,
        webhook_attempt_seconds=s.webhook_timeout_seconds * 2 + 5,
    )


# Past this many doublings the initial interval is past any maximum (2 ** 1023 is the
# largest power of two a float holds).
_DOUBLINGS_AT_MOST = 1023


def backoff_seconds(policy: c.DeliveryPolicy, times: int) -> float:
    """The wait after the `times`-th try in a row that failed (or was released as never
    begun): the initial interval, doubling, up to the maximum. The doubling stops where a
    float does: a maximum of seconds and a give-up of days allow thousands of tries, and
    2 to the 1,024th was an OverflowError — the outcome never written, the row claimed again
    once its lease ran out, for ever (its attempts as many past the give-up time)."""
    doubled = policy.initial_interval_seconds * 2.0 ** min(max(times - 1, 0), _DOUBLINGS_AT_MOST)
    return min(doubled, policy.maximum_interval_seconds)


class NotifyActivities:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        # The time a retry's office hours are reckoned in (a test moves it on).
        self.clock = clock or (lambda: datetime.now(UTC))
        self.egress = webhook.Egress.of(production=settings.is_production, allowed=settings.webhook_allowed_hosts)
        self.names = MailNames()

    # ------------------------------------------------------------ planning

    def policy(self) -> c.DeliveryPolicy:
        return delivery_policy(self.settings)

    @activity.defn(name=c.PLAN_DELIVERIES)
    async def plan_deliveries(self, input: c.PlanInput) -> c.DeliveryPlan:
        """Decide the notifications (the pure rules run here, so their outcome is recorded in
        the workflow's history and a later change of the rules cannot break its replay) and
        resolve them to recipients: contacts for email, endpoints for webhooks."""
        notes = list(input.notifications)
        if input.state is not None:
            notes += [n for event in input.events for n in notifications_for(event, input.state)]
        emails: list[c.EmailDelivery] = []
        webhooks: list[c.WebhookDelivery] = []
        async with session_scope(self.sessionmaker) as session:
            mailed: set[tuple[str, str]] = set()
            for index, note in enumerate(notes):
                for contact in await store.contacts_for(session, audience=note.audience, template=note.template):
                    # One mail per event and address, even if the contact is in two audiences.
                    if (note.event_id, contact.email) in mailed:
                        continue
                    mailed.add((note.event_id, contact.email))
                    emails.append(
                        c.EmailDelivery(
                            notification=index,
                            recipient=c.EmailRecipient(
                                address=contact.email,
                                name=contact.name,
                                language=contact.language,
                                time_zone=contact.time_zone,
                            ),
                        )
                    )
            if input.state is not None and input.events:
                endpoints = await store.endpoints_for(session, orgs=party_orgs(input.state))
                webhooks = [
                    c.WebhookDelivery(event=i, endpoint_id=ep.id)
                    for i, event in enumerate(input.events)
                    for ep in endpoints
                    if ep.subscribed(event.type)
                ]
        log.info(
            "notifications_planned",
            agreement_id=input.agreement_id,
            notifications=len(notes),
            emails=len(emails),
            webhooks=len(webhooks),
        )
        return c.DeliveryPlan(notifications=notes, emails=emails, webhooks=webhooks, policy=self.policy())

    # ------------------------------------------------------------ inbox

    @activity.defn(name=c.DELIVER_INBOX)
    async def deliver_inbox(self, input: c.DeliverInboxInput) -> c.DeliveryResult:
        async with session_scope(self.sessionmaker) as session:
            new = await store.add_to_inbox(session, notification=input.notification)
        return self._done(
            "sent" if new else "duplicate",
            channel="inbox",
            event_id=input.notification.event_id,
            recipient=input.notification.audience.key,
        )

    # ------------------------------------------------------------ email

    @activity.defn(name=c.DELIVER_EMAIL)
    async def deliver_email(self, input: c.DeliverEmailInput) -> c.DeliveryResult:
        """One mail on a connection of its own, set up before the claim; its content leaves
        within the mail timeout of the claim or not at all (`MailConnections.send`), so the
        lease (`mail_lease`) outlasts the send as the dispatcher's does. Sent with
        aiosmtplib's `send` before, with no bound on the whole, a server answering each
        reply in time could take the content past the lease and past the attempt's
        start-to-close, when Temporal's next attempt claims and sends it too."""
        mail = email.MailConnections(self.settings, size=1)
        try:
            return await self._deliver_email(input, mail)
        finally:
            await mail.close()

    async def _deliver_email(self, input: c.DeliverEmailInput, mail: email.MailConnections) -> c.DeliveryResult:
        note, address = input.notification, input.recipient.address.strip().lower()
        key: _Key = {"event_id": note.event_id, "recipient": address, "channel": "email"}
        unreachable: email.PermanentMailError | email.TransientMailError | None = None
        try:
            await mail.open()
        except (email.PermanentMailError, email.TransientMailError) as error:
            unreachable = error  # decided after the claim, which records it as any failure
        # Read before the mail's time starts, as its connection is opened.
        names = await self._names_of(note, input.recipient.language)
        by = asyncio.get_running_loop().time() + self.settings.smtp_timeout_seconds
        claim = await self._claim(
            key, agreement_id=note.agreement_id, lease=mail_lease(self.settings.smtp_timeout_seconds)
        )
        if claim.status == "sent":
            return self._done("duplicate", **key)
        try:
            if unreachable is not None:
                raise unreachable
            message = email.build_message(
                notification=note,
                recipient=input.recipient,
                settings=self.settings,
                names=names,
            )
            await mail.send(message, to=input.recipient.address, by=by)
        except email.PermanentMailError as error:
            if not await self._release(key, claim.attempt, str(error), failed=True):
                raise self._superseded(key, claim.attempt, str(error)) from None
            DELIVERED.labels(channel="email", outcome="failed").inc()
            raise ApplicationError(
                f"The mail server refused the message: {error}", type="email_refused", non_retryable=True
            ) from None
        except email.TransientMailError as error:
            if not await self._release(key, claim.attempt, str(error)):
                raise self._superseded(key, claim.attempt, str(error)) from None
            DELIVERED.labels(channel="email", outcome="retry").inc()
            log.warning("email_retry", **key, attempt=activity.info().attempt, error=str(error))
            raise ApplicationError(
                f"Mail not sent, will retry: {error}",
                type="email_unavailable",
                next_retry_delay=self._office_retry_delay(note, input.recipient),
            ) from None
        await self._mark_sent(key)
        return self._done("sent", **key, message_id=email.message_id(note.event_id, input.recipient.address))

    async def _names_of(self, note: Notification, lang: str) -> dict[str, str]:
        """The names `note`'s mail gives the organisations it names (`MailNames`: read unless
        kept); the ids where the read fails, so the mail still goes."""
        wanted = self.names.unknown((note,))
        if wanted:
            try:
                async with session_scope(self.sessionmaker) as session:
                    await self.names.read(session, wanted)
            except Exception as error:
                log.warning("mail_names_unread", error_class=type(error).__name__, error=str(error))
        return self.names.of(note, lang)

    def _office_retry_delay(self, note: Notification, recipient: c.EmailRecipient) -> timedelta | None:
        """For time-driven mail, the wait until its retry when office hours move it: the
        retry Temporal would make (the policy's backoff after this attempt) moved to the next
        office hours in its reader's zone (`mail_time`, as the dispatcher's retries), given
        as the failure's `next_retry_delay`, which Temporal takes instead of its own. Temporal
        still ends the retries at the activity's schedule-to-close (the give-up hours from
        its first try): a retry that office hours move past it is not made, and the workflow
        gives the mail up. None (the policy's own backoff) for other mail and a retry inside
        office hours."""
        now = self.clock()
        plain = now + timedelta(seconds=backoff_seconds(self.policy(), activity.info().attempt))
        moved = mail_time(note, plain, recipient.time_zone, recipient.days_off)
        return moved - now if moved > plain else None

    # ------------------------------------------------------------ webhooks

    @activity.defn(name=c.DELIVER_WEBHOOK)
    async def deliver_webhook(self, input: c.DeliverWebhookInput) -> c.DeliveryResult:
        event = input.event
        key: _Key = {"event_id": event.id, "recipient": input.endpoint_id, "channel": "webhook"}
        async with session_scope(self.sessionmaker) as session:
            endpoint = await store.get_endpoint(session, endpoint_id=input.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            return self._done("skipped", **key)
        lease = webhook_lease(self.settings.webhook_timeout_seconds)
        async with session_scope(self.sessionmaker) as session:
            claim = await self._claim_in(session, key, agreement_id=event.agreement_id, lease=lease)
            attempt_id = None
            if claim.status == "claimed":
                # Recorded before the request leaves, so an attempt cut short by a crash shows.
                attempt_id = await store.start_attempt(
                    session,
                    endpoint_id=endpoint.id,
                    event_id=event.id,
                    event_type=event.type,
                    agreement_id=event.agreement_id,
                    attempt=claim.attempt,
                )
        if claim.status == "sent":
            return self._done("duplicate", **key)
        assert attempt_id is not None

        now = datetime.now(UTC)
        active = [endpoint.secret]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > now
        ):
            active.append(endpoint.previous_secret)
        body = webhook.payload(event)
        headers = webhook.headers(msg_id=event.id, timestamp=int(time.time()), body=body, secrets=active)
        started = time.monotonic()
        # Only the deliveries of runs from before the outbox come here, rarely: a client of
        # their own, closed after the send, leaves no session open when the worker goes
        # (the dispatcher keeps the long-lived one).
        client = webhook_channel.WebhookClient()
        try:
            sent = await client.post(
                endpoint.url,
                egress=self.egress,
                content=body,
                headers=headers,
                timeout_seconds=self.settings.webhook_timeout_seconds,
                now=now,
            )
        finally:
            await client.close()
        status, error = sent.status, sent.error
        duration_ms = int((time.monotonic() - started) * 1000)

        released = True
        async with session_scope(self.sessionmaker) as session:
            await store.finish_attempt(
                session,
                endpoint_id=endpoint.id,
                attempt_id=attempt_id,
                status_code=status,
                error=error,
                duration_ms=duration_ms,
            )
            if error is None:
                await store.mark_sent(session, **key)
                await store.endpoint_succeeded(session, endpoint_id=endpoint.id)
            else:
                reason = webhook.describe(error, status)
                released = await store.release_delivery(
                    session, **key, attempt=claim.attempt, error=reason, failed=sent.permanent
                )
                # The endpoint did fail this request, whoever holds the delivery now.
                await store.endpoint_failed(session, endpoint_id=endpoint.id)
        if error is None:
            return self._done("sent", **key, status=status, attempt=claim.attempt)
        if not released:
            raise self._superseded(key, claim.attempt, webhook.describe(error, status))
        if sent.permanent:
            DELIVERED.labels(channel="webhook", outcome="failed").inc()
            log.warning("webhook_refused", **key, status=status, error=error, attempt=claim.attempt)
            raise ApplicationError(
                f"The delivery cannot succeed: {webhook.describe(error, status)}",
                {"status": status, "error": error},
                type="webhook_refused",
                non_retryable=True,
            )
        DELIVERED.labels(channel="webhook", outcome="retry").inc()
        log.warning("webhook_retry", **key, status=status, attempt=claim.attempt, error=error)
        delay = None
        if sent.retry_after is not None:  # 429/503 asking for a pause: honour it, within reason
            delay = timedelta(seconds=min(sent.retry_after, self.settings.delivery_retry_max_seconds))
        raise ApplicationError(
            f"Webhook not delivered, will retry: {webhook.describe(error, status)}",
            {"status": status},
            type="webhook_unavailable",
            next_retry_delay=delay,
        )

    # ------------------------------------------------------------ giving up

    @activity.defn(name=c.DELIVERY_GAVE_UP)
    async def delivery_gave_up(self, input: c.GaveUpInput) -> c.GaveUpResult:
        key: _Key = {"event_id": input.event_id, "recipient": input.recipient, "channel": input.channel}
        async with session_scope(self.sessionmaker) as session:
            row = await store.get_delivery(session, **key)
            reason = (row or {}).get("last_error") or input.reason
            if row is not None and row["status"] != "sent":
                await store.gave_up_delivery(session, **key, error=reason)
            disabled = None
            if input.channel == "webhook":
                disabled = await store.disable_if_failing(
                    session,
                    endpoint_id=input.recipient,
                    reason=reason,
                    failing_for=timedelta(hours=self.settings.webhook_disable_after_hours),
                )
        DELIVERED.labels(channel=input.channel, outcome="failed").inc()
        log.error(
            "delivery_given_up", **key, reason=reason, permanent=input.permanent, endpoint_disabled=bool(disabled)
        )
        if disabled is None:
            return c.GaveUpResult(reason=reason)
        return c.GaveUpResult(disabled=True, org=disabled.org, url=disabled.url, reason=reason)

    # ------------------------------------------------------------ helpers

    async def _claim(self, key: _Key, *, agreement_id: str, lease: timedelta) -> store.Claim:
        async with session_scope(self.sessionmaker) as session:
            return await self._claim_in(session, key, agreement_id=agreement_id, lease=lease)

    async def _claim_in(self, session: AsyncSession, key: _Key, *, agreement_id: str, lease: timedelta) -> store.Claim:
        claim = await store.claim_delivery(session, **key, agreement_id=agreement_id, lease=lease)
        if claim.status == "busy":
            # Another execution of this delivery is sending right now (or died doing so and
            # its lease has not run out): let Temporal try again later.
            DELIVERED.labels(channel=key["channel"], outcome="retry").inc()
            raise ApplicationError("Another attempt of this delivery is in progress.", type="delivery_busy")
        return claim

    async def _release(self, key: _Key, attempt: int, error: str, failed: bool = False) -> bool:
        """The failure of the claim of `attempt`, recorded while the row is still that claim's;
        False when it no longer was (nothing written)."""
        async with session_scope(self.sessionmaker) as session:
            return await store.release_delivery(session, **key, attempt=attempt, error=error, failed=failed)

    @staticmethod
    def _superseded(key: _Key, attempt: int, error: str) -> ApplicationError:
        """The failure of a claim whose lease ran out, recorded after another execution (the
        attempt Temporal started after this one timed out) claimed the row: nothing was
        written — that claim's own outcome decides, and this one, retried, finds its lease
        or its 'sent'. Counted and logged as what it is, as the dispatcher does, not as a
        retry or a failure that did not happen."""
        DELIVERED.labels(channel=key["channel"], outcome="superseded").inc()
        log.warning("delivery_outcome_superseded", **key, attempt=attempt, error=error)
        return ApplicationError(
            f"Another attempt has claimed this delivery since; its outcome decides: {error}",
            type="delivery_superseded",
        )

    async def _mark_sent(self, key: _Key) -> None:
        # The message is out: try hard to record it, since a retry of this activity would
        # otherwise send it again (the window the module docstring describes).
        for attempt in range(5):
            try:
                async with session_scope(self.sessionmaker) as session:
                    await store.mark_sent(session, **key)
                return
            except Exception:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)

    @staticmethod
    def _done(
        outcome: Literal["sent", "duplicate", "skipped"], *, channel: store.Channel, **fields: Any
    ) -> c.DeliveryResult:
        DELIVERED.labels(channel=channel, outcome=outcome).inc()
        log.info(
            "notification_delivered" if outcome == "sent" else f"notification_{outcome}", channel=channel, **fields
        )
        return c.DeliveryResult(outcome=outcome)
