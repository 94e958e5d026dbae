"""Reading agreements for a caller: one agreement's recorded state, if the caller may see
it, and the list of those they may see (`GET /agreements`, the web pages' lists, CSV and
dashboard): the read model selects, the decider's `can_see` decides."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol, TypeVar

from pydantic import BaseModel

from services.api import commands, known_parties
from services.auth import Principal
from services.errors import NotFound, Unprocessable
from services.store import queries
from services.store.db import Unit
from workflows import lifecycle
from workflows import messages as m


async def load_visible(
    session: Unit, agreement_id: str, principal: Principal, *, actor: m.Actor | None = None
) -> m.AgreementState:
    """The agreement's recorded state, or 404 when it is unknown or not the caller's to see
    (an outsider cannot tell the two apart). `actor`: the principal's, when the caller has
    built it already (`commands.actor_of`)."""
    return (await load_visible_record(session, agreement_id, principal, actor=actor)).state


async def load_visible_record(
    session: Unit, agreement_id: str, principal: Principal, *, actor: m.Actor | None = None
) -> queries.AgreementRecord:
    """`load_visible`, with the row's projection beside the state (its audit-trail head)."""
    record = await known_parties.read_row(session, agreement_id)
    if record is None:
        raise NotFound("Agreement not found.", agreement_id=agreement_id)
    if not lifecycle.can_see(record.state, actor if actor is not None else commands.actor_of(principal)):
        raise NotFound("Agreement not found.", agreement_id=agreement_id)
    return record


class AgreementSummary(BaseModel):
    id: str
    title: str
    kind: str
    stage: str
    step_key: str | None
    version: int
    initiator_org: str
    orgs: list[str]
    sector: str
    start_date: date
    end_date: date | None
    next_deadline_at: datetime | None
    updated_at: datetime
    health: m.Health | None = None  # as of the last recorded event; the snapshot says it now (#13)


class AgreementPage(BaseModel):
    items: list[AgreementSummary]
    next_cursor: str | None


@dataclass(frozen=True)
class AgreementFilters:
    """The filters of `GET /agreements`: stage, kind, a party's organisation, text, only
    those with a passed deadline, only those ending within so many days."""

    stage: m.Stage | None = None
    kind: m.Kind | None = None
    org: str | None = None
    q: str | None = None
    overdue: bool = False
    expiring_within_days: int | None = None
    health: m.Health | None = None


async def list_visible(
    session: Unit, principal: Principal, filters: AgreementFilters, *, limit: int, cursor: str | None
) -> AgreementPage:
    """One page of the agreements the caller may see that match `filters`; 422 for a cursor
    that is not one this listing gave."""
    rows, next_cursor = await _visible_rows(queries.list_agreements, session, principal, filters, limit, cursor)
    # One pass of pydantic-core over the whole page.
    return AgreementPage.model_validate({"items": rows, "next_cursor": next_cursor}, from_attributes=True)


async def list_visible_json(
    session: Unit, principal: Principal, filters: AgreementFilters, *, limit: int, cursor: str | None
) -> bytes:
    """`list_visible` as the API answers it: the `AgreementPage` as JSON, its items written
    by PostgreSQL (`queries.LISTING_JSON`, byte for byte pydantic's dump of the same rows)
    and put together here — no record, model or serialising per row in the API."""
    rows, next_cursor = await _visible_rows(queries.list_agreements_as_json, session, principal, filters, limit, cursor)
    items = ",".join([r.json for r in rows])  # a list, not a generator resumed per row
    return f'{{"items":[{items}],"next_cursor":{json.dumps(next_cursor)}}}'.encode()


class _Listed(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def party_orgs(self) -> list[str] | None: ...


Row = TypeVar("Row", bound=_Listed)


async def _visible_rows(
    listing: Callable[..., Awaitable[tuple[list[Row], str | None]]],
    session: Unit,
    principal: Principal,
    filters: AgreementFilters,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row], str | None]:
    actor = commands.actor_of(principal)
    sees_all = lifecycle.sees_every_agreement(actor)
    now = commands.now_utc()
    # Ministry approvers' rows are pre-selected by the projected flag; `can_see` below decides.
    ministry = principal.has_role("approver") and principal.holds_gate("ministry")
    days = filters.expiring_within_days
    try:
        rows, next_cursor = await listing(
            session,
            viewer_orgs=None if sees_all else [principal.org],
            include_ministry_visible=ministry,
            stage=filters.stage,
            kind=filters.kind,
            org=filters.org,
            q=filters.q,
            deadline_before=now if filters.overdue else None,
            end_date_before=now.date() + timedelta(days=days) if days is not None else None,
            health=filters.health,
            limit=limit,
            cursor=cursor,
        )
    except ValueError as error:
        raise Unprocessable(str(error), code="invalid_cursor") from None
    # The `orgs` column selects; the recorded state decides (a row edited by hand to add an
    # organisation shows it nothing). A page reads only the parties its states name; the
    # rows that leaves in doubt (a ministry approver's) go to `can_see` with their state.
    # (A caller who sees every agreement is given no parties: none is in doubt.)
    seen = lifecycle.seen_without_the_ministry_gate(actor, [r.party_orgs for r in rows])
    doubtful = {r.id for r, sure in zip(rows, seen, strict=True) if not sure}
    begun = known_parties.KNOWN_PARTIES.moment()
    states = await queries.agreement_states(session, ids=sorted(doubtful))
    for agreement_id, state in states.items():  # rows read: their parties kept as `read_row` keeps them
        orgs = lifecycle.party_orgs(state)
        known_parties.KNOWN_PARTIES.note(agreement_id, orgs, version=state.version, read_at=begun)
    visible = [r for r in rows if r.id not in doubtful or (r.id in states and lifecycle.can_see(states[r.id], actor))]
    return visible, next_cursor
