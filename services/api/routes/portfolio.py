"""`GET /portfolio/digest`: what the portfolio sweep would tell an organisation now —
overdue items, deadlines in the next 7 and 14 days, agreements ending within 90 days,
evaluations awaiting the organisation's report — computed from the read model exactly as
the sweep computes it (`workflows.portfolio.digest`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from services.api.deps import PrincipalDep, SessionDep, SettingsDep
from services.errors import Forbidden
from services.store import portfolio as store
from workflows.messages import OrgId
from workflows.portfolio import digest as d

router = APIRouter(prefix="/portfolio", tags=["portfolio"])


class DigestView(d.Digest):
    next_digest_at: datetime  # when the sweep next sends it (08:00 in the organisation's zone)
    delivered_today: bool  # today's digest has already gone out


@router.get(
    "/digest",
    response_model=DigestView,
    summary="The digest of an organisation's agreements as the daily sweep would send it now",
)
async def get_digest(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    org: Annotated[
        OrgId | None, Query(description="Auditors and operators: any organisation; staff and admins: their own")
    ] = None,
) -> DigestView:
    if not principal.has_role("staff", "auditor", "admin", "operator"):
        raise Forbidden("The portfolio digest is for staff, administrators, auditors and operators.")
    wanted = org or principal.org
    if wanted != principal.org and not principal.has_role("auditor", "operator"):
        raise Forbidden("Staff and administrators see the digest of their own organisation only.")
    now = datetime.now(UTC)
    zones = (await store.zones_of(session, orgs=[wanted]))[wanted]
    zone = d.org_zone(wanted, *zones)
    digest = d.build_digest(
        wanted,
        await store.digest_states(session, org=wanted, now=now, today=now.astimezone(ZoneInfo(zone)).date()),
        now,
        zone,
    )
    delivered = digest.event_id in await store.digests_delivered(session, event_ids=[digest.event_id])
    return DigestView(
        **digest.model_dump(),
        delivered_today=delivered,
        next_digest_at=d.next_send(now, zone, hour=settings.digest_hour),
    )
