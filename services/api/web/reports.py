"""The report upward in the browser: `/ui/reports/upward` (a form to choose the organisation
and the period, then the report), its CSV and its printable PDF (fpdf2, like the agreement
summary). The report, who may read it and the CSV are `services.api.reporting`'s, exactly as
`GET /reports/upward` serves them; only the words and the layout are here."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services.api.deps import SessionDep, SettingsDep
from services.api.reporting import problem_words
from services.api.reporting.report import (
    Problem,
    ReportsTo,
    UpwardReport,
    build_report,
    may_read_report,
    period_problem,
    reporting_line,
    utc_now,
)
from services.api.reporting.table import report_csv
from services.api.web.i18n import Translator
from services.api.web.pages import WebDep, download, error_page, render
from services.api.web.pdf import Summary, drawn, plain
from services.api.web.session import WebSession
from services.demo_people import DEMO_ORGANISATIONS
from services.notifying.render import isolate
from services.settings import Settings
from workflows.messages import EARLIEST_DATE, LATEST_DATE, is_org_id

router = APIRouter(prefix="/ui", include_in_schema=False)

# The page's own words (English -> Indonesian), beside the shared ones of i18n.ID.
WORDS: dict[str, str] = {
    "Report upward": "Laporan kerja sama",
    "Organisation": "Organisasi",
    "From": "Dari",
    "To": "Sampai",
    "Show the report": "Tampilkan laporan",
    "Reports to": "Melapor kepada",
    "the governor": "gubernur",
    "the Minister of Home Affairs": "Menteri Dalam Negeri",
    "the organisation that oversees it": "organisasi yang mengawasinya",
    "No overseer is named for this organisation in the register of organisations.": (
        "Register organisasi belum menyebut pengawas organisasi ini."
    ),
    "In force": "Berlaku",
    "New": "Baru",
    "Ended": "Berakhir",
    "Total": "Jumlah",
    "Partner sector": "Sektor mitra",
    "government": "pemerintah",
    "industry": "industri/bisnis",
    "academia": "akademisi",
    "community": "komunitas",
    "media": "media",
    "Agreements reported on": "Perjanjian yang dilaporkan",
    "Evaluation results and recommendations": "Hasil evaluasi dan rekomendasi",
    "Problems and follow-up": "Masalah dan tindak lanjut",
    "Progress of action plans": "Kemajuan rencana aksi",
    "No agreement carries an action plan yet.": "Belum ada perjanjian yang memuat rencana aksi.",
    "Foreign cooperation (the Minister of Foreign Affairs is informed)": (
        "Kerja sama luar negeri (diberitahukan kepada Menteri Luar Negeri)"
    ),
    "Nothing to report.": "Tidak ada yang dilaporkan.",
    "Activities": "Kegiatan",
    "completed": "selesai",
    "Obligations": "Kewajiban",
    "fulfilled": "dipenuhi",
    "missed": "tidak dipenuhi",
    "Action items": "Tindak lanjut rapat",
    "done": "selesai",
    "Past their date": "Melewati tanggal",
    "Mean progress": "Rata-rata kemajuan",
    "Signed": "Ditandatangani",
    "Missing reports": "Laporan tidak masuk",
    "Late reports": "Laporan terlambat",
    "closed without a score": "ditutup tanpa nilai",
    "Print (PDF)": "Cetak (PDF)",
    "… and {n} more problems: the report's page and its JSON hold every one.": (
        "… dan {n} masalah lagi: halaman laporan dan JSON-nya memuat semuanya."
    ),
    "The period ends before it starts.": "Periode berakhir sebelum dimulai.",
    "A report covers at most ten years.": "Satu laporan mencakup paling lama sepuluh tahun.",
    "No organisation has this id.": "Tidak ada organisasi dengan kode ini.",
    "Give the first and the last day of the period.": "Isi hari pertama dan terakhir periode.",
    "A report upward is read by the organisation's own staff and administrators, those of the "
    "organisation that oversees it, and operators.": (
        "Laporan ini dibaca oleh staf dan administrator organisasi itu sendiri, organisasi yang "
        "mengawasinya, dan operator."
    ),
}
OFFICES = {
    "governor": "the governor",
    "minister_of_home_affairs": "the Minister of Home Affairs",
    "other": "the organisation that oversees it",
}


class Words:
    """The page's `t`: its own words first, then the shared ones."""

    def __init__(self, tr: Translator) -> None:
        self.tr = tr

    def __call__(self, text: str) -> str:
        if self.tr.lang == "id" and text in WORDS:
            return WORDS[text]
        return self.tr.t(text)


