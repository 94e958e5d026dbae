"""The overseer's roll-up in the browser: `/ui/reports/overseen` (a form for the period, then a
table per organisation it oversees — the summary of that organisation's own report upward,
linking to it — and the totals), its CSV and its printable PDF; and the dashboard's link to
it, shown to an organisation that oversees others. The roll-up, who may read it and the CSV
are `services.api.reporting`'s, exactly as `GET /reports/overseen` serves them."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, Response

from services.api.deps import SessionDep, SettingsDep
from services.api.register_entries import ministry_of
from services.api.reporting.report import Summary as Counts
from services.api.reporting.report import utc_now
from services.api.reporting.rollup import OverseenLine, OversightRollup, build_rollup, may_read_rollup
from services.api.reporting.table import rollup_csv
from services.api.web.i18n import Translator
from services.api.web.pages import WebDep, download, error_page, render
from services.api.web.pdf import Summary, drawn, plain
from services.api.web.register import RegisterWords, level_words, name_of
from services.api.web.reports import form_day
from services.api.web.session import WebSession
from services.settings import Settings
from services.store import register

router = APIRouter(prefix="/ui", include_in_schema=False)

WORDS: dict[str, str] = {
    "Roll-up of the organisations overseen": "Rekapitulasi organisasi yang diawasi",
    "Overseer": "Pengawas",
    "Show the roll-up": "Tampilkan rekapitulasi",
    "Totals": "Jumlah keseluruhan",
    "Evaluations concluded": "Evaluasi yang disimpulkan",
    "Problems": "Masalah",
    "Foreign cooperation": "Kerja sama luar negeri",
    "The register names no organisation that it oversees.": ("Register tidak menyebut organisasi yang diawasinya."),
    "An agreement between two of them counts for each.": (
        "Perjanjian antara dua di antaranya dihitung untuk masing-masing."
    ),
    "An overseer's roll-up is read by its own staff and administrators, and operators.": (
        "Rekapitulasi pengawas dibaca oleh staf dan administratornya sendiri, dan operator."
    ),
}


class RollupWords(RegisterWords):
    def __call__(self, text: str) -> str:
        if self.tr.lang == "id" and text in WORDS:
            return WORDS[text]
        return super().__call__(text)


async def _rollup(
    request: Request, ws: WebSession, session: AsyncSession, settings: Settings
) -> tuple[OversightRollup | None, dict[str, Any], Response | None]:
    """The roll-up the query string asks for, the form's values, or the refusal to show."""
    principal = ws.require(request)
    t = RollupWords(ws.tr)
    q = request.query_params
    today = utc_now().date()
    org = (q.get("org") or principal.org).strip()[:64]
    form: dict[str, Any] = {
        "org": org,
        "from": q.get("from") or date(today.year, 1, 1).isoformat(),
        "to": q.get("to") or today.isoformat(),
        "error": None,
    }
    if not may_read_rollup(principal, org):
        message = t("An overseer's roll-up is read by its own staff and administrators, and operators.")
        return None, form, error_page(request, ws, 403, t("Forbidden"), message)
    if "from" not in q and "to" not in q:
        return None, form, None
    start, end = form_day(q.get("from")), form_day(q.get("to"))
    if start is None or end is None:
        form["error"] = t("Give the first and the last day of the period.")
        return None, form, None
    if end < start:
        form["error"] = t("The period ends before it starts.")
        return None, form, None
    rollup = await build_rollup(
        session, overseer=org, period_from=start, period_to=end, settings=settings, now=utc_now()
    )
    return rollup, form, None


