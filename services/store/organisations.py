"""Organisation settings: keyword-only data functions (the caller commits), and the
defaults they give new agreements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import case, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.db import Unit, driver_connection
from services.store.models import OrganisationSettings
from workflows import messages as m

SETTINGS = OrganisationSettings.__table__
# The least step between two versions of an organisation's settings (timestamptz's resolution).
_TICK = timedelta(microseconds=1)


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
                # The settings' version, which the agreements compare (`RefreshPartySettings.as_of`):
                # the clock when the row's lock is held, not the transaction's start (`now()`),
                # so a change that commits after another is never older than it — and never
                # before the version it replaces: a clock stepped back (an NTP correction, a
                # failover to a server whose clock lags) would otherwise stamp the newer
                # settings older than those the agreements took, and each push of them would
                # be refused as superseded until some later change.
                # Only when what the agreements take (the zone, the days off) changes: the
                # change's prompt sends a newer version even to a party whose values agree
                # (`_STALE_OF_ORG`), so a form saved unchanged, or with other reminder days
                # only, would otherwise cost every open agreement an event.
                "updated_at": case(
                    (
                        tuple_(SETTINGS.c.time_zone, SETTINGS.c.days_off).is_distinct_from(
                            tuple_(statement.excluded.time_zone, statement.excluded.days_off)
                        ),
                        func.greatest(func.clock_timestamp(), SETTINGS.c.updated_at + _TICK),
                    ),
                    else_=SETTINGS.c.updated_at,
                ),
            },
        )
    )
    return OrganisationRecord(
        org=org, time_zone=time_zone, expiry_reminder_days=expiry_reminder_days, days_off=days_off
    )


# What a proposal may leave to its parties' settings: taken from them only when left out, so a
# value given — its default or not — says "this, not the settings" (a fingerprint of what was
# sent keeps these fields when they were given: `services.api.commands.sent_fingerprint`).
PARTY_SETTINGS = ("time_zone", "days_off")
PROPOSAL_SETTINGS = ("expiry_reminder_days",)


async def apply_defaults(session: AsyncSession, proposal: m.Proposal) -> m.Proposal:
    """Fill what the proposal leaves unsaid from the parties' organisation settings and the
    register: each party's name (its official name in the register, so pages and the portal
    read "Pemerintah Provinsi Jawa Barat", not `jabar`), time zone and own days off, and the
    initiator's expiry reminder days. One round trip (`_DEFAULTS_OF`)."""
    records, names = await _defaults_of(session, orgs=[p.org for p in proposal.parties])
    parties = []
    for party in proposal.parties:
        record = records.get(party.org)
        if party.name is None and (name := _party_name(names.get(party.org))) is not None:
            party = party.model_copy(update={"name": name})
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


_PARTY_NAME = TypeAdapter(m.ShortText)


def _party_name(registered: str | None) -> str | None:
    """The register's name as a party's name — validated as the proposal's own would be, since
    the workflow validates its input again: a register name the party model would refuse
    (the register's bounds are its own) is left out, the page then shows the id, rather than
    a proposal its workflow could not read."""
    if registered is None:
        return None
    try:
        return _PARTY_NAME.validate_python(registered)
    except ValidationError:
        return None


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
# The settings of `_SETTINGS_OF` and the register's name of each of a proposal's parties.
_DEFAULTS_OF = """
SELECT o.org, s.org, s.time_zone, s.expiry_reminder_days::text[],
    CASE WHEN s.days_off IS NOT NULL THEN
        ARRAY(SELECT to_char(d, 'YYYY-MM-DD') FROM unnest(s.days_off) WITH ORDINALITY AS u(d, n) ORDER BY n)
    END,
    r.name_id
FROM unnest($1::text[]) AS o(org)
LEFT JOIN organisation_settings s ON s.org = o.org
LEFT JOIN organisations r ON r.org = o.org
"""


# A page's reader's organisation: its time zone (the pages' default zone) and the register's
# names (the pages' header and headings name it), in the one statement the zone took alone.
_READER_OF = """
SELECT s.time_zone, r.name_id, r.name_en
FROM (VALUES ($1::text)) AS o(org)
LEFT JOIN organisation_settings AS s ON s.org = o.org
LEFT JOIN organisations AS r ON r.org = o.org
"""


async def reader_of(unit: Unit, *, org: str) -> tuple[str | None, str | None, str | None]:
    """`org`'s time zone, if it set one, and its register names (Indonesian, English), if
    registered: one fixed statement, on a session or on a pooled asyncpg connection (the web
    pages' reads: `services.api.web.pages.with_zone`)."""
    driver = await driver_connection(unit)
    row = await driver.fetchrow(_READER_OF, org)
    return (row[0], row[1], row[2]) if row else (None, None, None)


async def _settings_of(session: AsyncSession, *, orgs: list[str]) -> dict[str, OrganisationRecord]:
    return (await _defaults_of(session, orgs=orgs))[0]


