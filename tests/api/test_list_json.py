"""`GET /agreements` answers with JSON PostgreSQL writes (`queries.LISTING_JSON`), not with a
pydantic dump of each row: the two must not drift. Each test writes rows with hostile text,
timestamps with and without microseconds and empty optional fields, and compares, byte for
byte, the page PostgreSQL writes with pydantic's dump of the `AgreementPage` of the same rows."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pydantic_core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bench.readmodel import load_agreements
from services.api.agreements_read import AgreementFilters, AgreementSummary, list_visible, list_visible_json
from services.auth import Principal
from services.store import queries
from services.store.db import driver_connection

HOSTILE_TITLES = [
    'quotes " and \\ backslashes \\" mixed',
    "control \x01\x02\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f and delete \x7f",
    "emoji 🇮🇩🤝🏽 and a zero-width joiner 👩\u200d💻",
    "RTL \u202eكتابة من اليمين\u202c and marks \u200f\u200e",
    "line and paragraph separators \u2028\u2029, a BOM \ufeff, a non-character \uffff",
    "combining e\u0301 and </script><script>alert(1)</script>",
    "long " + "Kerja sama daerah 🌏 " * 60,
]
# (next_deadline_at, updated_at): no microseconds, one, some; pydantic writes ".ffffff" only when not zero.
MOMENTS = [
    (None, datetime(2027, 6, 1, 8, 0, 0, tzinfo=UTC)),
    (datetime(2027, 7, 1, 23, 59, 59, 1, tzinfo=UTC), datetime(2027, 5, 31, 8, 0, 0, 120000, tzinfo=UTC)),
    (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2027, 5, 30, 8, 0, 0, 999999, tzinfo=UTC)),
    (datetime(1, 1, 1, tzinfo=UTC), datetime(2027, 5, 29, 0, 0, 0, 500, tzinfo=UTC)),
    (datetime.max.replace(tzinfo=UTC), datetime(2027, 5, 28, 0, 0, 0, 500, tzinfo=UTC)),  # asyncpg: infinity
]


async def _hostile_rows(sessionmaker, orgs) -> list[str]:
    prefix = f"json-{uuid.uuid4().hex[:8]}"
    loaded = await load_agreements(sessionmaker, len(HOSTILE_TITLES), list(orgs), id_prefix=prefix)
    ids = [a.id for a in loaded]
    async with sessionmaker() as session, session.begin():
        for n, (agreement_id, title) in enumerate(zip(ids, HOSTILE_TITLES, strict=True)):
            deadline, updated = MOMENTS[n % len(MOMENTS)]
            await session.execute(
                text(
                    "UPDATE agreement_summaries SET title = :title, next_deadline_at = :deadline,"
                    " updated_at = :updated, end_date = :end_date, step_key = :step_key, health = :health,"
                    " version = :version WHERE id = :id"
                ),
                {
                    "id": agreement_id,
                    "title": title,
                    "deadline": deadline,
                    "updated": updated - timedelta(days=n // len(MOMENTS)),
                    "end_date": [None, date.max, date.min, date(2028, 2, 29), date(9999, 12, 30)][n % 5],  # infinities
                    "step_key": None if n % 3 == 0 else "step \"'\\ 🤝",
                    "health": [None, "on_track", "at_risk"][n % 3],
                    "version": 2**31 - 1 if n == 0 else n,
                },
            )
    return ids


async def test_each_listed_agreements_json_is_what_pydantic_writes_of_its_row(sessionmaker, orgs):
    ids = await _hostile_rows(sessionmaker, orgs)
    async with sessionmaker() as session:
        rows, cursor = await queries.list_agreements(session, viewer_orgs=[orgs[0]], limit=50)
        as_json, json_cursor = await queries.list_agreements_as_json(session, viewer_orgs=[orgs[0]], limit=50)
    assert sorted(r.id for r in rows) == sorted(ids) and cursor is None
    assert [(r.id, r.updated_at, r.party_orgs) for r in as_json] == [(r.id, r.updated_at, r.party_orgs) for r in rows]
    assert json_cursor is None
    for row, written in zip(rows, as_json, strict=True):
        assert written.json == AgreementSummary.model_validate(row, from_attributes=True).model_dump_json()
    assert {json.loads(w.json)["title"] for w in as_json} == set(HOSTILE_TITLES)


async def test_a_listed_row_is_asyncpgs_own_record_its_columns_read_by_name_with_nothing_built_per_row(
    sessionmaker, orgs
):
    # The page's rows are the records asyncpg makes (`record_class`): no object of ours is
    # built per row, and each field read by name is the column in its place.
    await _hostile_rows(sessionmaker, orgs)
    async with sessionmaker() as session:
        for viewer in ([orgs[0]], None):
            as_json, _ = await queries.list_agreements_as_json(session, viewer_orgs=viewer, limit=50)
            assert as_json
            for row in as_json:
                assert type(row) is queries.ListedJson and isinstance(row, asyncpg.Record)
                assert (row.id, row.updated_at, row.party_orgs, row.json) == tuple(row)
                assert (row.party_orgs is None) == (viewer is None)
    assert "__init__" not in vars(queries.ListedJson) and "__new__" not in vars(queries.ListedJson)


@pytest.mark.parametrize(
    ("role", "party", "filters"),
    [
        ("auditor", None, AgreementFilters()),
        ("staff", 0, AgreementFilters()),
        ("staff", 1, AgreementFilters(q="kerja")),
    ],
    ids=["an auditor", "a region's staff", "a region's staff searching"],
)
async def test_a_list_page_written_by_postgresql_is_what_pydantic_dumps_of_the_same_page(
    sessionmaker, orgs, role, party, filters
):
    await _hostile_rows(sessionmaker, orgs)
    principal = Principal(sub=role, org="bpk" if party is None else orgs[party], roles=[role])
    cursor = None
    for _ in range(3):  # three pages of three, the cursor as each gives it
        async with sessionmaker() as session:
            page = await list_visible(session, principal, filters, limit=3, cursor=cursor)
            written = await list_visible_json(session, principal, filters, limit=3, cursor=cursor)
        assert page.items and written == page.model_dump_json().encode()
        cursor = page.next_cursor


async def test_a_title_with_a_nul_never_reaches_the_list(sessionmaker, orgs):
    [agreement_id] = [a.id for a in await load_agreements(sessionmaker, 1, list(orgs), id_prefix=uuid.uuid4().hex)]
    with pytest.raises(DBAPIError, match="0x00"):
        async with sessionmaker() as session, session.begin():
            await session.execute(
                text("UPDATE agreement_summaries SET title = :title WHERE id = :id"),
                {"id": agreement_id, "title": "nul \x00 inside"},
            )


async def test_postgresql_writes_every_storable_code_point_in_a_text_as_pydantic_does(sessionmaker):
    # The list's text fields are written by `to_json(text)`: each character PostgreSQL can
    # store (all but NUL and the surrogates), in runs, written as pydantic writes it.
    storable = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    async with sessionmaker() as session:
        driver = await driver_connection(session)
        for start in range(0, len(storable), 20_000):
            run = "".join(storable[start : start + 20_000])
            assert await driver.fetchval("SELECT to_json($1::text)::text", run) == pydantic_core.to_json(run).decode()


@pytest.mark.parametrize(
    "setting",
    [
        "SET LOCAL TimeZone = 'Pacific/Kiritimati'",
        "SET LOCAL TimeZone = '-12:30'",
        "SET LOCAL DateStyle = 'SQL, DMY'",
        "SET LOCAL DateStyle = 'German'",
        "SET LOCAL lc_time = 'C'",
        "SET LOCAL extra_float_digits = -15",
    ],
)
async def test_a_listed_agreements_json_is_the_same_whatever_the_sessions_time_zone_or_date_style(
    sessionmaker, orgs, setting
):
    # A server configured otherwise (a region's own time zone, say) must not change the JSON
    # (SET LOCAL: the pooled connection goes back as it was).
    ids = await _hostile_rows(sessionmaker, orgs)
    async with sessionmaker() as session:
        rows, _ = await queries.list_agreements(session, viewer_orgs=[orgs[0]], limit=50)
        await session.execute(text(setting))
        as_json, _ = await queries.list_agreements_as_json(session, viewer_orgs=[orgs[0]], limit=50)
    assert {r.id for r in as_json} >= set(ids)
    for row, written in zip(rows, as_json, strict=True):
        assert written.json == AgreementSummary.model_validate(row, from_attributes=True).model_dump_json()
