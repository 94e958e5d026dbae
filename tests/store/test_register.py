"""The register of organisations against the real PostgreSQL: entries kept and replaced,
who oversees whom (derived from level and province, or set), one government per province,
lists with filters and pages, and the province of organisations for the portal."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from services import demo
from services.store import register
from services.store.db import session_scope
from services.store.queries import InvalidCursor
from services.store.register import Entry, Oversight, RegisterFilters
from tests.provinces import unused_province

MINISTRY = "kemendagri"


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def put(sessionmaker, *entries: Entry) -> None:
    async with session_scope(sessionmaker) as session:
        for entry in entries:
            await register.put(session, entry=entry, updated_by="operator@pakta")


def region(code: str, t: str) -> tuple[Entry, Entry, Entry]:
    """A province's government, one of its regencies and one of its cities."""
    return (
        Entry(org=f"prov-{t}", name_id=f"Pemerintah Provinsi {t}", level="province", province_code=code),
        Entry(org=f"kab-{t}", name_id=f"Pemerintah Kabupaten {t}", level="regency", province_code=code),
        Entry(org=f"kota-{t}", name_id=f"Pemerintah Kota {t}", level="city", province_code=code),
    )


def test_the_38_provinces_ship_with_their_codes_names_and_zones():
    table = register.provinces()
    assert len(table) == 38 and len({p.name for p in table.values()}) == 38
    assert table["32"].name == "Jawa Barat" and table["32"].time_zone == "Asia/Jakarta"
    assert table["51"].time_zone == "Asia/Makassar" and table["96"].name == "Papua Barat Daya"
    assert all(len(code) == 2 and code.isdigit() for code in table)


async def test_a_regency_is_overseen_by_its_provinces_government_and_a_province_by_the_ministry(sessionmaker):
    t = tag()
    province, regency, city = region(unused_province(), t)
    await put(sessionmaker, province, regency, city)
    async with sessionmaker() as session:
        entries = list((await register.get_many(session, orgs=[province.org, regency.org, city.org])).values())
        found = await register.oversight_of(session, entries=entries, ministry_org=MINISTRY)
        overseen = await register.overseen_by(session, org=province.org, ministry_org=MINISTRY)
    assert found == {
        province.org: Oversight(MINISTRY, derived=True),
        regency.org: Oversight(province.org, derived=True),
        city.org: Oversight(province.org, derived=True),
    }
    assert [e.org for e in overseen] == [regency.org, city.org]


async def test_a_set_overseer_overrides_the_default_and_other_levels_have_none_unless_set(sessionmaker):
    t = tag()
    province, regency, _ = region(unused_province(), t)
    agency = Entry(org=f"bp-{t}", name_id="Badan Pengawas", level="agency")
    university = Entry(org=f"univ-{t}", name_id="Universitas", level="academia", province_code=province.province_code)
    await put(sessionmaker, province, agency, university, Entry(**{**_fields(regency), "overseer": agency.org}))
    async with sessionmaker() as session:
        assert await register.overseer_of(session, org=regency.org, ministry_org=MINISTRY) == Oversight(
            agency.org, derived=False
        )
        assert await register.overseer_of(session, org=university.org, ministry_org=MINISTRY) is None
        assert await register.overseer_of(session, org=f"unknown-{t}", ministry_org=MINISTRY) is None
        assert [e.org for e in await register.overseen_by(session, org=agency.org, ministry_org=MINISTRY)] == [
            regency.org
        ]
        assert await register.overseen_by(session, org=province.org, ministry_org=MINISTRY) == []


def _fields(entry: Entry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in entry.__slots__}


async def test_a_province_has_one_government(sessionmaker):
    code, t = unused_province(), tag()
    province, _, _ = region(code, t)
    await put(sessionmaker, province)
    rival = Entry(org=f"prov2-{t}", name_id="Pemerintah Provinsi Lain", level="province", province_code=code)
    with pytest.raises(register.ProvinceTaken) as taken:
        await put(sessionmaker, rival)
    assert taken.value.org == province.org
    # and the database says the same to a writer that bypasses the check
    with pytest.raises(IntegrityError):
        async with session_scope(sessionmaker) as session:
            await session.execute(
                insert(register.ORGANISATIONS).values(
                    org=rival.org, name_id=rival.name_id, level="province", province_code=code, updated_by="sql"
                )
            )