@router.get("/reports/overseen")
async def overseen_page(request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    rollup, form, refusal = await _rollup(request, ws, session, settings)
    if refusal is not None:
        return refusal
    t = RollupWords(ws.tr)
    entry = await register.get(session, org=str(form["org"]))
    return render(
        request,
        ws,
        "rollup.html",
        t=t,
        rollup=rollup,
        form=form,
        overseer_name=name_of(entry, ws.tr) if entry else str(form["org"]),
        names={line.org: line_name(line, ws.tr) for line in rollup.organisations} if rollup else {},
        levels=level_words(t),
        query=urlencode({"org": form["org"], "from": form["from"], "to": form["to"]}),
        period=urlencode({"from": form["from"], "to": form["to"]}),
    )


@router.get("/reports/overseen.csv")
async def overseen_csv(request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    rollup, form, refusal = await _rollup(request, ws, session, settings)
    if refusal is not None or rollup is None:
        return refusal or error_page(request, ws, 422, ws.tr.t("Not found"), str(form["error"] or ""))
    name = f"pakta-rollup-{rollup.overseer}-{rollup.period_from}-{rollup.period_to}.csv"
    return download(ws, rollup_csv(rollup), media_type="text/csv; charset=utf-8", filename=name)


@router.get("/reports/overseen.pdf")
async def overseen_pdf(request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    rollup, form, refusal = await _rollup(request, ws, session, settings)
    if refusal is not None or rollup is None:
        return refusal or error_page(request, ws, 422, ws.tr.t("Not found"), str(form["error"] or ""))
    entry = await register.get(session, org=rollup.overseer)
    name = f"pakta-rollup-{rollup.overseer}-{rollup.period_from}-{rollup.period_to}.pdf"
    # In a thread, as the report upward's PDF (reports.py).
    content = await drawn(rollup_pdf, rollup, name_of(entry, ws.tr) if entry else rollup.overseer, ws.tr)
    return download(
        ws,
        content,
        media_type="application/pdf",
        filename=name,
        inline=True,
    )


@router.get("/dashboard/oversight")
async def dashboard_link(request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    """The dashboard's link to the roll-up (loaded by htmx): for the staff and administrators
    of an organisation that oversees others; nothing for anyone else."""
    principal = ws.require(request)
    if not principal.has_role("staff", "admin"):
        return ws.apply(HTMLResponse(""))
    overseen = await register.overseen_by(session, org=principal.org, ministry_org=ministry_of(settings), limit=1)
    if not overseen:
        return ws.apply(HTMLResponse(""))
    t = RollupWords(ws.tr)
    link = f'· <a href="/ui/reports/overseen">{t("Roll-up of the organisations overseen")}</a>'
    return ws.apply(HTMLResponse(link))


def line_name(line: OverseenLine, tr: Translator) -> str:
    """An organisation overseen by its register name in the reader's language (its id is
    the page's links' and the CSV's, not the reader's)."""
    return (line.name_en if tr.lang == "en" else None) or line.name


def _counts_lines(counts: Counts, t: RollupWords) -> list[str]:
    lines = [f"{t('Total')}: {counts.in_force.total} / {counts.new.total} / {counts.ended.total}"]
    for kind in counts.in_force.by_kind:
        n = (counts.in_force.by_kind[kind], counts.new.by_kind[kind], counts.ended.by_kind[kind])
        lines.append(f"- {kind.upper()}: {n[0]} / {n[1]} / {n[2]}")
    return lines


def rollup_pdf(rollup: OversightRollup, overseer_name: str, tr: Translator) -> bytes:
    t = RollupWords(tr)
    levels = level_words(t)
    title = (
        f"{t('Roll-up of the organisations overseen')}: {overseer_name}, "
        f"{tr.date(rollup.period_from)} - {tr.date(rollup.period_to)}"
    )
    pdf = Summary(title)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, plain(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.line_of(f"{t('In force')} / {t('New')} / {t('Ended')}")
    for line in rollup.organisations:
        pdf.heading(f"{line_name(line, tr)} ({levels.get(line.level, line.level)})")
        for text in _counts_lines(line.summary, t):
            pdf.line_of(text)
        pdf.line_of(
            f"{t('Evaluations concluded')}: {line.evaluations}; {t('Problems')}: {line.problems}; "
            f"{t('Foreign cooperation')}: {line.foreign_cooperation}"
        )
    if not rollup.organisations:
        pdf.line_of(t("The register names no organisation that it oversees."))
    pdf.heading(t("Totals"))
    for text in _counts_lines(rollup.totals, t):
        pdf.line_of(text)
    pdf.line_of(t("An agreement between two of them counts for each."))
    pdf.line_of("")
    pdf.line_of(f"Pakta, {tr.datetime(rollup.generated_at)}")
    return bytes(pdf.output())
