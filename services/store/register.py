"""The register of organisations (master data): keyword-only data functions that never
commit, the 38 provinces (`data/provinces.json`, versioned with the code) and who oversees
whom.

Oversight follows the law unless the platform says otherwise (UU 23/2014 art. 368(1);
PP 28/2018 art. 44(3); docs/reports.md): a regency or city is overseen by its province's
government (the governor), a province by the Ministry of Home Affairs. A register entry's
`overseer` overrides that default; other levels (ministries, businesses, universities …)
have an overseer only when one is set."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Literal, get_args

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.store.db import Unit, driver_connection
from services.store.models import RegisteredOrganisation
from services.store.queries import InvalidCursor
from workflows.messages import Sector, is_org_id

ORGANISATIONS = RegisteredOrganisation.__table__
PROVINCES_FILE = Path(__file__).parent / "data" / "provinces.json"

Level = Literal[
    "province",
    "regency",
    "city",
    "ministry",
    "agency",
    "foreign_government",
    "business",
    "academia",
    "community",
    "media",
]
LEVELS: tuple[str, ...] = get_args(Level)
REGIONAL_LEVELS: tuple[Level, ...] = ("province", "regency", "city")
# The pentahelix sector a party of each level takes in an agreement (`Party.sector`).
SECTOR_OF_LEVEL: dict[Level, Sector] = {
    "province": "government",
    "regency": "government",
    "city": "government",
    "ministry": "government",
    "agency": "government",
    "foreign_government": "government",
    "business": "industry",
    "academia": "academia",
    "community": "community",
    "media": "media",
}
# The columns an organisation's own administrator may change; the rest are the platform's.
SELF_KEPT = ("name_id", "name_en", "email", "phone", "website", "address")


@dataclass(frozen=True, slots=True)
class Province:
    code: str  # Kemendagri area code (kode wilayah), two digits
    name: str
    time_zone: str


@cache
def provinces() -> dict[str, Province]:
    """The 38 provinces by code, in code order."""
    data = json.loads(PROVINCES_FILE.read_text(encoding="utf-8"))
    return {p["code"]: Province(p["code"], p["name"], p["time_zone"]) for p in data["provinces"]}


def provinces_version() -> str:
    return str(json.loads(PROVINCES_FILE.read_text(encoding="utf-8"))["version"])


@dataclass(frozen=True, slots=True)
class Entry:
    """An organisation as the register holds it (`overseer`: set by the platform, or None)."""

    org: str
    name_id: str
    level: Level
    name_en: str | None = None
    foreign: bool = False
    province_code: str | None = None
    overseer: str | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    address: str | None = None
    updated_by: str = ""
    updated_at: datetime | None = None

    @property
    def province(self) -> Province | None:
        return provinces().get(self.province_code) if self.province_code else None

    @property
    def sector(self) -> Sector:
        return SECTOR_OF_LEVEL[self.level]


@dataclass(frozen=True, slots=True)
class Oversight:
    """Who oversees an organisation: `derived` when the law's default gives it, not a
    setting of the register."""

    overseer: str
    derived: bool


_COLUMNS = (
    "org",
    "name_id",
    "level",
    "name_en",
    "foreign",
    "province_code",
    "overseer",
    "email",
    "phone",
    "website",
    "address",
    "updated_by",
    "updated_at",
)


def _entry(row: object) -> Entry:
    return Entry(**{name: getattr(row, name) for name in _COLUMNS})


async def get(session: AsyncSession, *, org: str) -> Entry | None:
    row = (await session.execute(select(ORGANISATIONS).where(ORGANISATIONS.c.org == org))).first()
    return _entry(row) if row is not None else None


async def get_many(session: AsyncSession, *, orgs: Iterable[str]) -> dict[str, Entry]:
    wanted = sorted(set(orgs))
    if not wanted:
        return {}
    rows = await session.execute(select(ORGANISATIONS).where(ORGANISATIONS.c.org.in_(wanted)))
    return {row.org: _entry(row) for row in rows}


# The names of a few organisations, fixed SQL on the unit's connection: a page's one read of
# the register for the parties it names (`services.api.party_names`), on a session or on a
# pooled connection (the agreement page's read session), prepared once per connection.
_NAMES_OF = "SELECT org, name_id, name_en FROM organisations WHERE org = ANY($1::text[])"


async def names_of(unit: Unit, *, orgs: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """The register's Indonesian and English names of those of `orgs` it holds; no statement
    when `orgs` is empty."""
    wanted = sorted(set(orgs))
    if not wanted:
        return {}
    driver = await driver_connection(unit)
    return {row[0]: (row[1], row[2]) for row in await driver.fetch(_NAMES_OF, wanted)}


# What a mail names an organisation by (`services.notifying.names`): for each (agreement,
# organisation) it names, the name the agreement recorded for that party (none when the
# agreement has no such party: a digest, an organisation no longer a party) and the
# register's names. One statement for a claim's mails, off the transition's path.
_MAIL_NAMES = """
SELECT w.agreement_id, w.org, recorded.name, o.name_id, o.name_en
FROM unnest($1::text[], $2::text[]) AS w(agreement_id, org)
LEFT JOIN organisations AS o ON o.org = w.org
LEFT JOIN LATERAL (
    SELECT p->>'name' AS name
    FROM agreements AS a, jsonb_array_elements(a.state->'parties') AS p
    WHERE a.id = w.agreement_id AND p->>'org' = w.org
    LIMIT 1
) AS recorded ON true
"""

MailName = tuple[str | None, str | None, str | None]  # recorded, the register's Indonesian, its English


async def mail_names(unit: Unit, *, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], MailName]:
    """For each (agreement id, organisation) of `pairs`: the party's name as the agreement
    recorded it, and the register's Indonesian and English names (None where there is
    none). Every pair asked is answered; no statement when `pairs` is empty."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    driver = await driver_connection(unit)
    rows = await driver.fetch(_MAIL_NAMES, [a for a, _ in wanted], [o for _, o in wanted])
    return {(row[0], row[1]): (row[2], row[3], row[4]) for row in rows}


