"""Keyword-only data functions of the reports upward (`services.api.upward_report`): the
agreements an organisation is party to that took effect before a period ended, and the
audit trail's facts of those agreements that the report names (signing, endings, escalations,
terminations, extensions). As in `queries`, none commits; the assembling is the caller's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.models import Agreement, AgreementEvent

AGREEMENTS = Agreement.__table__
EVENTS = AgreementEvent.__table__
MAX_REPORTED_AGREEMENTS = 5000  # an organisation with more is reported on its first ones by effective date

# When each agreement became binding and when it ended: read whatever the period, to tell
# whether it was in force in it.
LIFETIME_EVENTS = ("implementation_started", "agreement_imported", "agreement_terminated", "agreement_expired")
# What the report names when it happened within the period.
PERIOD_EVENTS = (
    "evaluation_concluded",
    "termination_requested",
    "termination_declined",
    "deadline_escalated",
    "evaluation_escalated",
    "deadline_extended",
    "recommendation_deferred",
    "change_completed",
)


@dataclass(frozen=True, slots=True)
class ReportedRow:
    """An agreement as the read model holds it: its latest state, as recorded JSON (read
    as such, so fields a newer decider adds are there for whoever knows them)."""

    id: str
    stage: str
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReportedEvent:
    agreement_id: str
    seq: int
    type: str
    at: datetime
    data: dict[str, Any]


async def signed_agreements(
    session: AsyncSession, *, org: str, limit: int = MAX_REPORTED_AGREEMENTS
) -> list[ReportedRow]:
    """The agreements `org` is party to that were signed (or imported as signed on paper):
    they carry an effective date, whatever became of them since."""
    a = AGREEMENTS.c
    effective = a.state["effective_date"].astext
    query = (
        select(a.id, a.stage, a.state)
        # `orgs @> ARRAY[org]` is what the GIN index ix_agreements_orgs answers;
        # `org = ANY(orgs)` would read every agreement.
        .where(a.orgs.contains([org]), effective.is_not(None))
        .order_by(effective, a.id)
        .limit(limit)
    )
    return [ReportedRow(r.id, r.stage, r.state) for r in await session.execute(query)]


async def report_events(
    session: AsyncSession, *, agreement_ids: Sequence[str], since: datetime, until: datetime
) -> list[ReportedEvent]:
    """The signing and ending events of these agreements (any time) and the events the
    report names that happened in [since, until), in the order they were recorded."""
    if not agreement_ids:
        return []
    e = EVENTS.c
    in_period = e.type.in_(PERIOD_EVENTS) & (e.at >= since) & (e.at < until)
    query = (
        select(e.agreement_id, e.seq, e.type, e.at, e.data)
        .where(e.agreement_id.in_(list(agreement_ids)), e.type.in_(LIFETIME_EVENTS) | in_period)
        .order_by(e.agreement_id, e.seq)
    )
    return [ReportedEvent(r.agreement_id, r.seq, r.type, r.at, r.data) for r in await session.execute(query)]