def form_day(value: str | None) -> date | None:
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        return None
    return day if EARLIEST_DATE <= day <= LATEST_DATE else None


async def _report(
    request: Request, ws: WebSession, session: AsyncSession, settings: Settings
) -> tuple[UpwardReport | None, dict[str, Any], Response | None]:
    """The report the query string asks for, the form's values, or the refusal to show."""
    principal = ws.require(request)
    t = Words(ws.tr)
    q = request.query_params
    today = utc_now().date()
    org = (q.get("org") or principal.org).strip()[:64]
    form: dict[str, Any] = {
        "org": org,
        "from": q.get("from") or date(today.year, 1, 1).isoformat(),
        "to": q.get("to") or today.isoformat(),
        "error": None,
    }
    if "from" not in q and "to" not in q:
        return None, form, None
    start, end = form_day(q.get("from")), form_day(q.get("to"))
    if start is None or end is None:
        form["error"] = t("Give the first and the last day of the period.")
        return None, form, None
    problem = period_problem(start, end)
    if problem is not None:
        form["error"] = t(problem)
        return None, form, None
    # What `GET /reports/upward` takes as `org`: anything else names no organisation, and
    # would reach the file name of the CSV and the PDF as it is.
    if not is_org_id(org):
        form["error"] = t("No organisation has this id.")
        return None, form, None
    line = await reporting_line(session, org=org, settings=settings)
    if not may_read_report(principal, org, line):
        message = t(
            "A report upward is read by the organisation's own staff and administrators, those of the "
            "organisation that oversees it, and operators."
        )
        return None, form, error_page(request, ws, 403, t("Forbidden"), message)
    report = await build_report(session, org=org, period_from=start, period_to=end, reports_to=line, now=utc_now())
    return report, form, None


