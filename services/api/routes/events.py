"""The audit trail of an agreement and the check of its hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.api import audit_anchor
from services.api.agreements_read import load_visible
from services.api.audit_anchor import Disagreement
from services.api.deps import PrincipalDep, SessionDep, TemporalDep
from services.store import queries

router = APIRouter(prefix="/agreements", tags=["audit"])


class AuditEvent(BaseModel):
    id: str
    seq: int
    version: int
    type: str
    at: datetime
    actor: dict[str, Any]
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditTrail(BaseModel):
    agreement_id: str
    events: list[AuditEvent]


class ChainVerification(BaseModel):
    valid: bool = Field(description="the chain recomputes and agrees with the workflow (when it answered)")
    count: int
    head: str
    broken_at: int | None = Field(default=None, description="the first seq that does not verify")
    # Rows written by a workflow task that never completed (a crash between recording and
    # completing): Temporal's history does not hold them, so they stand apart from the chain.
    superseded: int = 0
    anchored: bool = Field(
        default=False,
        description="the agreement's workflow (Temporal's history, a witness outside the database) was compared",
    )
    disagreements: list[Disagreement] = Field(
        default_factory=list,
        description="where the database and the workflow disagree: `hash@<seq>` (the trail's hash after a batch), "
        "`seq`, a read-model column (`orgs`, `stage`, …) or `state.<field>`",
    )


@router.get("/{agreement_id}/events", response_model=AuditTrail, summary="The audit trail")
async def list_events(
    agreement_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    after_seq: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> AuditTrail:
    await load_visible(session, agreement_id, principal)
    rows = await queries.list_events(session, agreement_id=agreement_id, after_seq=after_seq, limit=limit)
    return AuditTrail(
        agreement_id=agreement_id, events=[AuditEvent.model_validate(r, from_attributes=True) for r in rows]
    )


@router.get(
    "/{agreement_id}/events/verify",
    response_model=ChainVerification,
    summary="Recompute the audit trail's hash chain and compare it with the agreement's workflow",
)
async def verify_events(
    agreement_id: str, session: SessionDep, principal: PrincipalDep, temporal: TemporalDep
) -> ChainVerification:
    await load_visible(session, agreement_id, principal)
    result = ChainVerification.model_validate(await queries.verify_chain(session, agreement_id=agreement_id))
    anchored, broken_at, disagreements = await audit_anchor.check(session, temporal, agreement_id)
    if disagreements:
        found = [b for b in (result.broken_at, broken_at) if b is not None]
        result.broken_at = min(found) if found else None
        result.valid = False
    result.anchored, result.disagreements = anchored, disagreements
    return result
