"""The legal basis in the reader's language (issue #11, branch names14): a step's basis on the
agreement's pages, and the report upward's on its page and PDF. The regulations keep their
names; the words around them are the reader's."""

from __future__ import annotations

import re

import pytest

from services.api.reporting import basis as report_basis
from services.api.web.basis_words import basis_in
from services.store import register
from services.store.db import session_scope
from tests.builders import party, proposal
from tests.provinces import unused_province
from tests.web.live import LiveStack, csrf_of
from tests.web.test_names import pdf_text
from tests.web.test_pages import proposal as web_proposal
from tests.web.test_reports import record_signed
from workflows.procedures import CHANGE_PROCEDURES, PROCEDURES, TERMINATION_BY_EACH_HEAD, TERMINATION_STEP

STEPS = sorted(
    {step.basis for procedure in (*PROCEDURES.values(), *CHANGE_PROCEDURES.values()) for step in procedure.steps}
    | {TERMINATION_STEP.basis, TERMINATION_BY_EACH_HEAD.basis}
)
REGULATION = re.compile(r"\b(?:Permendagri|PP|UU) \d+/\d{4}\b")
# English a report's basis held on Indonesian pages before.
ENGLISH = re.compile(r"domestic procedure|foreign cooperation procedure|not fixed|\bart\. |Pakta's|stages 9")


@pytest.mark.parametrize("basis", STEPS)
def test_every_released_steps_basis_reads_in_english_with_its_regulations_named_as_they_are(basis: str):
    english = basis_in(basis, "en")
    assert english != basis
    assert REGULATION.findall(english) == REGULATION.findall(basis)
    assert basis_in(basis, "id") == basis


def test_every_basis_of_a_report_has_its_indonesian_with_the_same_regulations_and_articles():
    bases = [b for b in vars(report_basis).values() if isinstance(b, report_basis.LegalBasis)]
    assert len(bases) == 5
    for b in bases:
        assert ENGLISH.search(b.basis_id) is None, b.basis_id
        assert REGULATION.findall(b.basis_id) == REGULATION.findall(b.basis)
        assert re.findall(r"\d+", b.basis_id) == re.findall(r"\d+", b.basis)


async def test_an_agreements_step_shows_its_legal_basis_in_the_readers_language(web: LiveStack, orgs):
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=web_proposal(province, regency))
    assert created.status_code == 201, created.text
    submitted = await web.api(staff, "POST", f"/agreements/{created.json()['id']}/actions", json={"type": "submit"})
    assert submitted.status_code == 200, submitted.text
    client = await web.signed_in_client(staff)
    page = (await client.get(f"/ui/agreements/{created.json()['id']}")).text
    indonesian = re.search(r'<p class="basis">(.*?)</p>', page, flags=re.S)
    assert indonesian and "Dasar hukum: Permendagri 22/2020 tentang" in indonesian[1]
    assert indonesian[1].endswith("; tahap persiapan")
    await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
    page = (await client.get(f"/ui/agreements/{created.json()['id']}")).text
    english = re.search(r'<p class="basis">(.*?)</p>', page, flags=re.S)
    assert english and "Legal basis: Permendagri 22/2020 tentang" in english[1]
    assert english[1].endswith("; the preparation stage") and "tahap" not in english[1]
    await client.aclose()


async def test_the_report_upwards_legal_basis_reads_in_indonesian_on_its_indonesian_page_and_pdf(web: LiveStack, orgs):
    province, regency = orgs
    code = unused_province()
    async with session_scope(web.sessionmaker) as session:
        for entry in (
            register.Entry(
                org=province, name_id=f"Pemerintah Provinsi {province}", level="province", province_code=code
            ),
            register.Entry(org=regency, name_id=f"Pemerintah Kabupaten {regency}", level="regency", province_code=code),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    await record_signed(web, proposal([party(regency, "initiator"), party(province)], "ksdd"))
    client = await web.signed_in_client(web.user(regency, "staff"))
    period = f"org={regency}&from=2027-01-01&to=2027-06-30"
    page = (await client.get(f"/ui/reports/upward?{period}")).text
    basis = page[page.index('id="h-basis"') : page.index("</section>", page.index('id="h-basis"'))]
    assert "Permendagri 22/2020 (prosedur kerja sama dalam negeri" in basis
    assert "UU 23/2014 Pasal 368 ayat (1); PP 28/2018 Pasal 44 ayat (3)" in basis
    assert ENGLISH.search(basis) is None, basis
    printed = pdf_text((await client.get(f"/ui/reports/upward.pdf?{period}")).content)
    assert "Pasal 368 ayat (1)" in printed and ENGLISH.search(printed) is None, printed

    await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
    page = (await client.get(f"/ui/reports/upward?{period}")).text
    basis = page[page.index('id="h-basis"') : page.index("</section>", page.index('id="h-basis"'))]
    assert "Permendagri 22/2020 (domestic procedure" in basis and "art. 368(1)" in basis
    printed = pdf_text((await client.get(f"/ui/reports/upward.pdf?{period}")).content)
    assert "art. 368(1)" in printed
    await client.aclose()
