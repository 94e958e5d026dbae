"""What awaits a caller now — gates to decide, drafts to accept or submit, signatures to
give, proposals to submit, and whatever actions the lifecycle adds later (reports,
evaluations) — computed from the read model with the decider's own `owed_actions` (what it
would accept from the caller and waits for), so the inbox never disagrees with what the API
would accept. `GET /inbox` and the web pages' inbox and agreement pages show these items."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.commands import actor_of
from services.auth import Principal
from services.store import notifications as store
from workflows import lifecycle
from workflows import messages as m


class GateToDecide(BaseModel):
    gate: str
    org: str | None


class InboxItem(BaseModel):
    agreement_id: str
    title: str
    kind: str
    stage: str
    step: m.StepView | None
    action: str
    gates: list[GateToDecide] = []  # for "decide": the slots the caller may decide
    version: int | None = None  # for "accept_draft" and "sign": the version concerned
    due_at: datetime | None
    updated_at: datetime


class _Line(TypedDict):
    """What every inbox line of one agreement repeats."""

    agreement_id: str
    title: str
    kind: str
    stage: str
    step: m.StepView | None
    due_at: datetime | None
    updated_at: datetime


def awaited(state: m.AgreementState, actor: m.Actor, now: datetime) -> list[InboxItem]:
    """The inbox lines of one agreement for one actor."""
    step = lifecycle.current_step(state)
    document = step.document if step is not None else None
    base: _Line = {
        "agreement_id": state.id,
        "title": state.title,
        "kind": state.kind,
        "stage": state.stage,
        "step": lifecycle.step_view(state),
        "due_at": state.deadlines.get("step"),
        "updated_at": state.updated_at,
    }
    items = []
    for action in lifecycle.owed_actions(state, actor, now):
        extra: dict[str, Any] = {}
        if action == "decide":
            extra["gates"] = [
                GateToDecide(gate=s.gate, org=s.org)
                for s in lifecycle.open_slots(state)
                if s.gate in actor.gates and (s.org is None or s.org == actor.org)
            ]
        elif action == "submit_draft":
            # Owed only while there is no version yet; afterwards acceptance is what is owed.
            if document is None or lifecycle.latest_draft(state, document) is not None:
                continue
        elif action == "accept_draft" and document is not None:
            latest = lifecycle.latest_draft(state, document)
            extra["version"] = latest.version if latest else None
        elif action == "sign" and document is not None:
            agreed = lifecycle.agreed_draft(state, document)
            extra["version"] = agreed.version if agreed else None
        items.append(InboxItem(**base, action=action, **extra))
    return items


async def inbox_items(session: AsyncSession, principal: Principal, now: datetime) -> list[InboxItem]:
    """Everything awaiting the caller now, soonest deadline first (so the overdue lead),
    then the longest untouched."""
    actor = actor_of(principal)
    ministry = principal.has_role("approver") and principal.holds_gate("ministry")
    # Admins and auditors see everything, but only their own organisation's work awaits them.
    states = await store.open_agreements(session, viewer_org=principal.org, ministry=ministry)
    items = [item for state in states if lifecycle.can_see(state, actor) for item in awaited(state, actor, now)]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    items.sort(key=lambda i: (i.due_at or far, i.updated_at))
    return items
