"""The record_events activity: the audit trail, the read model and the notification plan
(inbox rows, the outbox of email and webhook deliveries), in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog
from prometheus_client import Counter
from sqlalchemy import exc as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.store import queries
from services.store.db import Unit, engine_of, pooled_driver, session_scope
from services.worker import planning
from services.worker.recipients import KnownRecipients
from workflows.contracts.records import RECORD_EVENTS, RecordEventsInput, RecordEventsResult
from workflows.messages import Event

log = structlog.get_logger("pakta.records")
# The standard library's logger structlog writes through (`services.logging`): asked
# whether a level is on before a line is built.
stdlib_log = logging.getLogger("pakta.records")

EVENTS_RECORDED = Counter("pakta_events_recorded", "Audit events appended, by event type", ["type"])
RECORDINGS_REFUSED = Counter(
    "pakta_recordings_refused",
    "Batches of events the database refused for good (the command failed, nothing changed)",
    ["reason"],
)
# The type of the ApplicationError the workflow recognises: the command fails, the agreement
# stays as it was and takes the next command.
RECORDING_REFUSED = "recording_refused"


def refused_for_good(error: BaseException) -> str | None:
    """Why the database will refuse this batch however often it is retried (a value it
    cannot store), or None for a failure that may pass (a lost connection, a restart)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, sa.DataError | asyncpg.DataError):
            return "data_error"
        if isinstance(seen, UnicodeError):
            return "encoding"
        if isinstance(seen, OverflowError):
            return "out_of_range"
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


class RecordActivities:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, on_outbox: Callable[[], None] | None = None
    ) -> None:
        self.sessionmaker = sessionmaker
        # Called once deliveries committed to the outbox: nudges this process's dispatcher.
        self.on_outbox = on_outbox
        # The plans' recipients this worker read, kept while no one changes them.
        self.recipients = KnownRecipients()

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(self, input: RecordEventsInput) -> RecordEventsResult:
        try:
            try:
                async with pooled_driver(engine_of(self.sessionmaker)) as driver:
                    done = await self._record_at_once(driver, input)
                    if done is None:
                        # The transaction on the driver's connection: no session's checkout,
                        # begin and commit around the recording's few fixed statements.
                        async with driver.transaction():
                            done = await self._record(driver, input)
                result, planned = done
            except queries.SupersedeInSession:
                # Rows of a lost workflow task to supersede (rare): superseding is written
                # for a session. Nothing was written; the same recording, in one.
                async with session_scope(self.sessionmaker) as session:
                    result, planned = await self._record(session, input)
        except queries.RecordError as error:
            # A gap, a conflicting history or a malformed batch stays wrong however often it
            # is retried: fail at once so the workflow sees it, instead of retrying forever.
            log.error("record_events_refused", agreement_id=input.state.id, error=str(error))
            RECORDINGS_REFUSED.labels(reason=type(error).__name__).inc()
            raise ApplicationError(str(error), type=type(error).__name__, non_retryable=True) from error
        except Exception as error:
            reason = refused_for_good(error)
            if reason is None:
                raise  # retried with backoff until the database is back: nothing is lost
            # Retrying would hold the agreement's lock forever: fail this one command.
            log.error(
                "record_events_refused",
                agreement_id=input.state.id,
                reason=reason,
                seq_from=input.events[0].seq if input.events else None,
                error_class=type(error).__name__,
            )
            RECORDINGS_REFUSED.labels(reason=reason).inc()
            raise ApplicationError(
                "The database refused a value of this command.", reason, type=RECORDING_REFUSED, non_retryable=True
            ) from None
        if planned is not None and planned.outbox and self.on_outbox is not None:
            self.on_outbox()
        for event in _fresh(input, result):
            EVENTS_RECORDED.labels(type=event.type).inc()
        if stdlib_log.isEnabledFor(logging.DEBUG):
            # DEBUG, and built only when it is wanted: one line per recording cost ≈ 3 % of the
            # worker's CPU and sat on every action's path, before the Update could answer. The
            # counter above counts the events; a refusal is logged at ERROR; the API's access
            # log has every action (docs/performance-log.md).
            log.debug(
                "events_recorded",
                agreement_id=input.state.id,
                seq_from=input.events[0].seq if input.events else None,
                seq_to=input.events[-1].seq if input.events else None,
                inserted=result.inserted,
                head=result.head,
                inbox=planned.inbox if planned else None,
                outbox=planned.outbox if planned else None,
            )
        return result

    async def _record_at_once(
        self, driver: Any, input: RecordEventsInput
    ) -> tuple[RecordEventsResult, planning.Planned | None] | None:
        """A plain append after the head the workflow knows, in one statement and no
        transaction (`queries.append_at_once`), after the plan's read — none when this
        worker read its recipients before and no one changed them since. None, with nothing
        written, when it is not that plain: then `_record` decides in a transaction, under
        the lock."""
        if input.follows is None or not input.events:
            return None
        resolved = (
            await planning.resolve(driver, events=input.events, state=input.state, known=self.recipients)
            if input.plan_notifications
            else planning.Plan(inbox=[], outgoing=[])
        )
        done = await queries.append_at_once(
            driver,
            state=input.state,
            events=input.events,
            recorder=input.recorder,
            follows=input.follows,
            inbox=resolved.inbox,
            outgoing=resolved.outgoing,
            recipients_version=resolved.recipients_version,
        )
        if done is None:
            if resolved.recipients_version is not None:
                # Perhaps the recipients changed: the careful path reads them afresh, and
                # the next recording here does too.
                self.recipients.forget()
            return None
        planned = planning.Planned(inbox=done.inbox, outbox=done.outbox) if input.plan_notifications else None
        return done.result, planned

    @staticmethod
    async def _record(unit: Unit, input: RecordEventsInput) -> tuple[RecordEventsResult, planning.Planned | None]:
        """The events, the read model and — when asked — the notifications of the events this
        recording added (none when a retry finds them recorded); those of events it
        superseded are gone with them (`queries`)."""
        result = await queries.append_events(unit, state=input.state, events=input.events, recorder=input.recorder)
        if not input.plan_notifications:
            return result, None
        return result, await planning.plan(unit, events=_fresh(input, result), state=input.state)


def _fresh(input: RecordEventsInput, result: RecordEventsResult) -> list[Event]:
    """Only the tail of the batch is new when a retry finds the rest recorded."""
    return input.events[len(input.events) - result.inserted :] if result.inserted else []
