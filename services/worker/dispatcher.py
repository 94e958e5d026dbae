"""The outbox dispatcher: sends the email and webhook deliveries the recordings wrote.

It runs beside the Temporal worker in `pakta worker` (unless `PAKTA_WORKER_DISPATCH` is off),
or in `pakta dispatcher` processes of its own, any number of them. It wakes when a recording
committed deliveries, in any process (`LISTEN pakta_outbox`, `services.worker.wakeup`), and
every `PAKTA_OUTBOX_POLL_SECONDS` for retries coming due and anything a lost listening
connection missed. Each round claims due rows (leased, so
two dispatchers never send the same one; see `services.store.outbox`), sends them through
the channels (SMTP; webhooks through the egress checks) at most `CONCURRENCY` at a time,
then marks them:

- sent: done (a receiver may see a repeat only if we die between its answer and the mark;
  the mail's Message-ID and the webhook-id are the same both times, so it can drop it);
- failed, may pass (an outage, a 5xx, a 429): due again after the `DeliveryPolicy` backoff
  (a Retry-After within reason);
- refused (SMTP 5xx, HTTP 4xx) or failing past `PAKTA_DELIVERY_GIVE_UP_HOURS`: given up,
  with the reason. A webhook endpoint without a success for
  `PAKTA_WEBHOOK_DISABLE_AFTER_HOURS` is then switched off and its organisation's staff are
  told (inbox and email, planned in the same transaction).

The claim also starts the attempts of the webhooks it claims (recorded before any request
leaves). What a send writes after it goes by group commit (`services.worker.batching`): the
outcomes of the sends finishing together (attempt ended, endpoint's health, delivery sent;
the write lingers up to `OUTCOME_LINGER_SECONDS` for sends still in flight) in one
statement — a prepared statement run on its own, like the claim (`services.store.outbox`).
Mail goes over SMTP connections kept open between messages (`email.MailConnections`), webhooks over
one keep-alive HTTP client. Both are most of what the worker spent per transition
(docs/performance.md, "The profile's findings").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import structlog
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifying import render, webhook
from services.settings import Settings
from services.store import notifications as store
from services.store import outbox
from services.store.db import engine_of, pooled_driver, session_scope
from services.worker import planning
from services.worker.activities.notify import DELIVERED, backoff_seconds, delivery_policy, mail_lease, webhook_lease
from services.worker.batching import GroupWrite
from services.worker.channels import email
from services.worker.channels import webhook as webhook_channel
from services.worker.names import MailNames
from services.worker.wakeup import OutboxListener
from workflows import messages as m
from workflows.contracts.notify import DeliveryPolicy, EmailRecipient
from workflows.notify.rules import OFFICE_HOURS_ONLY, Notification, endpoint_disabled, mail_time
from workflows.timeline import office_closes

log = structlog.get_logger("pakta.outbox")

OUTBOX_DEPTH = Gauge("pakta_outbox_depth", "Email and webhook deliveries due and not sent yet")
OUTBOX_OLDEST_DUE = Gauge("pakta_outbox_oldest_due_seconds", "How long the oldest due delivery has waited")

CONCURRENCY = 16  # sends in flight per worker process
# How often the outbox's depth is counted for the metrics: about a scrape's interval (a count
# every poll was ≈ 3 % of the dispatcher's CPU under load).
MEASURE_SECONDS = 15.0
# How long the outcomes' group write waits for sends still in flight before it starts: the
# sends of one claim finish a few milliseconds apart, and one write (one synchronous commit)
# for all of them replaces one for the first and one for the rest. Recording a delivery
# later by this much widens only the window in which a crash resends it — with the same
# Message-ID or webhook-id, as any crash between acceptance and record does; no send waits.
OUTCOME_LINGER_SECONDS = 0.02
# The webhook bodies kept for the endpoints of events still being sent (`_body_of`): a claim
# takes at most `CONCURRENCY` rows, so a few claims' worth of events.
BODIES_KEPT = 4 * CONCURRENCY
# The mails' notices and readers kept parsed (`_parsed`): the notices of a few claims, the
# staff an outbox reaches.
PARSED_KEPT = 256
STOP_GRACE_SECONDS = 10.0  # sends in flight get this long to finish when the worker stops


_Parsed = TypeVar("_Parsed", Notification, EmailRecipient)


class Failure(Exception):
    """An attempt that did not deliver: `permanent` when retrying cannot help; not `begun`
    when nothing reached the receiver (a mail that waited for a connection past its time)."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None, begun: bool = True
    ) -> None:
        super().__init__(reason)
        self.reason, self.permanent, self.retry_after, self.begun = reason, permanent, retry_after, begun


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a finished send leaves in the database: the delivery sent (or not), and for a
    webhook its attempt's end and whether the endpoint answered (`failure`: how it did not,
    handled once the outcome is recorded)."""

    row: outbox.OutboxRow
    sent: bool
    attempt: store.AttemptEnd | None = None
    failure: Failure | None = None


class OutboxDispatcher:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        # The claim and the group writes are one statement each, run on a pooled connection
        # without a session (its checkout, begin and commit were ≈ 5 % of the dispatcher's CPU).
        self._engine = engine_of(sessionmaker)
        self.policy: DeliveryPolicy = delivery_policy(settings)
        self.egress = webhook.Egress.of(production=settings.is_production, allowed=settings.webhook_allowed_hosts)
        # The time office hours and backoffs are reckoned in (a test moves it on).
        self.clock = clock or (lambda: datetime.now(UTC))
        self._woken = asyncio.Event()
        self._listener = OutboxListener(settings, self.wake)
        self._webhooks = webhook_channel.WebhookClient()
        self._leases: dict[outbox.OutboxChannel, timedelta] = {
            "email": mail_lease(settings.smtp_timeout_seconds),
            "webhook": webhook_lease(settings.webhook_timeout_seconds),
        }
        self._measured = 0.0
        self.mail = email.MailConnections(settings)
        self._record_outcomes = GroupWrite(self._write_outcomes, linger=OUTCOME_LINGER_SECONDS)
        self._bodies: dict[str, tuple[str, bytes]] = {}  # event id: (webhook-id, body), `_body_of`
        # A mail's notice and reader by their stored JSON text (`_parsed`): an event's readers
        # share its notice, and the same staff read event after event.
        self._notices: dict[str, Notification] = {}
        self._readers: dict[str, EmailRecipient] = {}
        # The names the mails give the organisations they name, read once per claim (`_read_names`).
        self._names = MailNames()

    def wake(self) -> None:
        """Deliveries were committed: look now rather than at the next poll."""
        self._woken.set()

    def nudge(self) -> None:
        """A recording in this process committed deliveries: wake, unless the database's
        notification will (one claim per recording, not two)."""
        if not self._listener.listening:
            self._woken.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OutboxDispatcher]:
        """Dispatch in the background while the block runs; stop (bounded) on the way out."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop))
        try:
            yield self
        finally:
            stop.set()
            await task

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set; then give sends in flight `STOP_GRACE_SECONDS` and
        cancel the rest (their leases run out and another dispatcher sends them)."""
        sending: set[asyncio.Task[None]] = set()
        render.compile_templates()
        try:
            while not stop.is_set():
                self._woken.clear()
                await self._listener.ensure()
                room = CONCURRENCY - len(sending)
                # A mail claimed now goes by then or not at all (`MailConnections.send`): its
                # lease leaves room for the replies after it and the outcome's record.
                by = asyncio.get_running_loop().time() + self.settings.smtp_timeout_seconds
                claimed = await self._claim(room) if room > 0 else []
                await self._read_names(claimed)
                for row in claimed:
                    task = asyncio.create_task(self.deliver(row, by=by))
                    sending.add(task)
                    task.add_done_callback(sending.discard)
                await self._measure()
                # Every slot taken: more may be due, claim again once a send finishes. Fewer
                # rows than asked for: none more were due (and free) when the claim looked,
                # so wait — a recording committed meanwhile has woken us already (its NOTIFY,
                # or the in-process nudge), and the poll covers the rest. Claiming again at
                # once found nothing three times in ten (docs/performance-log.md).
                wait_for: set[asyncio.Future[object] | asyncio.Task[None]] = (
                    set(sending) if claimed and len(claimed) == room else set()
                )
                await self._pause(stop, wait_for)
        finally:
            if sending:
                _, late = await asyncio.wait(sending, timeout=STOP_GRACE_SECONDS)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            await self._record_outcomes.close()
            await self.mail.close()
            await self._listener.close()
            await self._webhooks.close()

    async def _pause(self, stop: asyncio.Event, busy: set[asyncio.Future[object] | asyncio.Task[None]]) -> None:
        """Until stopped, woken, a send finished (when every slot is busy) or the poll interval."""
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._woken.wait())}
        try:
            await asyncio.wait(
                waiters | busy, timeout=self.settings.outbox_poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _claim(self, limit: int) -> list[outbox.OutboxRow]:
        try:
            async with pooled_driver(self._engine) as driver:
                return await outbox.claim_due(driver, now=self.clock(), limit=limit, leases=self._leases)
        except Exception as error:  # the database is away: try again at the next poll
            log.warning("outbox_claim_failed", error_class=type(error).__name__, error=str(error))
            return []

    async def _read_names(self, rows: list[outbox.OutboxRow]) -> None:
        """The names of the organisations the claimed mails name (the agreements' parties, the
        register): one statement for the claim, before its sends start; none when every
        name is kept (`MailNames`). Off the transition's path: the recording wrote the rows
        with ids. A notice that does not parse is left to its send, which fails it; a read
        that fails leaves the ids in the mails rather than hold them up."""
        notes: list[Notification] = []
        for row in rows:
            if row.channel == "email" and row.notice_json is not None:
                with contextlib.suppress(ValueError):
                    notes.append(_parsed(self._notices, row.notice_json, Notification))
        wanted = self._names.unknown(notes)
        if not wanted:
            return
        try:
            async with pooled_driver(self._engine) as driver:
                await self._names.read(driver, wanted)
        except Exception as error:
            log.warning("mail_names_unread", error_class=type(error).__name__, error=str(error))

    async def _measure(self) -> None:
        """The outbox's depth for the metrics, at most once every `MEASURE_SECONDS`."""
        if time.monotonic() - self._measured < MEASURE_SECONDS:
            return
        self._measured = time.monotonic()
        with contextlib.suppress(Exception):
            async with session_scope(self.sessionmaker) as session:
                count, oldest = await outbox.depth(session, now=self.clock())
            OUTBOX_DEPTH.set(count)
            OUTBOX_OLDEST_DUE.set(max(0.0, (self.clock() - oldest).total_seconds()) if oldest else 0.0)

    # ------------------------------------------------------------ one delivery

    async def deliver(self, row: outbox.OutboxRow, *, by: float | None = None) -> None:
        """Send one claimed row and record how it went. Never raises but for cancellation:
        a failure to record is left to the lease (the row is claimed again later). `by`: the
        event loop's time a mail's content may not leave after (default: the mail timeout
        from now)."""
        try:
            if row.channel == "email" and await self._postponed(row):
                return
            outcome: Outcome | None
            failure: Failure | None = None
            # While it sends, the outcomes' group write lingers for it (`OUTCOME_LINGER_SECONDS`).
            with self._record_outcomes.expecting():
                try:
                    if row.channel == "email":
                        outcome = await self._send_email(row, by=by)
                    else:
                        outcome = await self._send_webhook(row)
                except Failure as failed:
                    outcome, failure = None, failed
            if outcome is not None:
                await self._record_outcomes(outcome)
                failure = outcome.failure
            if failure is not None:
                await self._failed(row, failure)
            elif outcome is not None:
                _count(row, "sent")
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.error("outbox_delivery_error", **_key(row), error_class=type(error).__name__, error=str(error))

    async def _postponed(self, row: outbox.OutboxRow) -> bool:
        """Whether a time-driven mail claimed outside its reader's office hours was held back
        — claimed late (its lease ran out after a crash, the dispatcher was behind, a retry
        an older release put at night): its claim is given back uncounted (nothing was
        tried), due when their office opens. Past its last try by then (`_in_time`), a mail
        claimed before is given up now, as a retry past it is; one never claimed before keeps its first
        try, however late (office hours make no mail given up untried)."""
        now = self.clock()
        opens = self._reader_time(row, now)
        if opens <= now:
            return False
        if row.attempts > 1 and not self._in_time(row, opens, self._give_up_at(row)):
            await self._give_up(row, Failure("No office hours of its reader are left before the give-up."))
            return True
        async with session_scope(self.sessionmaker) as session:
            postponed = await outbox.postpone(session, row=row, due_at=opens)
        log.info("delivery_postponed" if postponed else "delivery_postpone_superseded", **_key(row), due_at=opens)
        return True

    async def _send_email(self, row: outbox.OutboxRow, *, by: float | None) -> Outcome:
        if row.notice_json is None or row.recipient_json is None:
            raise ValueError("the mail's payload has no notification or recipient")
        note = _parsed(self._notices, row.notice_json, Notification)
        recipient = _parsed(self._readers, row.recipient_json, EmailRecipient)
        await self._read_names([row])  # nothing to read when `run` read the claim's names
        try:
            message = email.build_message(
                notification=note,
                recipient=recipient,
                settings=self.settings,
                notice_json=row.notice_json,
                names=self._names.of(note, recipient.language),
            )
            await self.mail.send(message, to=recipient.address, by=by)
        except email.UnsendableAddress as error:
            raise Failure(f"The address cannot be mailed: {error}", permanent=True) from None
        except email.PermanentMailError as error:
            raise Failure(f"The mail server refused the message: {error}", permanent=True) from None
        except email.MailNotBegun as error:
            raise Failure(str(error), begun=False) from None
        except email.TransientMailError as error:
            raise Failure(str(error)) from None
        return Outcome(row, sent=True)

    def _body_of(self, row: outbox.OutboxRow) -> tuple[str, bytes]:
        """The event's id (the webhook-id) and the body every endpoint gets for it: the
        event read and serialised once for all its endpoints, not once per endpoint (the
        bodies are byte for byte the same; each endpoint's signature is made over them). An
        event never changes once recorded, so its id is its body's key."""
        made = self._bodies.get(row.event_id)
        if made is None:
            event = m.Event.model_validate(row.payload["event"])
            made = self._bodies[row.event_id] = (event.id, webhook.payload(event))
            if len(self._bodies) > BODIES_KEPT:
                del self._bodies[next(iter(self._bodies))]  # the oldest made
        return made

    async def _send_webhook(self, row: outbox.OutboxRow) -> Outcome | None:
        msg_id, body = self._body_of(row)
        # The claim started the attempt (before the request leaves, so one cut short by a
        # crash shows), if the endpoint was there and on.
        endpoint, attempt_id = row.endpoint, row.attempt_id
        if endpoint is None or attempt_id is None:
            # Deleted or switched off meanwhile: nothing to send, and nothing will be.
            async with session_scope(self.sessionmaker) as session:
                await outbox.give_up(session, row=row, error="endpoint removed or disabled")
            _count(row, "skipped")
            return None
        now = datetime.now(UTC)
        secrets = [endpoint.secret]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > now
        ):
            secrets.append(endpoint.previous_secret)
        started = time.monotonic()
        sent = await self._webhooks.post(
            endpoint.url,
            egress=self.egress,
            content=body,
            headers=webhook.headers(msg_id=msg_id, timestamp=int(time.time()), body=body, secrets=secrets),
            timeout_seconds=self.settings.webhook_timeout_seconds,
            now=now,
        )
        ended: store.AttemptEnd = {
            "endpoint_id": endpoint.id,
            "attempt_id": attempt_id,
            "status_code": sent.status,
            "error": sent.error,
            "duration_ms": int((time.monotonic() - started) * 1000),
        }
        if sent.error is None:
            return Outcome(row, sent=True, attempt=ended)
        reason = webhook.describe(sent.error, sent.status)
        failure = Failure(reason, permanent=sent.permanent, retry_after=sent.retry_after)
        return Outcome(row, sent=False, attempt=ended, failure=failure)

    # ------------------------------------------------------------ group commits

    async def _write_outcomes(self, outcomes: list[Outcome]) -> list[None]:
        """The outcomes of the sends finishing together, in one statement (all or nothing).
        A message that is out must be recorded as sent (claiming it again would send it
        again: the window the module docstring describes), so this tries hard."""
        for attempt in range(5):
            try:
                async with pooled_driver(self._engine) as driver:
                    await outbox.record_outcomes(
                        driver,
                        ended=[o.attempt for o in outcomes if o.attempt is not None],
                        # The latest answer of each endpoint decides whether it is failing.
                        answered={o.row.recipient: o.sent for o in outcomes if o.attempt is not None},
                        sent=[_key(o.row) for o in outcomes if o.sent],
                    )
                break
            except Exception:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)
        if delivered := [{**_key(o.row), "attempt": o.row.attempts} for o in outcomes if o.sent]:
            # One line for the deliveries recorded together, each named in it: a line per
            # delivery was ≈ 5 % of the dispatcher's CPU.
            log.info("notifications_delivered", count=len(delivered), deliveries=delivered)
        return [None] * len(outcomes)

    async def _failed(self, row: outbox.OutboxRow, failure: Failure) -> None:
        now = self.clock()
        give_up_at = self._give_up_at(row)
        begins_by = self._last_try_begins_by(row, give_up_at)
        if not failure.begun and now < begins_by:
            # Queued behind a slow mail server's connections: its attempt not counted — no
            # step nearer being given up for a mail the server never saw. Due again at once
            # the first time (the next claim takes it when a connection is free); each time
            # after, in a row, later, as a failed try's backoff grows: a server too slow on
            # every try was tried again at every poll until the give-up hours passed. Within
            # the give-up hours only: a mail never begun for as long as a failing one is
            # given up is given up too (a server that never has a connection ready in time),
            # not released for ever — its last try comes at the give-up time at the latest.
            due_at = None
            if row.unbegun:
                due_at = min(now + timedelta(seconds=backoff_seconds(self.policy, row.unbegun)), begins_by)
            # Time-driven mail is released to its reader's office hours, as a failed try's
            # retry is (below); none left in time (`_in_time`): given up now, as such a retry —
            # if it was tried before. One never tried keeps its first try, however late, as a
            # claim outside office hours does (`_postponed`): given up at 17:00 on a Friday,
            # a reminder that waited for a connection there was given up untried. Released
            # within its last try's office day (`_last_try_begins_by`), it is given up at the
            # day's close, whether or not it was tried before: a last try is not moved to the
            # next day.
            due = due_at or now
            if (at_office := self._reader_time(row, due)) > due:
                if (row.attempts > 1 or now >= give_up_at) and not self._in_time(row, at_office, give_up_at):
                    await self._give_up(row, failure)
                    return
                due_at = at_office
            async with session_scope(self.sessionmaker) as session:
                released = await outbox.release_unbegun(session, row=row, due_at=due_at)
            if not released:
                self._superseded(row, failure)
                return
            log.info("delivery_not_begun", **_key(row), reason=failure.reason, times=row.unbegun + 1, due_at=due_at)
            return
        delay = backoff_seconds(self.policy, row.attempts)
        if failure.retry_after is not None:  # a 429/503 asking for a pause: honour it, within reason
            delay = min(failure.retry_after, self.policy.maximum_interval_seconds)
        # A reminder that failed at 16:50 on a Friday is tried again when its reader's office
        # opens on Monday, not at 17:00 or 03:00 on the Sunday (`mail_time`) — or after
        # Lebaran; a retry past the give-up is not made (given up now), but the first office
        # hours at or after it still get theirs (`_in_time`).
        next_try = self._reader_time(row, now + timedelta(seconds=delay))
        if not failure.permanent and self._in_time(row, next_try, give_up_at):
            async with session_scope(self.sessionmaker) as session:
                recorded = await outbox.retry_later(session, row=row, error=failure.reason, due_at=next_try)
            if not recorded:
                self._superseded(row, failure)
                return
            _count(row, "retry")
            log.warning("delivery_retry", **_key(row), attempt=row.attempts, error=failure.reason, due_at=next_try)
            return
        await self._give_up(row, failure)

    def _reader_time(self, row: outbox.OutboxRow, moment: datetime) -> datetime:
        """`moment`, or for a time-driven mail the next office hours from it in its reader's
        zone (`mail_time`). Webhooks and news a person brought are not held: their readers
        are systems, or people waiting on it (the plain backoff)."""
        if row.channel != "email" or row.notice_json is None or row.recipient_json is None:
            return moment
        note = _parsed(self._notices, row.notice_json, Notification)
        reader = _parsed(self._readers, row.recipient_json, EmailRecipient)
        return mail_time(note, moment, reader.time_zone, reader.days_off)

    def _give_up_at(self, row: outbox.OutboxRow) -> datetime:
        """When the row's tries end: `PAKTA_DELIVERY_GIVE_UP_HOURS` after it was first due —
        for time-driven mail the office hours it was planned for, not when it was written
        (a reminder written on a Friday night for Monday morning has its hours from Monday:
        counted from Friday, a short give-up was over before its first try, and a failure
        then was given up at once, with no retry)."""
        first_due = row.created_at  # news a person brought: due as it was written
        if row.channel == "email" and row.notice_json is not None and row.recipient_json is not None:
            note = _parsed(self._notices, row.notice_json, Notification)
            if note.event_type in OFFICE_HOURS_ONLY:  # due at office hours from its moment (`planning`)
                first_due = max(first_due, self._reader_time(row, note.at))
        return first_due + timedelta(seconds=self.policy.give_up_seconds)

    def _last_try_begins_by(self, row: outbox.OutboxRow, give_up_at: datetime) -> datetime:
        """Until when a try that never began (no connection was free for it in time) is
        released uncounted for another: the give-up — or, for a time-driven mail whose
        give-up fell outside its reader's office hours, the close of the office day of its
        last try (`_in_time`). That try comes when the office opens, at 08:00 on a Monday
        with the weekend's mail, when the mail server's connections are busiest; counted as
        a failed try, a reminder the server never saw was given up after waiting for a
        connection. The close bounds it: a server that never has a connection free keeps it
        that office day at most (its releases spaced by the growing backoff), never to the
        next. A give-up inside office hours, and all other mail, keep the give-up."""
        last_office = self._reader_time(row, give_up_at)
        if last_office <= give_up_at or row.recipient_json is None:
            return give_up_at
        reader = _parsed(self._readers, row.recipient_json, EmailRecipient)
        return office_closes(last_office, reader.time_zone or m.DEFAULT_TIME_ZONE)

    def _in_time(self, row: outbox.OutboxRow, moment: datetime, give_up_at: datetime) -> bool:
        """Whether a try at `moment` is still made: before the give-up — or, for time-driven
        mail, at its reader's first office hours at or after it. Such a mail is tried in
        office hours only, so a give-up at night, on a weekend or over Lebaran would end it
        without a try after its last failure: a reminder first due on a Friday morning with
        24 give-up hours, failing at 16:50, was given up then, its Monday try past Saturday
        morning. It gets that try (and is given up if it fails too); a retry later than it
        is not made. A give-up inside office hours ends the tries as for any mail."""
        if moment < give_up_at:
            return True
        if row.channel != "email" or row.notice_json is None:
            return False
        if _parsed(self._notices, row.notice_json, Notification).event_type not in OFFICE_HOURS_ONLY:
            return False
        return moment <= self._reader_time(row, give_up_at)

    def _superseded(self, row: outbox.OutboxRow, failure: Failure) -> None:
        # The outcome came after the claim's lease ran out and another dispatcher has claimed
        # the row since: nothing was written, that claim's own outcome decides.
        _count(row, "superseded")
        log.warning("delivery_outcome_superseded", **_key(row), attempt=row.attempts, error=failure.reason)

    async def _give_up(self, row: outbox.OutboxRow, failure: Failure) -> None:
        async with session_scope(self.sessionmaker) as session:
            if not await outbox.give_up(session, row=row, error=failure.reason):
                self._superseded(row, failure)
                return
            disabled = None
            if row.channel == "webhook":
                disabled = await store.disable_if_failing(
                    session,
                    endpoint_id=row.recipient,
                    reason=failure.reason,
                    failing_for=timedelta(hours=self.settings.webhook_disable_after_hours),
                )
            if disabled is not None:
                notice = endpoint_disabled(
                    org=disabled.org,
                    endpoint_id=disabled.id,
                    url=disabled.url,
                    event=m.Event.model_validate(row.payload["event"]),
                    reason=failure.reason,
                )
                await planning.plan(session, notices=[notice])
        _count(row, "failed")
        log.error(
            "delivery_given_up",
            **_key(row),
            reason=failure.reason,
            permanent=failure.permanent,
            endpoint_disabled=disabled is not None,
        )
        if disabled is not None:
            self.wake()  # the staff's mail is in the outbox now


def _parsed(kept: dict[str, _Parsed], text: str, model: type[_Parsed]) -> _Parsed:
    """`text` (a mail's notice or reader, as the outbox row stores it) validated as `model`,
    kept by its text for the mails that follow (the last `PARSED_KEPT`): a hit spares the
    validation, and the notice's text is its rendering's key too (`render`)."""
    made = kept.get(text)
    if made is None:
        made = kept[text] = model.model_validate_json(text)
        if len(kept) > PARSED_KEPT:
            del kept[next(iter(kept))]  # the oldest made
    return made


def _key(row: outbox.OutboxRow) -> store.DeliveryKey:
    return {"event_id": row.event_id, "recipient": row.recipient, "channel": row.channel}


# The counter's labelled children, looked up once: `labels()` per delivery builds and hashes
# its label tuple under a lock each time.
_DELIVERED_BY = {
    (channel, outcome): DELIVERED.labels(channel=channel, outcome=outcome)
    for channel in ("email", "webhook")
    for outcome in ("sent", "skipped", "retry", "failed", "superseded")
}


def _count(row: outbox.OutboxRow, outcome: str) -> None:
    _DELIVERED_BY[(row.channel, outcome)].inc()
