"""The report upward's "Problems and follow-up" as officials read it (issue #11, branch
problems17): each problem worded from its facts in the reader's language — the step by its
name, the due moment as a local date and time, the organisations by name — on the page and
in the PDF, and in English in the CSV; never the `detail` with step keys, ids and ISO
timestamps that the API keeps for its older consumers."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.store import queries, register
from services.store.db import session_scope
from tests.builders import happy_step, party, proposal, replay, run, staff
from tests.provinces import unused_province
from tests.web.live import LiveStack, csrf_of
from tests.web.test_names import pdf_text, section
from workflows import lifecycle as L
from workflows import messages as m

MONTHS = {
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def local_moment(at: datetime, lang: str) -> str:
    """`at` as a reader in Jakarta reads it: "4 Januari 2027 16:00 WIB"."""
    local = at.astimezone(ZoneInfo("Asia/Jakarta"))
    return f"{local.day} {MONTHS[lang][local.month - 1]} {local.year} {local:%H:%M} WIB"


async def recorded(web: LiveStack, state: m.AgreementState, events: list[m.Event]) -> None:
    async with session_scope(web.sessionmaker) as session:
        await queries.append_events(session, state=state, events=events)


async def a_stalled_review_and_an_evaluation_without_a_report(
    web: LiveStack, province: str, regency: str
) -> tuple[m.AgreementState, datetime]:
    """Two agreements of the province, recorded as the decider made them, months ago: one in
    force whose termination the province proposed and left past its step's deadline
    (escalated by time), one evaluated without the regency's report. The first and its due
    moment."""
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(days=150)
    events = L.create(
        proposal([party(province, "initiator"), party(regency)], "ksdd", start_date=str(began.date())),
        staff(province),
        began,
        f"agr-{uuid.uuid4()}",
    )
    state = replay(events)
    while state.stage != "implementation":
        state, more = happy_step(state, began)
        events += more
    state, more = run(state, staff(province), m.Terminate(reason="Anggaran dialihkan"), began + timedelta(days=1))
    events += more
    due = state.deadlines["step"]
    state, more = run(state, m.SYSTEM, m.Tick(), due + timedelta(hours=1))
    assert "deadline_escalated" in [e.type for e in more]
    await recorded(web, state, events + more)

    events = L.create(
        proposal([party(province, "initiator"), party(regency)], "ksdd", start_date=str(began.date())),
        staff(province),
        began,
        f"agr-{uuid.uuid4()}",
    )
    evaluated = replay(events)
    while evaluated.stage != "implementation":
        evaluated, more = happy_step(evaluated, began)
        events += more
    evaluated, more = run(evaluated, staff(province), m.StartEvaluation(), began + timedelta(days=1))
    events += more
    evaluation_due = L.open_evaluation(evaluated).due_at
    for org in (province,):
        evaluated, more = run(
            evaluated, staff(org), m.SubmitEvaluationReport(evaluation=1, narrative="Sesuai"), began + timedelta(days=2)
        )
        events += more
    conclude = m.ConcludeEvaluation(evaluation=1, score=70, recommendation="continue", summary="Baik")
    evaluated, more = run(evaluated, staff(province), conclude, evaluation_due)
    assert more[0].data["missing_reports"] == [regency]
    await recorded(web, evaluated, events + more)
    return state, due


async def test_the_report_s_problems_read_as_sentences_with_names_and_local_dates_in_both_languages(
    web: LiveStack, orgs
):
    province, regency = orgs
    code = unused_province()
    async with session_scope(web.sessionmaker) as session:
        for entry in (
            register.Entry(org=province, name_id=f"Pemerintah Provinsi {code}", level="province", province_code=code),
            register.Entry(org=regency, name_id=f"Pemerintah Kabupaten {code}", level="regency", province_code=code),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    stalled, due = await a_stalled_review_and_an_evaluation_without_a_report(web, province, regency)
    step = L.current_step(stalled)
    assert step is not None
    today = datetime.now(UTC).date()
    query = f"org={province}&from={today - timedelta(days=200)}&to={today + timedelta(days=1)}"  # the day in Jakarta
    client = await web.signed_in_client(web.user(province, "staff"))
    for lang, step_name in (("id", step.name_id), ("en", step.name_en)):
        if lang == "en":
            page = (await client.get("/ui/dashboard")).text
            await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
        html = (await client.get(f"/ui/reports/upward?{query}")).text
        problems = section(html, "h-problems")
        text = " ".join(re.sub(r"<[^>]+>", " ", problems).split())
        overdue = {"id": f"Tahap “{step_name}” seharusnya selesai", "en": f"The step “{step_name}” was due"}[lang]
        assert f"{overdue} {local_moment(due, lang)}." in text, text
        missing = {
            "id": f"Evaluasi ke-1 disimpulkan tanpa laporan dari Pemerintah Kabupaten {code}.",
            "en": f"Evaluation 1 was concluded without the report of Pemerintah Kabupaten {code}.",
        }[lang]
        assert missing in text, text
        assert not ISO_MOMENT.search(text) and regency not in text and "step," not in text, text
        assert "evaluation_report_missing" not in text and "deadline_escalated" not in text

        pdf = pdf_text((await client.get(f"/ui/reports/upward.pdf?{query}")).content)
        assert local_moment(due, lang) in pdf and missing in pdf, pdf
        assert step_name in pdf and not ISO_MOMENT.search(pdf) and regency not in pdf, pdf
        # The evaluation's recommendation in words, as the page gives it: not the code "continue".
        assert {"id": "70, Lanjutkan. Baik", "en": "70, Continue. Baik"}[lang] in pdf, pdf

    sheet = (await client.get(f"/ui/reports/upward.csv?{query}")).text
    cells = " ".join(row["problems"] for row in csv.DictReader(io.StringIO(sheet)))
    assert f"Deadline overdue: The step “{step.name_en}” was due {local_moment(due, 'en')}." in cells, cells
    assert f"Evaluation 1 was concluded without the report of Pemerintah Kabupaten {code}." in cells, cells
    assert not ISO_MOMENT.search(cells) and regency not in cells and "deadline_overdue" not in cells, cells
    await client.aclose()


async def test_an_evaluation_the_final_one_superseded_reads_as_closed_without_a_score_not_none(web: LiveStack, orgs):
    """An evaluation left open when the term ended is closed by the final evaluation without a
    score or a recommendation (branch left18): the report's page and PDF said "None" for its
    score, the CSV "#1 None None". They say it was closed without a score, in words."""
    province, regency = orgs
    began = datetime(2027, 1, 4, 9, tzinfo=UTC)
    prop = proposal([party(province, "initiator"), party(regency)], "ksdd", duration_months=12)
    events = L.create(prop, staff(province), began, f"agr-{uuid.uuid4()}")
    state = replay(events)
    while state.stage != "implementation":
        state, more = happy_step(state, began)
        events += more
    state, more = run(state, staff(province), m.StartEvaluation(), began + timedelta(days=40))
    events += more
    after_the_term = datetime.combine(state.end_date, datetime.min.time(), UTC) + timedelta(days=2)
    while not any(e.final for e in state.evaluations):  # time brings the end-of-term evaluation
        state, more = run(state, m.SYSTEM, m.Tick(), after_the_term)
        events += more
    superseded = [e for e in state.evaluations if e.concluded_at is not None]
    assert superseded and all(e.score is None and e.recommendation is None for e in superseded)
    await recorded(web, state, events)

    client = await web.signed_in_client(web.user(province, "staff"))
    period = f"org={province}&from={state.end_date.isoformat()}&to={after_the_term.date().isoformat()}"
    for lang, words in (("id", "ditutup tanpa nilai"), ("en", "closed without a score")):
        if lang == "en":
            page = (await client.get("/ui/dashboard")).text
            await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
        html = (await client.get(f"/ui/reports/upward?{period}")).text
        listed = re.sub(r"<[^>]+>", "", section(html, "h-evaluations"))
        pdf = pdf_text((await client.get(f"/ui/reports/upward.pdf?{period}")).content)
        for shown in (listed, pdf):
            assert "#1, " in shown and words in shown and "None" not in shown, shown
    sheet = (await client.get(f"/ui/reports/upward.csv?{period}")).text
    [row] = [r for r in csv.DictReader(io.StringIO(sheet)) if r["agreement_id"] == state.id]
    assert row["evaluations"].startswith("Evaluation 1: closed without a score or recommendation"), row
    await client.aclose()