class ProvinceTaken(ValueError):
    """Another organisation is already registered as this province's government."""

    def __init__(self, province_code: str, org: str) -> None:
        super().__init__(f"{org} is already registered as the government of province {province_code}.")
        self.org = org


async def put(session: AsyncSession, *, entry: Entry, updated_by: str) -> Entry:
    """Register `entry` or replace what the register holds for its organisation. A second
    government for one province raises `ProvinceTaken` (the unique index would otherwise)."""
    if entry.level == "province" and entry.province_code is not None:
        holder = await province_government(session, province_code=entry.province_code)
        if holder is not None and holder != entry.org:
            raise ProvinceTaken(entry.province_code, holder)
    values = {name: getattr(entry, name) for name in _COLUMNS if name not in ("updated_at", "updated_by")}
    statement = insert(ORGANISATIONS).values(**values, updated_by=updated_by)
    changed = {name: statement.excluded[name] for name in values if name != "org"}
    row = (
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[ORGANISATIONS.c.org],
                set_={**changed, "updated_by": statement.excluded.updated_by, "updated_at": func.now()},
            ).returning(*ORGANISATIONS.c)
        )
    ).one()
    return _entry(row)


async def add_if_absent(session: AsyncSession, *, entry: Entry, updated_by: str) -> bool:
    """Register `entry` unless its organisation (or its province's government) is already
    registered: what someone changed since stays as they left it. True if added."""
    values = {name: getattr(entry, name) for name in _COLUMNS if name not in ("updated_at", "updated_by")}
    result = await session.execute(
        insert(ORGANISATIONS)
        .values(**values, updated_by=updated_by)
        .on_conflict_do_nothing()
        .returning(ORGANISATIONS.c.org)
    )
    return result.first() is not None


async def province_government(session: AsyncSession, *, province_code: str) -> str | None:
    """The organisation registered as the government of a province, if any."""
    o = ORGANISATIONS.c
    query = select(o.org).where(o.level == "province", o.province_code == province_code)
    return (await session.execute(query)).scalar_one_or_none()


def derived_overseer(entry: Entry, *, province_governments: dict[str, str], ministry_org: str) -> str | None:
    """The law's default overseer of `entry`, given the registered province governments
    (code → org) and the Ministry of Home Affairs' organisation."""
    if entry.level in ("regency", "city") and entry.province_code:
        return province_governments.get(entry.province_code)
    if entry.level == "province":
        return ministry_org
    return None


