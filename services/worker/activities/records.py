"""The record_events activity: the audit trail and the read model, in one transaction."""

from __future__ import annotations

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.store import queries
from services.store.db import session_scope
from workflows.contracts.records import RECORD_EVENTS, RecordEventsInput, RecordEventsResult

log = structlog.get_logger("pakta.records")

EVENTS_RECORDED = Counter("pakta_events_recorded", "Audit events appended, by event type", ["type"])


class RecordActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(self, input: RecordEventsInput) -> RecordEventsResult:
        try:
            async with session_scope(self.sessionmaker) as session:
                result = await queries.append_events(session, state=input.state, events=input.events)
        except queries.RecordError as error:
            # A gap, a conflicting history or a malformed batch stays wrong however often it
            # is retried: fail at once so the workflow sees it, instead of retrying forever.
            log.error("record_events_refused", agreement_id=input.state.id, error=str(error))
            raise ApplicationError(str(error), type=type(error).__name__, non_retryable=True) from error
        # Only the tail of the batch is new when a retry finds the rest recorded.
        fresh = input.events[len(input.events) - result.inserted:] if result.inserted else []
        for event in fresh:
            EVENTS_RECORDED.labels(type=event.type).inc()
        log.info("events_recorded", agreement_id=input.state.id,
                 seq_from=input.events[0].seq if input.events else None,
                 seq_to=input.events[-1].seq if input.events else None,
                 inserted=result.inserted, head=result.head)
        return result