@router.get("/reports/upward")
async def upward_page(request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    report, form, refusal = await _report(request, ws, session, settings)
    if refusal is not None:
        return refusal
    query = urlencode({"org": form["org"], "from": form["from"], "to": form["to"]})
    return render(
        request,
        ws,
        "reports.html",
        t=Words(ws.tr),
        report=report,
        form=form,
        query=query,
        offices=OFFICES,
        overseer=overseer_name(report.reports_to, ws.tr.lang) if report and report.reports_to else None,
        org_names=report_names(report),
        problems=worded_problems(report, ws.tr),
    )


# An overseer the register holds no entry for, by what it is to the organisation, and its id:
# true of any ministry `PAKTA_MINISTRY_ORGS` names (its name is not known here; the office
# before it says whose minister), of a province's government, of any other overseer.
UNREGISTERED_OVERSEERS: dict[str, dict[str, str]] = {
    "id": {
        "minister_of_home_affairs": "kementerian pembina, kode {org}",
        "governor": "pemerintah provinsi, kode {org}",
        "other": "organisasi pengawas, kode {org}",
    },
    "en": {
        "minister_of_home_affairs": "the overseeing ministry, id {org}",
        "governor": "the province's government, id {org}",
        "other": "the overseeing organisation, id {org}",
    },
}


def overseer_name(reports_to: ReportsTo, lang: str) -> str:
    """The overseer as the "Reports to" line names it, on the page and in the PDF, after the
    office in words: the register's name, else the name `pakta dev` registers it by in the
    reader's language (the ministry, which a register may hold no entry for:
    `PAKTA_MINISTRY_ORGS` names it without one), else what it is and its id ("the
    overseeing ministry, id kemen-x": a deployment's ministry of another id), never the id
    alone."""
    if reports_to.name:
        return reports_to.name
    demo = next((o for o in DEMO_ORGANISATIONS if o.org == reports_to.org), None)
    if demo is not None:
        return demo.name_en if lang == "en" else demo.name_id
    words = UNREGISTERED_OVERSEERS["en" if lang == "en" else "id"]
    return words.get(reports_to.office, words["other"]).format(org=reports_to.org)


def report_names(report: UpwardReport | None) -> dict[str, str]:
    """The names a report gives the organisations it holds by id (an evaluation's missing
    and late reports): its partners' and its own, as its other lines name them."""
    if report is None:
        return {}
    names = {p.org: p.name for a in report.agreements for p in a.partners if p.name}
    if report.name:
        names[report.org] = report.name
    return names


def worded_problems(report: UpwardReport | None, tr: Translator) -> list[tuple[Problem, str, str]]:
    """Each problem with its label and its sentence in the reader's language and zone, its
    organisations by the names the report gives them (`problem_words`), not its `detail`."""
    if report is None:
        return []
    names = report_names(report)
    # What people typed (the organisations' names, a reason) isolated inside the sentence: an
    # override in it turns nothing of the sentence around (`isolate`).
    return [
        (
            p,
            problem_words.label(p.kind, tr.lang),
            problem_words.sentence(
                _with_text_isolated(p),
                tr.lang,
                tr.zone,
                lambda o: isolate(names.get(o, o)),
            ),
        )
        for p in report.problems
    ]


def _with_text_isolated(problem: Problem) -> Problem:
    """`problem` with what a person wrote isolated (`isolate`): copied only when it changes."""
    text = isolate(problem.text) if problem.text else problem.text
    return problem if text == problem.text else problem.model_copy(update={"text": text})


@router.get("/reports/upward.csv")
async def upward_csv(request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    report, form, refusal = await _report(request, ws, session, settings)
    if refusal is not None or report is None:
        return refusal or error_page(request, ws, 422, ws.tr.t("Not found"), str(form["error"] or ""))
    name = f"pakta-report-{report.org}-{report.period_from}-{report.period_to}.csv"
    return download(ws, report_csv(report), media_type="text/csv; charset=utf-8", filename=name)


@router.get("/reports/upward.pdf")
async def upward_pdf(request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    report, form, refusal = await _report(request, ws, session, settings)
    if refusal is not None or report is None:
        return refusal or error_page(request, ws, 422, ws.tr.t("Not found"), str(form["error"] or ""))
    name = f"pakta-report-{report.org}-{report.period_from}-{report.period_to}.pdf"
    # fpdf2 draws some 40,000 characters a second, in Python: in a thread, so that a long
    # report holds the request that asked for it, not every other request of the process.
    content = await drawn(report_pdf, report, ws.tr)
    return download(ws, content, media_type="application/pdf", filename=name, inline=True)


# What the printable report gives of its problems: each line at most `PDF_PROBLEM_CHARS`
# (a reason may be 20,000 characters), at most `PDF_PROBLEMS` lines, then how many more the
# page and the JSON hold — hundreds of problems with long reasons made a PDF of thousands of
# pages, minutes in the drawing.
PDF_PROBLEM_CHARS = 600
PDF_PROBLEMS = 300


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_pdf(report: UpwardReport, tr: Translator) -> bytes:
    t = Words(tr)
    who = report.name or report.org
    title = f"{t('Report upward')}: {who}, {tr.date(report.period_from)} - {tr.date(report.period_to)}"
    pdf = Summary(title)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, plain(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    if report.reports_to:
        overseer = overseer_name(report.reports_to, tr.lang)
        pdf.line_of(f"{t('Reports to')}: {t(OFFICES[report.reports_to.office])} ({overseer})")
    pdf.heading(t("Legal basis"))
    for basis in report.legal_basis:
        if tr.lang == "id":
            pdf.line_of(f"- {basis.basis_id}: {basis.id}")
        else:
            pdf.line_of(f"- {basis.basis}: {basis.en}")
    pdf.heading(f"{t('In force')} / {t('New')} / {t('Ended')}")
    s = report.summary
    pdf.line_of(f"{t('Total')}: {s.in_force.total} / {s.new.total} / {s.ended.total}")
    for kind in s.in_force.by_kind:
        pdf.line_of(f"- {kind.upper()}: {s.in_force.by_kind[kind]} / {s.new.by_kind[kind]} / {s.ended.by_kind[kind]}")
    for sector in s.in_force.by_partner_sector:
        counts = (
            s.in_force.by_partner_sector[sector],
            s.new.by_partner_sector[sector],
            s.ended.by_partner_sector[sector],
        )
        pdf.line_of(f"- {t('Partner sector')} {t(sector)}: {counts[0]} / {counts[1]} / {counts[2]}")
    pdf.heading(t("Agreements reported on"))
    for a in report.agreements:
        ended = f"; {t('Ended')} {tr.date(a.ended_on)} ({tr.stage(a.ended_as or '')})" if a.ended_on else ""
        reason = f": {a.termination_reason}" if a.termination_reason else ""
        partners = ", ".join(f"{p.name or p.org} ({t(p.sector)})" for p in a.partners)
        pdf.line_of(f"- {a.title} [{a.kind.upper()}] {partners}; {t('Signed')} {tr.date(a.signed_on)}{ended}{reason}")
    pdf.heading(t("Evaluation results and recommendations"))
    for e in report.evaluations:
        # One superseded by the final evaluation was closed without a score (it read "None").
        outcome = t("closed without a score") if e.score is None else f"{e.score}, {tr.value(e.recommendation)}"
        pdf.line_of(f"- {e.title} #{e.number}, {tr.date(e.concluded_on)}: {outcome}. {e.summary or ''}")
    if not report.evaluations:
        pdf.line_of(t("Nothing to report."))
    pdf.heading(t("Problems and follow-up"))
    problems = worded_problems(report, tr)
    for p, label, sentence in problems[:PDF_PROBLEMS]:
        pdf.line_of(_shortened(f"- {tr.date(p.on)} {p.title}: {label} - {sentence}", PDF_PROBLEM_CHARS))
    if len(problems) > PDF_PROBLEMS:
        more = len(problems) - PDF_PROBLEMS
        pdf.line_of(t("… and {n} more problems: the report's page and its JSON hold every one.").format(n=more))
    if not report.problems:
        pdf.line_of(t("Nothing to report."))
    pdf.heading(t("Progress of action plans"))
    plans = [a for a in report.agreements if a.action_plan is not None]
    for a in plans:
        plan = a.action_plan
        assert plan is not None
        pdf.line_of(
            f"- {a.title}: {t('Activities')} {plan.activities_completed}/{plan.activities} {t('completed')}, "
            f"{t('Mean progress')} {plan.mean_percent}%; {t('Obligations')} {plan.obligations_fulfilled}/"
            f"{plan.obligations} {t('fulfilled')}; {t('Past their date')}: {len(plan.late)}"
        )
    if not plans:
        pdf.line_of(t("No agreement carries an action plan yet."))
    if report.foreign_cooperation:
        pdf.heading(t("Foreign cooperation (the Minister of Foreign Affairs is informed)"))
        for a in report.agreements:
            if a.id in report.foreign_cooperation:
                pdf.line_of(f"- {a.title} ({a.kind.upper()})")
    pdf.line_of("")
    pdf.line_of(f"Pakta, {tr.datetime(report.generated_at)}")
    return bytes(pdf.output())
