"""What people read on the pages (issue #11, branch names14): the parties of an agreement
recorded before the register's names were filled in, named as the register names them."""

from __future__ import annotations

import re
import uuid
import zlib

import httpx

from services.api.app import create_app
from services.store import queries, register
from services.store.db import session_scope
from tests.builders import NOW, happy_step, party, proposal, replay, run, staff
from tests.fixtures.api import app_client
from tests.provinces import unused_province
from tests.web.live import LiveStack, csrf_of
from workflows import lifecycle as L
from workflows import messages as m


def pdf_text(body: bytes) -> str:
    """The text a PDF of fpdf2 shows, its lines joined by spaces: the strings its inflated
    page streams draw (`(…) Tj`), unescaped."""
    content = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, flags=re.S):
        try:
            content.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            content.append(stream.decode("latin-1"))
    drawn = re.findall(r"\(((?:\\.|[^\\)])*)\) Tj", "\n".join(content))
    return " ".join(re.sub(r"\\(.)", r"\1", text) for text in drawn)


def section(html: str, heading: str) -> str:
    """The panel of the page whose heading has the id `heading`."""
    start = html.index(f'aria-labelledby="{heading}"')
    return html[start : html.index("</section>", start)]


async def recorded_before_the_names(web: LiveStack, regency: str, university: str) -> str:
    """An agreement signed, published and measured as the code before names14 recorded it:
    the regency's party left unnamed, the university's named by its id; its id."""
    by_id = party(university, sector="academia").model_copy(update={"name": university})
    # A goal, so that the page shows its implementation (and the measurements in it).
    prop = proposal([party(regency, "initiator"), by_id], "ksdpk", goals=[{"scheme": "sdg", "code": "3"}])
    events = L.create(prop, staff(regency), NOW, f"agr-{uuid.uuid4()}")
    state = replay(events)
    while state.stage != "implementation":
        state, more = happy_step(state, NOW)
        events += more
    state, more = run(state, staff(regency), m.Publish(), NOW)
    events += more
    measured = m.RecordMeasurement(indicator="Puskesmas terhubung", value=12, measured_on=NOW.date(), source="Dinkes")
    state, more = run(state, staff(regency), measured, NOW)
    events += more
    async with session_scope(web.sessionmaker) as session:
        await queries.append_events(session, state=state, events=events)
    return state.id


