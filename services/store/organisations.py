"""Organisation settings: keyword-only data functions; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.models import OrganisationSettings

SETTINGS = OrganisationSettings.__table__


@dataclass(frozen=True)
class OrganisationRecord:
    org: str
    time_zone: str | None
    expiry_reminder_days: list[int] | None


async def get_settings(session: AsyncSession, *, org: str) -> OrganisationRecord | None:
    row = (await session.execute(select(SETTINGS).where(SETTINGS.c.org == org))).first()
    if row is None:
        return None
    return OrganisationRecord(org=row.org, time_zone=row.time_zone, expiry_reminder_days=row.expiry_reminder_days)


async def put_settings(session: AsyncSession, *, org: str, time_zone: str | None,
                       expiry_reminder_days: list[int] | None, updated_by: str) -> OrganisationRecord:
    values = {"org": org, "time_zone": time_zone, "expiry_reminder_days": expiry_reminder_days,
              "updated_by": updated_by}
    statement = insert(SETTINGS).values(**values)
    await session.execute(statement.on_conflict_do_update(
        index_elements=[SETTINGS.c.org],
        set_={**{k: statement.excluded[k] for k in ("time_zone", "expiry_reminder_days", "updated_by")},
              "updated_at": func.now()}))
    return OrganisationRecord(org=org, time_zone=time_zone, expiry_reminder_days=expiry_reminder_days)
