"""Keyword-only data functions of the portfolio sweep: pages of open agreements, re-projecting
a state the workflow holds, and what a digest needs (organisations, their zones, their
agreements). As in `queries`, none commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, any_, func, literal, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.audit import GENESIS
from services.store.models import Agreement, AgreementEvent, AgreementSummary, OrganisationSettings
from services.store.notification_models import Contact, InboxNotification
from services.store.queries import projection
from workflows.messages import DEFAULT_TIME_ZONE, TERMINAL_STAGES, AgreementState
from workflows.portfolio.digest import EXPIRING_DAYS, UPCOMING_DAYS

AGREEMENTS = Agreement.__table__
SUMMARIES = AgreementSummary.__table__
EVENTS = AgreementEvent.__table__
CONTACTS = Contact.__table__
INBOX = InboxNotification.__table__
ORG_SETTINGS = OrganisationSettings.__table__
OPEN = AGREEMENTS.c.stage.not_in(sorted(TERMINAL_STAGES))
MAX_DIGEST_ROWS = 5000  # an organisation with more open agreements than this gets the first ones


@dataclass(frozen=True, slots=True)
class RowVersion:
    id: str
    stage: str
    version: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class Reprojection:
    before: tuple[int, int] | None  # (last_seq, version) of the row, None when there was none
    written: bool  # False: the row was already as new (a concurrent record_events won)
    audit_seq: int  # last seq of the audit trail
    head: str


async def open_rows(
    session: AsyncSession, *, after_id: str | None, limit: int, orgs: Sequence[str] | None = None
) -> list[RowVersion]:
    """A page of open agreements (not in a terminal stage) in id order; with `orgs`, only
    those these organisations are party to."""
    a = AGREEMENTS.c
    query = select(a.id, a.stage, a.version, a.last_seq).where(OPEN).order_by(a.id).limit(limit)
    if orgs is not None:
        query = query.where(a.orgs.overlap(list(orgs)))
    if after_id is not None:
        query = query.where(a.id > after_id)
    return [RowVersion(r.id, r.stage, r.version, r.last_seq) for r in await session.execute(query)]


async def existing_ids(session: AsyncSession, *, ids: Sequence[str]) -> set[str]:
    if not ids:
        return set()
    return set(await session.scalars(select(AGREEMENTS.c.id).where(AGREEMENTS.c.id.in_(list(ids)))))


async def reproject(session: AsyncSession, *, state: AgreementState) -> Reprojection:
    """Upsert the projection of `state` (the state a workflow holds) without touching the
    audit trail: events are never invented here. The row's `head_hash` is the hash of the
    audit row at `state.seq` when the trail has it, else the trail's actual head — so a
    trail that lacks events keeps failing verification instead of being papered over.
    Never rolls a row back (same guard as `append_events`)."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(state.id))))
    before = (
        await session.execute(select(AGREEMENTS.c.last_seq, AGREEMENTS.c.version).where(AGREEMENTS.c.id == state.id))
    ).first()
    last = (
        await session.execute(
            select(EVENTS.c.seq, EVENTS.c.hash)
            .where(EVENTS.c.agreement_id == state.id, EVENTS.c.seq <= state.seq)
            .order_by(EVENTS.c.seq.desc())
            .limit(1)
        )
    ).first()
    audit_seq, head = (last.seq, last.hash) if last else (0, GENESIS)
    values = projection(state, head)
    upsert = insert(AGREEMENTS).values(values)
    stmt = upsert.on_conflict_do_update(
        index_elements=[AGREEMENTS.c.id],
        set_={name: upsert.excluded[name] for name in values if name != "id"},
        where=tuple_(AGREEMENTS.c.last_seq, AGREEMENTS.c.version)
        < tuple_(upsert.excluded.last_seq, upsert.excluded.version),
    ).returning(AGREEMENTS.c.id)
    written = (await session.execute(stmt)).first() is not None
    return Reprojection(
        before=(before.last_seq, before.version) if before else None, written=written, audit_seq=audit_seq, head=head
    )


# ---------------------------------------------------------------- digests


