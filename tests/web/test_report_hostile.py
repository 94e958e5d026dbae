"""The report upward (page, PDF, CSV) of an agreement whose organisations' names, title and
reasons were typed to harm whoever reads them: spreadsheet formulas, bidi overrides that
turn the rest of a line around, words far wider than a page, characters the PDF's font
lacks — and hundreds of problems. Every format still answers; no cell runs as a formula;
on the page each text people typed is isolated, so an override in it turns nothing after
it around. Issue #11, branch attack18."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

from services.api.web import reports
from services.store import queries, register
from services.store.db import session_scope
from tests.builders import as_created_before_2026, happy_step, party, proposal, replay, run, staff
from tests.provinces import unused_province
from tests.web.live import LiveStack
from tests.web.test_names import pdf_text, section
from workflows import lifecycle as L
from workflows import messages as m

RLO, PDF_MARK = "\u202e", "\u202c"  # right-to-left override, and the mark that would close it
EXTENSIONS = 240
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def a_province_and_a_regency_named_to_harm(web: LiveStack, province: str, regency: str) -> None:
    code = unused_province()
    async with session_scope(web.sessionmaker) as session:
        for entry in (
            register.Entry(
                org=province, name_id=f"@SUM(1+1) Provinsi {code} {RLO}", level="province", province_code=code
            ),
            register.Entry(
                org=regency,
                name_id=f"=SUM(1;2)+cmd|' /C calc'!A0 Kabupaten {code} {RLO}",
                name_en="+1+1 Regency ❤ 漢字",
                level="regency",
                province_code=code,
            ),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")


def an_agreement_with_hundreds_of_problems(province: str, regency: str) -> tuple[m.AgreementState, list[m.Event]]:
    """In force since months (counted in calendar days, as agreements created before 2026:
    their extensions are not bounded), its evaluation's reports extended `EXTENSIONS` times,
    each with a reason of one very long word, an override and a formula; then terminated."""
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(days=150)
    created = L.create(
        proposal(
            [party(province, "initiator"), party(regency)],
            "ksdd",
            start_date=str(began.date()),
            title=f"-2+3 {RLO}kerja sama {'W' * 200}",
        ),
        staff(province),
        began,
        f"agr-{uuid.uuid4()}",
    )
    events = [as_created_before_2026(created[0]), *created[1:]]
    state = replay(events)
    while state.stage != "implementation":
        state, more = happy_step(state, began)
        events += more
    state, more = run(state, staff(province), m.StartEvaluation(), began + timedelta(days=1))
    events += more
    reason = f"=cmd|' /C calc'!A0 {RLO}{'Ж' * 1500} ☃ \t tab"
    for i in range(EXTENSIONS):
        extend = m.ExtendDeadline(deadline="evaluation_report", days=1, reason=f"{reason} {i}")
        state, more = run(state, staff(province), extend, began + timedelta(days=2, minutes=i))
        events += more
    terminate = m.Terminate(reason=f"\t@SUM(1) {RLO}Anggaran dialihkan")
    state, more = run(state, staff(province), terminate, began + timedelta(days=3))
    events += more
    return state, events


def isolated(html: str) -> bool:
    """Whether every override in `html` lies inside a `<bdi>` element or between an isolate
    initiator and its pop (U+2068…U+2069): what the browser then turns around ends there."""
    outside, before = re.sub(r"<bdi>.*?</bdi>", "", html, flags=re.S), None
    while outside != before:  # the innermost isolates first
        outside, before = re.sub("\u2068[^\u2068\u2069]*\u2069", "", outside), outside
    if RLO in outside:
        at = outside.index(RLO)
        print("not isolated:", repr(outside[max(0, at - 200) : at + 40]))
    return RLO not in outside


async def test_a_report_of_hostile_names_and_hundreds_of_problems_answers_in_every_format_and_harms_no_reader(
    web: LiveStack, orgs, monkeypatch
):
    province, regency = orgs
    monkeypatch.setattr(reports, "PDF_PROBLEMS", 100)
    await a_province_and_a_regency_named_to_harm(web, province, regency)
    state, events = an_agreement_with_hundreds_of_problems(province, regency)
    async with session_scope(web.sessionmaker) as session:
        await queries.append_events(session, state=state, events=events)
    today = datetime.now(UTC).date()
    query = f"org={province}&from={today - timedelta(days=200)}&to={today + timedelta(days=1)}"
    client = await web.signed_in_client(web.user(province, "staff"))

    page = await client.get(f"/ui/reports/upward?{query}")
    assert page.status_code == 200, page.text[:500]
    problems = section(page.text, "h-problems")
    listed = problems.count("<li ")
    assert listed >= EXTENSIONS + 1
    assert RLO in problems and isolated(page.text), "an override on the page reaches beyond the text it was typed in"

    pdf = await client.get(f"/ui/reports/upward.pdf?{query}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    assert "-2+3 kerja sama" in text and "W" * 50 in text.replace(" ", "")
    # The printable report gives the first problems, each cut short, then says how many more.
    assert f"... dan {listed - 100} masalah lagi: halaman laporan dan JSON-nya memuat semuanya." in text, text[-300:]

    sheet = await client.get(f"/ui/reports/upward.csv?{query}")
    assert sheet.status_code == 200
    rows = list(csv.reader(io.StringIO(sheet.text)))
    assert len(rows) == 2, rows[:1]
    cells = [value for row in rows for value in row]
    assert not [value for value in cells if value.startswith(FORMULA_START)], [v[:40] for v in cells]
    # A spreadsheet cell holds 32,767 characters and drops the rest without a word: the
    # problems cell keeps what fits and says how many more the report holds.
    assert max(len(value) for value in cells) <= 32_767
    problems_cell = rows[1][rows[0].index("problems")]
    kept = problems_cell.count("; ")  # each line kept, then the note (no reason holds "; ")
    left = listed - kept
    assert kept > 0 and left > 0
    assert problems_cell.endswith(f"; … and {left} more problems: the report's page and its JSON hold every one.")
    await client.aclose()


async def test_the_report_s_pdf_is_drawn_beside_the_process_s_other_requests_not_in_their_way(
    web: LiveStack, orgs, monkeypatch
):
    """fpdf2 draws in Python, some 40,000 characters a second: drawn on the event loop, a
    report of hundreds of long problems held every request of the API process for seconds
    (minutes, with reasons of 20,000 characters). The drawing here waits until the test
    has been answered another request — which it can only be while the PDF is drawn
    elsewhere than on the loop."""
    province, regency = orgs
    await a_province_and_a_regency_named_to_harm(web, province, regency)
    started, release, released = threading.Event(), threading.Event(), []
    draw = reports.report_pdf

    def held(*args: object) -> bytes:
        started.set()
        released.append(release.wait(timeout=10))  # on the loop, nothing else runs meanwhile
        return draw(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(reports, "report_pdf", held)
    today = datetime.now(UTC).date()
    client = await web.signed_in_client(web.user(province, "staff"))
    pdf = asyncio.create_task(client.get(f"/ui/reports/upward.pdf?org={province}&from={today}&to={today}"))
    for _ in range(1000):
        if started.is_set() or pdf.done():
            break
        await asyncio.sleep(0.01)
    assert started.is_set()
    other = await web.http.get("/healthz")
    release.set()
    assert other.status_code == 200 and (await pdf).status_code == 200
    assert released == [True], "the PDF was drawn on the event loop: the other request waited for it"
    await client.aclose()