async def oversight_of(session: AsyncSession, *, entries: Sequence[Entry], ministry_org: str) -> dict[str, Oversight]:
    """Who oversees each of `entries`: its set overseer, else the derived one. Organisations
    with neither are left out."""
    codes = {e.province_code for e in entries if e.overseer is None and e.level in ("regency", "city")}
    governments: dict[str, str] = {}
    if codes:
        o = ORGANISATIONS.c
        rows = await session.execute(
            select(o.province_code, o.org).where(
                o.level == "province", o.province_code.in_(sorted(c for c in codes if c))
            )
        )
        governments = {row.province_code: row.org for row in rows}
    found: dict[str, Oversight] = {}
    for entry in entries:
        if entry.overseer is not None:
            found[entry.org] = Oversight(entry.overseer, derived=False)
            continue
        derived = derived_overseer(entry, province_governments=governments, ministry_org=ministry_org)
        if derived is not None and derived != entry.org:
            found[entry.org] = Oversight(derived, derived=True)
    return found


async def overseer_of(session: AsyncSession, *, org: str, ministry_org: str) -> Oversight | None:
    entry = await get(session, org=org)
    if entry is None:
        return None
    return (await oversight_of(session, entries=[entry], ministry_org=ministry_org)).get(org)


def _overseen_by(overseer: Entry | None, org: str, ministry_org: str) -> ColumnElement[bool]:
    """Rows overseen by `org` (whose register entry is `overseer`, if any): set to it, or
    derived to it by the default."""
    o = ORGANISATIONS.c
    clauses: list[ColumnElement[bool]] = [o.overseer == org]
    if overseer is not None and overseer.level == "province" and overseer.province_code:
        clauses.append(
            o.overseer.is_(None) & o.level.in_(("regency", "city")) & (o.province_code == overseer.province_code)
        )
    if org == ministry_org:
        clauses.append(o.overseer.is_(None) & (o.level == "province"))
    return or_(*clauses)


async def overseen_by(session: AsyncSession, *, org: str, ministry_org: str, limit: int = 2000) -> list[Entry]:
    """The organisations `org` oversees (set or derived), by id."""
    condition = _overseen_by(await get(session, org=org), org, ministry_org)
    rows = await session.execute(
        select(ORGANISATIONS).where(condition, ORGANISATIONS.c.org != org).order_by(ORGANISATIONS.c.org).limit(limit)
    )
    return [_entry(row) for row in rows]


@dataclass(frozen=True)
class RegisterFilters:
    level: Level | None = None
    province_code: str | None = None
    overseer: str | None = None  # overseen by this organisation, set or derived
    q: str | None = None  # in the id or either name


async def list_page(
    session: AsyncSession, *, filters: RegisterFilters, ministry_org: str, limit: int, cursor: str | None
) -> tuple[list[Entry], str | None]:
    """A page of the register in id order, and the cursor of the next page (None: the
    last). A cursor not from here raises `InvalidCursor`."""
    o = ORGANISATIONS.c
    query = select(ORGANISATIONS).order_by(o.org).limit(limit + 1)
    if filters.level is not None:
        query = query.where(o.level == filters.level)
    if filters.province_code is not None:
        query = query.where(o.province_code == filters.province_code)
    if filters.overseer is not None:
        overseer = await get(session, org=filters.overseer)
        query = query.where(_overseen_by(overseer, filters.overseer, ministry_org), o.org != filters.overseer)
    if filters.q:
        pattern = "%" + filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(o.org.ilike(pattern), o.name_id.ilike(pattern), func.coalesce(o.name_en, "").ilike(pattern))
        )
    if cursor is not None:
        query = query.where(o.org > decode_cursor(cursor))
    rows = [_entry(row) for row in await session.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].org) if more else None


def encode_cursor(last_org: str) -> str:
    return base64.urlsafe_b64encode(f"org:{last_org}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor("The cursor is not one this API returned.") from error
    last = raw.removeprefix("org:")
    # Only an organisation id comes back from `encode_cursor`: anything else (a NUL, which
    # PostgreSQL refuses in text, was a 500) is no cursor of ours.
    if not raw.startswith("org:") or not is_org_id(last):
        raise InvalidCursor("The cursor is not one this API returned.")
    return last


async def province_of(session: AsyncSession, *, orgs: Iterable[str]) -> dict[str, Province]:
    """The province each of `orgs` is in, for those the register places in one (for the
    portal's table per province). Organisations not registered, or in no province, are
    left out."""
    wanted = sorted(set(orgs))
    if not wanted:
        return {}
    o = ORGANISATIONS.c
    rows = await session.execute(select(o.org, o.province_code).where(o.org.in_(wanted), o.province_code.is_not(None)))
    table = provinces()
    return {row.org: table[row.province_code] for row in rows if row.province_code in table}