async def open_orgs(
    session: AsyncSession, *, after_org: str | None, limit: int, only: Sequence[str] | None = None
) -> list[str]:
    """A page of the organisations party to at least one open agreement, in order (with
    `only`, those of them in that list)."""
    org = func.unnest(AGREEMENTS.c.orgs).label("org")
    inner = select(org).where(OPEN).distinct().subquery()
    query = select(inner.c.org).order_by(inner.c.org).limit(limit)
    if only is not None:
        query = query.where(inner.c.org.in_(list(only)))
    if after_org is not None:
        query = query.where(inner.c.org > after_org)
    return list(await session.scalars(query))


async def zones_of(session: AsyncSession, *, orgs: Sequence[str]) -> dict[str, tuple[list[str], list[str], str | None]]:
    """Per organisation: the zones of its party entries in open agreements (one per entry),
    of its contacts, and the one of its organisation settings. `org_zone` picks."""
    out: dict[str, tuple[list[str], list[str], str | None]] = {o: ([], [], None) for o in orgs}
    if not orgs:
        return out
    rows = await session.execute(
        text(
            "SELECT p->>'org' AS org, coalesce(p->>'time_zone', CAST(:default_zone AS text)) AS zone "
            "FROM agreements, jsonb_array_elements(state->'parties') AS p "
            "WHERE agreements.orgs && CAST(:orgs AS text[]) AND p->>'org' = ANY(CAST(:orgs AS text[])) "
            "AND agreements.stage <> ALL(CAST(:terminal AS text[]))"
        ),
        {"orgs": list(orgs), "terminal": sorted(TERMINAL_STAGES), "default_zone": DEFAULT_TIME_ZONE},
    )
    for row in rows:
        out[row.org][0].append(row.zone)
    contacts = await session.execute(
        select(CONTACTS.c.org, CONTACTS.c.time_zone).where(
            CONTACTS.c.org.in_(list(orgs)), CONTACTS.c.time_zone.is_not(None)
        )
    )
    for row in contacts:
        out[row.org][1].append(row.time_zone)
    configured = await session.execute(
        select(ORG_SETTINGS.c.org, ORG_SETTINGS.c.time_zone).where(
            ORG_SETTINGS.c.org.in_(list(orgs)), ORG_SETTINGS.c.time_zone.is_not(None)
        )
    )
    for row in configured:
        parties, people, _ = out[row.org]
        out[row.org] = (parties, people, row.time_zone)
    return out


async def digest_states(
    session: AsyncSession, *, org: str, now: datetime, today: date, limit: int = MAX_DIGEST_ROWS
) -> list[AgreementState]:
    """The open agreements of `org` that can appear in its digest: a deadline within the
    upcoming window (or past), an open evaluation, or an end date within 90 days. The
    indexed columns narrow it; `build_digest` decides.

    The deadline order and the columns filtered are the summaries' copies (the trigger
    writes them with every write of `agreements`, in the same transaction): `agreements`
    keeps no index on `next_deadline_at`, which most transitions change, so that their
    updates stay HOT (migration 2026_12_02_0023). Only the state comes from `agreements`."""
    s, a = SUMMARIES.c, AGREEMENTS.c
    query = (
        select(a.state)
        .select_from(SUMMARIES.join(AGREEMENTS, a.id == s.id))
        .where(
            s.stage.not_in(sorted(TERMINAL_STAGES)),
            literal(org) == any_(s.orgs),
            or_(
                s.next_deadline_at < now + timedelta(days=max(UPCOMING_DAYS)),
                a.state["deadlines"].has_key("evaluation_report"),
                and_(s.stage == "implementation", s.end_date <= today + timedelta(days=EXPIRING_DAYS)),
            ),
        )
        .order_by(s.next_deadline_at.asc().nulls_last(), s.id)
        .limit(limit)
    )
    return [AgreementState.model_validate(r.state) for r in await session.execute(query)]


async def digests_delivered(session: AsyncSession, *, event_ids: Iterable[str]) -> set[str]:
    """Which of these digests are already in the inbox (delivered earlier today)."""
    wanted = list(set(event_ids))
    if not wanted:
        return set()
    return set(await session.scalars(select(INBOX.c.event_id).where(INBOX.c.event_id.in_(wanted)).distinct()))
