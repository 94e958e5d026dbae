"""Organisation settings: keyword-only data functions (the caller commits), and the
defaults they give new agreements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.db import Unit, driver_connection
from services.store.models import OrganisationSettings
from workflows import messages as m

SETTINGS = OrganisationSettings.__table__


@dataclass(frozen=True)
class OrganisationRecord:
    org: str
    time_zone: str | None
    expiry_reminder_days: list[int] | None
    days_off: list[date] | None = None


async def get_settings(session: AsyncSession, *, org: str) -> OrganisationRecord | None:
    row = (await session.execute(select(SETTINGS).where(SETTINGS.c.org == org))).first()
    if row is None:
        return None
    return OrganisationRecord(
        org=row.org, time_zone=row.time_zone, expiry_reminder_days=row.expiry_reminder_days, days_off=row.days_off
    )


async def put_settings(
    session: AsyncSession,
    *,
    org: str,
    time_zone: str | None,
    expiry_reminder_days: list[int] | None,
    updated_by: str,
    days_off: list[date] | None = None,
) -> OrganisationRecord:
    values = {
        "org": org,
        "time_zone": time_zone,
        "expiry_reminder_days": expiry_reminder_days,
        "days_off": days_off,
        "updated_by": updated_by,
    }
    statement = insert(SETTINGS).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[SETTINGS.c.org],
            set_={
                **{k: statement.excluded[k] for k in ("time_zone", "expiry_reminder_days", "days_off", "updated_by")},
                "updated_at": func.now(),
            },
        )
    )
    return OrganisationRecord(
        org=org, time_zone=time_zone, expiry_reminder_days=expiry_reminder_days, days_off=days_off
    )


async def apply_defaults(session: AsyncSession, proposal: m.Proposal) -> m.Proposal:
    """Fill what the proposal leaves unsaid from the parties' organisation settings: each
    party's time zone and its own days off, and the initiator's expiry reminder days."""
    records = await _settings_of(session, orgs=[p.org for p in proposal.parties])
    parties = []
    for party in proposal.parties:
        record = records.get(party.org)
        if record and record.time_zone and "time_zone" not in party.model_fields_set:
            party = party.model_copy(update={"time_zone": record.time_zone})
        if record and record.days_off and "days_off" not in party.model_fields_set:
            party = party.model_copy(update={"days_off": sorted(record.days_off)})
        parties.append(party)
    update: dict[str, Any] = {"parties": parties}
    lead = next(p.org for p in proposal.parties if p.role == "initiator")
    record = records.get(lead)
    if record and record.expiry_reminder_days is not None and "expiry_reminder_days" not in proposal.model_fields_set:
        update["expiry_reminder_days"] = record.expiry_reminder_days
    return proposal.model_copy(update=update)


# Every party's settings in one statement, fixed SQL on the session's connection (a
# creation's: one round trip, where a read per party and the initiator's again were three).
# The reminder days (`int[]`) and days off (`date[]`) come back as `text[]` (the days as
# ISO 8601 whatever the session's DateStyle), parsed here: asyncpg knows the codecs of
# `text[]` and `oid[]` only, and for any other array type a statement returns it first asks
# PostgreSQL's catalog — a type look-up of 9–60 ms of PostgreSQL's CPU on every new
# connection of the API's pool.
_SETTINGS_OF = """
SELECT org, time_zone, expiry_reminder_days::text[],
    CASE WHEN days_off IS NOT NULL THEN
        ARRAY(SELECT to_char(d, 'YYYY-MM-DD') FROM unnest(days_off) WITH ORDINALITY AS u(d, n) ORDER BY n)
    END
FROM organisation_settings WHERE org = ANY($1::text[])
"""


async def time_zone_of(unit: Unit, *, org: str) -> str | None:
    """`org`'s time zone, if it set one: one fixed statement, on a session or on a pooled
    asyncpg connection (the web pages' reads: `services.api.web.pages.with_zone`)."""
    driver = await driver_connection(unit)
    row = await driver.fetchrow(_SETTINGS_OF, [org])
    return row[1] if row else None


async def _settings_of(session: AsyncSession, *, orgs: list[str]) -> dict[str, OrganisationRecord]:
    driver = await driver_connection(session)
    return {row[0]: _settings_record(*row) for row in await driver.fetch(_SETTINGS_OF, sorted(set(orgs)))}


def _settings_record(
    org: str, time_zone: str | None, reminder_days: list[str] | None, days_off: list[str] | None
) -> OrganisationRecord:
    """A row of `_SETTINGS_OF`, its arrays read back from their text."""
    return OrganisationRecord(
        org=org,
        time_zone=time_zone,
        expiry_reminder_days=None if reminder_days is None else [int(day) for day in reminder_days],
        days_off=None if days_off is None else [date.fromisoformat(day) for day in days_off],
    )