async def test_an_entry_is_replaced_whole_and_added_only_once_by_a_seed(sessionmaker):
    t = tag()
    entry = Entry(org=f"unpad-{t}", name_id="Universitas Padjadjaran", level="academia", email="humas@unpad.ac.id")
    async with session_scope(sessionmaker) as session:
        assert await register.add_if_absent(session, entry=entry, updated_by="seed")
        assert not await register.add_if_absent(
            session, entry=Entry(org=entry.org, name_id="Lain", level="media"), updated_by="seed"
        )
        saved = await register.put(
            session, entry=Entry(org=entry.org, name_id="Universitas Padjadjaran", level="academia"), updated_by="op"
        )
    assert saved.email is None and saved.updated_by == "op" and saved.sector == "academia"
    async with sessionmaker() as session:
        assert await register.get(session, org=entry.org) == saved


async def test_the_register_lists_in_pages_with_filters(sessionmaker):
    t = tag()
    code = unused_province()
    province, regency, city = region(code, t)
    media = Entry(org=f"media-{t}", name_id="Pikiran Rakyat", name_en="The People's Mind", level="media")
    await put(sessionmaker, province, regency, city, media)
    seen: list[str] = []
    cursor = None
    async with sessionmaker() as session:
        while True:
            page, cursor = await register.list_page(
                session, filters=RegisterFilters(q=t), ministry_org=MINISTRY, limit=3, cursor=cursor
            )
            seen += [e.org for e in page]
            if cursor is None:
                break

        async def orgs(**filters: object) -> list[str]:
            page, _ = await register.list_page(
                session, filters=RegisterFilters(**filters), ministry_org=MINISTRY, limit=50, cursor=None
            )
            return [e.org for e in page]

        assert await orgs(province_code=code) == [regency.org, city.org, province.org]
        assert await orgs(level="regency", province_code=code) == [regency.org]
        assert await orgs(overseer=province.org) == [regency.org, city.org]
        assert province.org in await orgs(overseer=MINISTRY, q=t)
        assert await orgs(q="people's MIND") == [media.org]
        assert await orgs(q=f"%{t}") == []  # a wildcard is a character like any other
        with pytest.raises(InvalidCursor):
            await register.list_page(session, filters=RegisterFilters(), ministry_org=MINISTRY, limit=5, cursor="zz")
    assert seen == sorted([province.org, regency.org, city.org, media.org])


async def test_the_province_of_organisations_is_the_registers(sessionmaker):
    t = tag()
    code = unused_province()
    province, regency, _ = region(code, t)
    abroad = Entry(org=f"wa-{t}", name_id="Government of Western Australia", level="foreign_government", foreign=True)
    await put(sessionmaker, province, regency, abroad)
    async with sessionmaker() as session:
        found = await register.province_of(session, orgs=[province.org, regency.org, abroad.org, f"nobody-{t}"])
    assert found == {province.org: register.provinces()[code], regency.org: register.provinces()[code]}


async def test_the_database_refuses_a_regional_government_without_a_province(sessionmaker):
    with pytest.raises(IntegrityError):
        await put(sessionmaker, Entry(org=f"kab-{tag()}", name_id="Kabupaten", level="regency"))
    with pytest.raises(IntegrityError):
        await put(sessionmaker, Entry(org=f"x-{tag()}", name_id="X", level="agency", foreign=True, province_code="32"))


async def test_pakta_dev_registers_its_demo_organisations_once_and_keeps_later_edits(sessionmaker, settings):
    await demo.register_organisations(settings)
    async with session_scope(sessionmaker) as session:
        jabar = await register.get(session, org="jabar")
        assert jabar is not None and jabar.province is not None and jabar.province.name == "Jawa Barat"
        await register.put(
            session, entry=Entry(**{**_fields(jabar), "email": "biro.pem@jabarprov.go.id"}), updated_by="op"
        )
    assert await demo.register_organisations(settings) == []
    async with sessionmaker() as session:
        kept = await register.get(session, org="jabar")
        bandung = await register.overseer_of(session, org="kota-bandung", ministry_org="kemendagri")
        line = await register.overseer_of(session, org="jabar", ministry_org="kemendagri")
    assert kept is not None and kept.email == "biro.pem@jabarprov.go.id"
    assert bandung == Oversight("jabar", derived=True) and line == Oversight("kemendagri", derived=True)
