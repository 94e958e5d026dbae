"""The audit trail of an agreement and the check of its hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.api.agreements_read import load_visible
from services.api.deps import PrincipalDep, SessionDep
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
    valid: bool
    count: int
    head: str
    broken_at: int | None = None
    # Rows written by a workflow task that never completed (a crash between recording and
    # completing): Temporal's history does not hold them, so they stand apart from the chain.
    superseded: int = 0


@router.get("/{agreement_id}/events", response_model=AuditTrail, summary="The audit trail")
async def list_events(
    agreement_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> AuditTrail:
    await load_visible(session, agreement_id, principal)
    rows = await queries.list_events(session, agreement_id=agreement_id, after_seq=after_seq, limit=limit)
    return AuditTrail(
        agreement_id=agreement_id, events=[AuditEvent.model_validate(r, from_attributes=True) for r in rows]
    )


@router.get(
    "/{agreement_id}/events/verify", response_model=ChainVerification, summary="Recompute the audit trail's hash chain"
)
async def verify_events(agreement_id: str, session: SessionDep, principal: PrincipalDep) -> ChainVerification:
    await load_visible(session, agreement_id, principal)
    result = await queries.verify_chain(session, agreement_id=agreement_id)
    return ChainVerification.model_validate(result)
