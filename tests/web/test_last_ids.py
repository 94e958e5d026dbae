"""What people read on the pages (issue #11, branch csv16): the last internal keys and ids a
walk of the staff pages found — a person's roles in the header, the other publishers of an
agreement, an evaluation's missing and late reports in the report upward — in the reader's
words and by the organisations' names."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx

from services.demo_people import DEMO_ORG
from services.store import queries, register
from services.store.db import session_scope
from tests.builders import NOW, happy_step, party, proposal, replay, run, staff
from tests.provinces import unused_province
from tests.web.live import LiveStack, csrf_of
from tests.web.test_names import pdf_text
from workflows import lifecycle as L
from workflows import messages as m


def signed_in_as(html: str) -> str:
    found = re.search(r'<span class="me">(.*?)</span>', html, flags=re.S)
    assert found, "the page has no signed-in line"
    return re.sub(r"<[^>]+>", "", found.group(1))


async def test_the_header_names_a_person_s_roles_in_the_reader_s_words(web: LiveStack, orgs):
    province, _ = orgs
    client = await web.signed_in_client(web.user(province, "staff", "admin"))
    page = (await client.get("/ui/dashboard")).text
    assert signed_in_as(page).endswith("; staf, administrator)"), signed_in_as(page)
    await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
    page = (await client.get("/ui/dashboard")).text
    assert signed_in_as(page).endswith("; staff, administrator)"), signed_in_as(page)
    await client.aclose()


async def in_force_recorded(web: LiveStack, org: str, other: m.Party) -> m.AgreementState:
    """An agreement between `org` and `other`, in force and recorded as the decider made it."""
    prop = proposal([party(org, "initiator"), other], "ksdpk")
    events = L.create(prop, staff(org), NOW, f"agr-{uuid.uuid4()}")
    state = replay(events)
    while state.stage != "implementation":
        state, more = happy_step(state, NOW)
        events += more
    async with session_scope(web.sessionmaker) as session:
        await queries.append_events(session, state=state, events=events)
    return state


async def test_the_publishing_page_names_the_other_publishers_not_their_ids(web: LiveStack, orgs):
    province, regency = orgs
    university = f"univ-{regency}"
    named = party(university, sector="academia").model_copy(update={"name": "Universitas Contoh Terbuka"})
    state = await in_force_recorded(web, province, named)
    published, more = run(state, staff(university), m.Publish(), NOW)
    async with session_scope(web.sessionmaker) as session:
        await queries.append_events(session, state=published, events=more)
    client = await web.signed_in_client(web.user(province, "staff"))
    page = (await client.get("/ui/publishing")).text
    row = page[page.index(f'data-agreement="{state.id}"') :]
    row = row[: row.index("</tr>")]
    assert "Universitas Contoh Terbuka" in row and university not in re.sub(r"<[^>]+>", "", row), row
    await client.aclose()


async def test_the_report_upward_names_an_evaluation_s_missing_report_by_its_organisation_s_name(web: LiveStack, orgs):
    province, regency = orgs
    university = f"univ-{regency}"
    named = party(university, sector="academia").model_copy(update={"name": "Universitas Contoh Lalai"})
    state = await in_force_recorded(web, province, named)
    started, events = run(state, staff(province), m.StartEvaluation(), NOW)
    due = L.open_evaluation(started).due_at
    reported, more = run(
        started, staff(province), m.SubmitEvaluationReport(evaluation=1, narrative="Sesuai rencana"), NOW
    )
    events += more
    conclude = m.ConcludeEvaluation(evaluation=1, score=60, recommendation="continue", summary="Cukup")
    concluded, more = run(reported, staff(province), conclude, due)
    events += more
    assert more[0].data["missing_reports"] == [university]
    async with session_scope(web.sessionmaker) as session:
        await queries.append_events(session, state=concluded, events=events)
    client = await web.signed_in_client(web.user(province, "staff"))
    period = f"from={(NOW - timedelta(days=30)).date()}&to={(due + timedelta(days=2)).date()}"
    page = (await client.get(f"/ui/reports/upward?org={province}&{period}")).text
    evaluations = page[page.index('aria-labelledby="h-evaluations"') :]
    evaluations = evaluations[: evaluations.index("</section>")]
    assert "Universitas Contoh Lalai" in evaluations, evaluations
    assert university not in evaluations
    await client.aclose()


async def test_the_register_s_list_names_each_overseer_not_its_id(web: LiveStack, orgs):
    province, regency = orgs
    code = unused_province()
    async with session_scope(web.sessionmaker) as session:
        for entry in (
            register.Entry(org=province, name_id=f"Pemerintah Provinsi {code}", level="province", province_code=code),
            register.Entry(org=regency, name_id=f"Pemerintah Kabupaten {code}", level="regency", province_code=code),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    client = await web.signed_in_client(web.user(regency, "staff"))
    page = (await client.get(f"/ui/organisations?province={code}")).text
    row = page[page.index(f'<tr data-org="{regency}">') :]
    overseer = row[: row.index("</tr>")].split("<td>")[-1]
    assert f">Pemerintah Provinsi {code}</a>" in overseer and f">{province}<" not in overseer, overseer
    await client.aclose()


def visible(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def demo_people_of(page: str) -> str:
    start = page.index('<ul class="people">')
    return visible(page[start : page.index("</ul>", start)])


async def test_the_sign_in_page_names_the_demo_people_s_organisation_not_its_id(web: LiveStack):
    client = httpx.AsyncClient(base_url=web.base_url, timeout=60)
    page = (await client.get("/ui/signin")).text
    people = demo_people_of(page)
    assert "Pemerintah Daerah Provinsi Jawa Barat · staf" in people and f"{DEMO_ORG} ·" not in people, people
    await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/signin"})
    page = (await client.get("/ui/signin")).text
    people = demo_people_of(page)
    assert "West Java Provincial Government · staff" in people and f"{DEMO_ORG} ·" not in people, people
    await client.aclose()


async def test_the_roll_up_names_each_organisation_and_its_level_in_words_without_its_id(web: LiveStack, orgs):
    province, regency = orgs
    code = unused_province()
    async with session_scope(web.sessionmaker) as session:
        for entry in (
            register.Entry(org=province, name_id=f"Pemerintah Provinsi {code}", level="province", province_code=code),
            register.Entry(
                org=regency,
                name_id=f"Pemerintah Kabupaten {code}",
                name_en=f"Regency of {code}",
                level="regency",
                province_code=code,
            ),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    client = await web.signed_in_client(web.user(province, "staff"))
    query = f"org={province}&from=2027-01-01&to=2027-06-30"
    for lang, name, level in (
        ("id", f"Pemerintah Kabupaten {code}", "Kabupaten"),
        ("en", f"Regency of {code}", "Regency"),
    ):
        if lang == "en":
            page = (await client.get("/ui/dashboard")).text
            await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
        page = (await client.get(f"/ui/reports/overseen?{query}")).text
        heading = page[page.index(f'<section class="panel overseen" data-org="{regency}"') :]
        heading = visible(heading[heading.index("<h3") : heading.index("</h3>")])
        assert heading.lower() == f"{name} ({level})".lower(), heading
        pdf = pdf_text((await client.get(f"/ui/reports/overseen.pdf?{query}")).content)
        assert name in pdf and regency not in pdf, pdf
    await client.aclose()
