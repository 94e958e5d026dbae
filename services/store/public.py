"""The public portal's data (#12): the agreements at least one party publishes, the
documents they marked public, and citizens' feedback with its moderation. Keyword-only
functions over an `AsyncSession`; none commits (the caller owns the unit of work).

Which agreements and documents are public is the decider's record (`state.publications`,
projected to `agreements.published`); these functions only read it back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.models import Agreement, DocumentAttachment, PublicFeedback
from services.store.queries import DocumentRecord, get_document
from workflows.lifecycle import public_documents
from workflows.messages import AgreementState

AGREEMENTS = Agreement.__table__
ATTACHMENTS = DocumentAttachment.__table__
FEEDBACK = PublicFeedback.__table__
PORTAL_LIMIT = 5000


# ---------------------------------------------------------------- published agreements


async def published_agreements(session: AsyncSession, *, limit: int = PORTAL_LIMIT) -> list[AgreementState]:
    """The agreements at least one party publishes, newest term first."""
    query = (
        select(AGREEMENTS.c.state)
        .where(AGREEMENTS.c.published)
        .order_by(AGREEMENTS.c.start_date.desc(), AGREEMENTS.c.id)
        .limit(limit)
    )
    return [AgreementState.model_validate(r.state) for r in await session.execute(query)]


async def published_agreement(session: AsyncSession, *, agreement_id: str) -> AgreementState | None:
    row = (
        await session.execute(select(AGREEMENTS.c.state).where(AGREEMENTS.c.id == agreement_id, AGREEMENTS.c.published))
    ).first()
    return AgreementState.model_validate(row.state) if row else None


async def agreements_of(session: AsyncSession, *, org: str, limit: int = 500) -> list[AgreementState]:
    """An organisation's signed agreements (in force or closed), for its publishing
    overview: which it publishes, which it could."""
    query = (
        select(AGREEMENTS.c.state)
        .where(AGREEMENTS.c.orgs.contains([org]), AGREEMENTS.c.stage.in_(("implementation", "expired", "terminated")))
        .order_by(AGREEMENTS.c.published.desc(), AGREEMENTS.c.start_date.desc(), AGREEMENTS.c.id)
        .limit(limit)
    )
    return [AgreementState.model_validate(r.state) for r in await session.execute(query)]


async def public_document(session: AsyncSession, *, agreement_id: str, sha256: str) -> DocumentRecord | None:
    """The document `sha256` of a published agreement, if a publishing party marked it
    public: the upload that was attached to that agreement (its owner's copy)."""
    state = await published_agreement(session, agreement_id=agreement_id)
    if state is None or sha256 not in public_documents(state):
        return None
    owners = await session.scalars(
        select(ATTACHMENTS.c.org)
        .where(ATTACHMENTS.c.agreement_id == agreement_id, ATTACHMENTS.c.sha256 == sha256)
        .order_by(ATTACHMENTS.c.seq)
    )
    for owner in owners:
        record = await get_document(session, org=owner, sha256=sha256)
        if record is not None:
            return record
    return None


# ---------------------------------------------------------------- citizens' feedback


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    id: str
    agreement_id: str
    title: str
    name: str | None
    message: str
    created_at: datetime


async def approved_feedback(session: AsyncSession, *, agreement_id: str) -> list[FeedbackRecord]:
    query = (
        select(FEEDBACK, AGREEMENTS.c.title)
        .join(AGREEMENTS, AGREEMENTS.c.id == FEEDBACK.c.agreement_id)
        .where(FEEDBACK.c.agreement_id == agreement_id, FEEDBACK.c.status == "approved")
        .order_by(FEEDBACK.c.created_at)
    )
    return [_feedback(r) for r in await session.execute(query)]


async def pending_feedback(session: AsyncSession, *, org: str) -> list[FeedbackRecord]:
    """What awaits `org`'s moderation, oldest first."""
    query = (
        select(FEEDBACK, AGREEMENTS.c.title)
        .join(AGREEMENTS, AGREEMENTS.c.id == FEEDBACK.c.agreement_id)
        .where(FEEDBACK.c.org == org, FEEDBACK.c.status == "pending")
        .order_by(FEEDBACK.c.created_at)
    )
    return [_feedback(r) for r in await session.execute(query)]


def _feedback(row: Row[Any]) -> FeedbackRecord:
    return FeedbackRecord(
        id=row.id,
        agreement_id=row.agreement_id,
        title=row.title,
        name=row.name,
        message=row.message,
        created_at=row.created_at,
    )


async def recent_feedback_counts(
    session: AsyncSession, *, client: str, agreement_id: str, now: datetime, within: timedelta
) -> tuple[int, int]:
    """How many messages `client` sent within `within` before `now`: overall, and on this agreement."""
    recent = (FEEDBACK.c.client == client, FEEDBACK.c.created_at > now - within)
    overall = (await session.execute(select(func.count()).where(*recent))).scalar_one()
    here = (
        await session.execute(select(func.count()).where(*recent, FEEDBACK.c.agreement_id == agreement_id))
    ).scalar_one()
    return overall, here


async def add_feedback(
    session: AsyncSession, *, agreement_id: str, org: str, name: str | None, message: str, client: str
) -> str:
    """Hold a citizen's message for `org`'s moderation; returns its id."""
    feedback_id = str(uuid.uuid4())
    await session.execute(
        FEEDBACK.insert().values(
            id=feedback_id, agreement_id=agreement_id, org=org, name=name, message=message, client=client
        )
    )
    return feedback_id


async def moderate_feedback(session: AsyncSession, *, feedback_id: str, org: str, approve: bool, by: str) -> bool:
    """Approve or reject `org`'s pending message; False when there is none such."""
    result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
        update(FEEDBACK)
        .where(FEEDBACK.c.id == feedback_id, FEEDBACK.c.org == org, FEEDBACK.c.status == "pending")
        .values(status="approved" if approve else "rejected", moderated_by=by, moderated_at=func.now())
    )
    return result.rowcount > 0