async def test_parties_recorded_unnamed_or_by_their_id_read_as_the_register_names_them_everywhere(web: LiveStack, orgs):
    _, regency = orgs
    university = f"univ-{regency}"
    agreement_id = await recorded_before_the_names(web, regency, university)
    # The register names them after the agreement was recorded (its events stay as they are).
    regency_id, regency_en = f"Pemerintah Kabupaten {regency}", f"Regency Government of {regency}"
    university_id = f"Universitas {regency}"
    async with session_scope(web.sessionmaker) as session:
        for entry in (
            register.Entry(
                org=regency, name_id=regency_id, name_en=regency_en, level="regency", province_code=unused_province()
            ),
            register.Entry(org=university, name_id=university_id, level="academia"),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    reader = web.user(regency, "staff")
    client = await web.signed_in_client(reader)

    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    parties, signatures = section(page, "h-parties"), section(page, "h-signatures")
    for panel in (parties, signatures):
        assert regency_id in panel and university_id in panel
        assert f"<td>{regency}" not in panel and f"<td>{university}" not in panel
    summary = pdf_text((await client.get(f"/ui/agreements/{agreement_id}/summary.pdf")).content)
    assert f"- {regency_id}:" in summary and f"- {university_id}:" in summary
    assert f"- {regency}:" not in summary

    period = f"org={regency}&from=2027-01-01&to=2027-06-30"
    report = (await client.get(f"/ui/reports/upward?{period}")).text
    assert f"{university_id} (" in report and f"{university} (" not in report
    sheet = (await client.get(f"/ui/reports/upward.csv?{period}")).text
    assert university_id in sheet
    upward = (await web.api(reader, "GET", f"/reports/upward?{period}")).json()
    assert [p["name"] for a in upward["agreements"] for p in a["partners"]] == [university_id]

    anonymous = httpx.AsyncClient(base_url=web.base_url)
    portal = (await anonymous.get("/public/")).text
    row = portal[portal.index(f'data-agreement="{agreement_id}"') :]
    assert row[: row.index("</tr>")].count(university_id) == 1
    public = (await anonymous.get(f"/public/agreements/{agreement_id}")).text
    assert regency_id in section(public, "h-parties") and university_id in section(public, "h-parties")
    ocds = (await anonymous.get("/public/ocds.json")).json()
    release = next(r for r in ocds["releases"] if r["ocid"].endswith(agreement_id))
    assert {p["name"] for p in release["parties"]} == {regency_id, university_id}
    await anonymous.aclose()

    # In English, the register's English name where it has one.
    await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
    english = section((await client.get(f"/ui/agreements/{agreement_id}")).text, "h-parties")
    assert regency_en in english and university_id in english
    await client.aclose()

    # The API's JSON keeps the parties as they were recorded.
    snapshot = (await web.api(reader, "GET", f"/agreements/{agreement_id}")).json()
    assert [p["name"] for p in snapshot["parties"]] == [None, university]


async def test_the_agreement_list_and_the_dashboard_name_the_parties_as_the_register_does(web: LiveStack, orgs):
    # The list holds an agreement's organisations by id only: one read of the register for the
    # page names them (the id where the register holds none).
    _, regency = orgs
    university = f"univ-{regency}"
    agreement_id = await recorded_before_the_names(web, regency, university)
    university_id = f"Universitas {regency}"
    async with session_scope(web.sessionmaker) as session:
        entry = register.Entry(org=university, name_id=university_id, name_en=f"University {regency}", level="academia")
        await register.put(session, entry=entry, updated_by="operator@pakta")
    client = await web.signed_in_client(web.user(regency, "staff"))
    listed = (await client.get("/ui/agreements")).text
    row = listed[listed.index(f'data-agreement="{agreement_id}"') :]
    row = row[: row.index("</tr>")]
    assert f"<td>{regency}, {university_id}</td>" in row
    dashboard = (await client.get("/ui/dashboard")).text
    partners = section(dashboard, "h-partner")
    assert university_id in partners and f">{university}<" not in partners
    page = (await client.get("/ui/agreements")).text
    await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
    assert f"University {regency}" in (await client.get("/ui/agreements")).text
    await client.aclose()


async def test_the_drafts_and_the_measurements_name_their_organisations_as_the_register_does(web: LiveStack, orgs):
    _, regency = orgs
    university = f"univ-{regency}"
    agreement_id = await recorded_before_the_names(web, regency, university)
    regency_id, university_id = f"Pemerintah Kabupaten {regency}", f"Universitas {regency}"
    async with session_scope(web.sessionmaker) as session:
        for entry in (
            register.Entry(org=regency, name_id=regency_id, level="regency", province_code=unused_province()),
            register.Entry(org=university, name_id=university_id, level="academia"),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    client = await web.signed_in_client(web.user(regency, "staff"))
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    drafts = section(page, "h-drafts")
    assert f"({regency_id})" in drafts and f"({regency})" not in drafts and f"({university})" not in drafts
    # Who accepted each draft, too (both parties, the university recorded by its id).
    assert f"<td>{regency_id}, {university_id}</td>" in drafts and f"{regency}, {university}" not in drafts
    measured = page[page.index('<table class="measurements"') :]
    measured = measured[: measured.index("</table>")]
    assert f"staff@{regency} ({regency_id})" in measured
    draft = (await client.get(f"/ui/agreements/{agreement_id}/drafts/1")).text
    meta = re.search(r'<p class="meta">(.*?)</p>', draft, flags=re.S)
    assert meta and (regency_id in meta[1] or university_id in meta[1]), meta
    assert f"({regency})" not in meta[1] and f"({university})" not in meta[1]
    await client.aclose()


async def test_the_report_upward_names_an_overseer_the_register_holds_no_entry_for_by_the_name_pakta_dev_gives_it(
    web: LiveStack, orgs
):
    """A province reports to the ministry (`PAKTA_MINISTRY_ORGS`), which this register does
    not hold: the "Reports to" line of the page and of the PDF names it as `pakta dev`
    registers it, in the reader's language, never by its id."""
    province, _ = orgs
    async with session_scope(web.sessionmaker) as session:
        entry = register.Entry(
            org=province, name_id=f"Pemerintah Provinsi {province}", level="province", province_code=unused_province()
        )
        await register.put(session, entry=entry, updated_by="operator@pakta")
        assert await register.get(session, org="kemendagri") is None
    client = await web.signed_in_client(web.user(province, "staff"))
    period = f"org={province}&from=2027-01-01&to=2027-06-30"
    for lang, office, ministry in (
        ("id", "Menteri Dalam Negeri", "Kementerian Dalam Negeri"),
        ("en", "the Minister of Home Affairs", "Ministry of Home Affairs"),
    ):
        for line in await reports_to_lines(client, period, lang):
            assert f"{office} ({ministry})" in line and "kemendagri" not in line, line
    await client.aclose()


async def test_the_report_upward_names_a_ministry_of_another_id_the_register_lacks_by_what_it_is_and_its_id(
    web: LiveStack, orgs
):
    """A deployment whose ministry (`PAKTA_MINISTRY_ORGS`) has an id neither the register nor
    `pakta dev` names (branch left18): the "Reports to" line of the page and of the PDF says
    what it is — the overseeing ministry — with its id, in the reader's language; it read the
    id alone."""
    province, _ = orgs
    ministry = f"kemen-{uuid.uuid4().hex[:6]}"
    async with session_scope(web.sessionmaker) as session:
        entry = register.Entry(
            org=province, name_id=f"Pemerintah Provinsi {province}", level="province", province_code=unused_province()
        )
        await register.put(session, entry=entry, updated_by="operator@pakta")
    settings = web.settings.model_copy(update={"ministry_orgs": [ministry]})
    async with app_client(create_app(settings)) as client:
        signin = await client.get("/ui/signin")
        token = web.token(web.user(province, "staff"))
        signed = await client.post("/ui/signin", data={"csrf": csrf_of(signin.text), "token": token, "next": "/ui/"})
        assert signed.status_code == 303, signed.text
        period = f"org={province}&from=2027-01-01&to=2027-06-30"
        for lang, line in (
            ("id", f"Melapor kepada: Menteri Dalam Negeri (kementerian pembina, kode {ministry})"),
            ("en", f"Reports to: the Minister of Home Affairs (the overseeing ministry, id {ministry})"),
        ):
            for shown in await reports_to_lines(client, period, lang):
                assert line in shown, shown


async def reports_to_lines(client: httpx.AsyncClient, period: str, lang: str) -> tuple[str, str]:
    """The report upward's meta line on the page and the PDF's text, for `period`, read in
    `lang` ("en" switches the signed-in reader's language first; "id" is the default)."""
    if lang == "en":
        page = (await client.get("/ui/dashboard")).text
        await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
    html = (await client.get(f"/ui/reports/upward?{period}")).text
    meta = re.sub(r"<[^>]+>", "", html[html.index('<p class="meta">') :].split("</p>")[0])
    pdf = pdf_text((await client.get(f"/ui/reports/upward.pdf?{period}")).content)
    return meta, pdf