async def _defaults_of(
    session: AsyncSession, *, orgs: list[str]
) -> tuple[dict[str, OrganisationRecord], dict[str, str]]:
    """The settings of those of `orgs` that have them, and the register's names of those in it."""
    driver = await driver_connection(session)
    rows = await driver.fetch(_DEFAULTS_OF, sorted(set(orgs)))
    records = {row[0]: _settings_record(*row[1:5]) for row in rows if row[1] is not None}
    names = {row[0]: row[5] for row in rows if row[5] is not None}
    return records, names


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


# ---------------------------------------------------------------- settings reaching agreements

# The parties of open agreements whose days off or time zone differ from what their
# organisation's settings state (a setting left unstated — NULL — is not compared: the party
# keeps what it has). Days are compared as sets of ISO dates, the state's JSON form; the
# settings' days come back as `text[]` (see `_SETTINGS_OF`). `{older}`: also those whose
# values agree but whose version of them is older than the register's, or none.
_STALE = """
SELECT a.id, s.org, s.time_zone, s.updated_at,
    CASE WHEN s.days_off IS NOT NULL THEN
        ARRAY(SELECT DISTINCT to_char(d, 'YYYY-MM-DD') FROM unnest(s.days_off) AS u(d) ORDER BY 1)
    END AS days_off,
    compared.differs
FROM agreements a
CROSS JOIN LATERAL jsonb_array_elements(a.state->'parties') AS p(party)
JOIN organisation_settings s ON s.org = p.party->>'org'
CROSS JOIN LATERAL (SELECT (
    (s.time_zone IS NOT NULL AND s.time_zone IS DISTINCT FROM p.party->>'time_zone')
    OR (s.days_off IS NOT NULL AND
        ARRAY(SELECT DISTINCT to_char(d, 'YYYY-MM-DD') FROM unnest(s.days_off) AS u(d) ORDER BY 1)
        IS DISTINCT FROM
        ARRAY(SELECT DISTINCT x FROM jsonb_array_elements_text(coalesce(p.party->'days_off', '[]')) AS v(x) ORDER BY 1))
) AS differs) AS compared
WHERE a.stage <> ALL(CAST(:terminal AS text[])) AND {scope}
AND (compared.differs{older})
ORDER BY a.id, s.org
"""
# The party's version of its settings is older than the register's (or it has none).
_OLDER = " OR coalesce(CAST(a.state->'party_settings_as_of'->>s.org AS timestamptz) < s.updated_at, true)"
# One organisation's agreements, a page after the last one done (`orgs` is indexed): the
# prompt of a change, which also sends the register's version to a party whose values agree
# but whose version is older — the register went A → B → A, and a sender that read B may still
# be on its way (`handlers.party_settings`). The night compares the values only: the prompt of
# the change sent the version, and comparing versions there would send every agreement that
# never took one an event on the first night.
_STALE_OF_ORG = (
    _STALE.format(scope="a.orgs && CAST(:orgs AS text[]) AND s.org = :org AND a.id > :after", older=_OLDER)
    + "LIMIT :limit"
)
# The agreements of a page of the reconciliation, every organisation with settings.
_STALE_OF_IDS = _STALE.format(scope="a.id = ANY(CAST(:ids AS text[]))", older="")


@dataclass(frozen=True)
class StaleParty:
    """An open agreement whose party `command.org` differs from its organisation's settings,
    and the command that brings them."""

    agreement_id: str
    command: m.RefreshPartySettings
    # False: the values agree, only the party's version is older than the register's (the
    # prompt's `_OLDER`); sent, it records the version alone.
    differs: bool = True


def _sendable_zone(zone: str | None) -> str | None:
    try:
        return None if zone is None else m.known_time_zone(zone)
    except m.UnknownTimeZone:
        return None


def _stale(rows: Any) -> list[StaleParty]:
    # A settings zone the pinned zone data does not know (a later tzdata release dropped it,
    # or an older Pakta took it from the host's zone files) is not sent: the command checks
    # its zone, and one that did not validate failed the whole page — the night's
    # reconciliation of every agreement on it — on every try. The party keeps its own zone;
    # the days off still go.
    return [
        StaleParty(
            row.id,
            m.RefreshPartySettings(
                org=row.org,
                time_zone=_sendable_zone(row.time_zone),
                days_off=None if row.days_off is None else [date.fromisoformat(day) for day in row.days_off],
                as_of=row.updated_at,
                recount=True,
            ),
            row.differs,
        )
        for row in rows
    ]


async def stale_parties_of_org(
    session: AsyncSession, *, org: str, after_id: str | None, limit: int
) -> list[StaleParty]:
    """Up to `limit` open agreements, after `after_id` in id order, whose party `org` differs
    from `org`'s settings (none when it has no settings)."""
    params = {"terminal": sorted(m.TERMINAL_STAGES), "orgs": [org], "org": org, "after": after_id or "", "limit": limit}
    return _stale(await session.execute(text(_STALE_OF_ORG), params))


async def stale_parties_of(session: AsyncSession, *, ids: list[str]) -> list[StaleParty]:
    """Of the agreements `ids`, the open ones' parties that differ from their settings."""
    if not ids:
        return []
    return _stale(await session.execute(text(_STALE_OF_IDS), {"terminal": sorted(m.TERMINAL_STAGES), "ids": ids}))
