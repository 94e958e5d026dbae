"""The printable summary of an agreement (fpdf2, pure Python): parties, term, the steps
passed with their dates and deciders, signatures with the signed documents' hashes,
evaluations, and the implementation (#13): health, the action plan's progress and each
party's obligations — for a file or a report to the DPRD."""

from __future__ import annotations

import asyncio
import unicodedata
import weakref
from collections.abc import Callable
from functools import partial
from typing import ParamSpec

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import APIRouter, Request
from fpdf import FPDF
from starlette.responses import Response

from services.api import commands
from services.api.agreements_read import load_visible
from services.api.deps import SessionDep
from services.api.party_names import named_state, register_names
from services.api.web.i18n import Translator
from services.api.web.pages import WebDep, download, error_page
from services.errors import NotFound
from services.store import queries
from workflows import lifecycle
from workflows import messages as m
from workflows.lifecycle.progress import planned_percent
from workflows.lifecycle.reading import local_today
from workflows.procedures import CHANGE_PROCEDURES, Procedure

router = APIRouter(prefix="/ui", include_in_schema=False)

# How many PDFs a process draws at once, each in a thread of its own: fpdf2 draws in Python,
# seconds for a long report. Not in the threads Starlette shares (40: every synchronous
# dependency of every request runs there), which as many long PDFs asked at once would take
# all — every other request of the process waiting for one (review18); and two threads
# drawing under the GIL already take most of what the process's event loop has.
PDF_THREADS = 2
_P = ParamSpec("_P")
_DRAWING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = weakref.WeakKeyDictionary()


async def drawn(draw: Callable[_P, bytes], *args: _P.args, **kwargs: _P.kwargs) -> bytes:
    """`draw(*args, **kwargs)` in a thread, at most `PDF_THREADS` at once per event loop (a
    limiter belongs to the loop it is first used in); an exception it raises is raised here
    as it is, to the one error handler."""
    loop = asyncio.get_running_loop()
    limiter = _DRAWING.get(loop)
    if limiter is None:
        limiter = _DRAWING[loop] = CapacityLimiter(PDF_THREADS)
    return await anyio.to_thread.run_sync(partial(draw, *args, **kwargs), limiter=limiter)


# The PDF core fonts speak Latin-1: typographic marks become their plain forms.
# The explicit bidi controls are left out: the core fonts draw left to right and know no
# bidi, so they would only print as "?" (services.notifying.render.BIDI_CONTROLS).
PLAIN = str.maketrans(
    {"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "•": "-", "→": "->"}
    | dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
)


def plain(text: object) -> str:
    value = str(text).translate(PLAIN)
    value = unicodedata.normalize("NFKC", value)
    return value.encode("latin-1", "replace").decode("latin-1")


class Summary(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.doc_title = title
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(plain(title))
        self.set_creator("Pakta")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, plain(f"Pakta - {self.doc_title} - {self.page_no()}/{{nb}}"), align="C")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font("Helvetica", "B", 12)
        self.multi_cell(0, 7, plain(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=10)

    def line_of(self, text: str) -> None:
        self.multi_cell(0, 5.5, plain(text), new_x="LMARGIN", new_y="NEXT")


def summary_pdf(state: m.AgreementState, events: list[queries.EventRecord], tr: Translator) -> bytes:
    t = tr.t
    pdf = Summary(state.title)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, plain(state.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.line_of(f"{tr.kind(state.kind)} | {t('Stage')}: {tr.stage(state.stage)} | {t('Version')} {state.version}")
    pdf.line_of(f"ID {state.id}")
    pdf.heading(t("Parties"))
    for p in state.parties:
        role = t("Initiator") if p.role == "initiator" else t("Counterparty")
        foreign = f" ({t('Foreign')})" if p.foreign else ""
        pdf.line_of(f"- {p.name or p.org}{foreign}: {role}, {tr.value(p.sector)}; {t('Signatory')}: {p.signatory}")
    pdf.heading(t("Purpose"))
    pdf.line_of(state.objectives)
    pdf.heading(t("Term"))
    pdf.line_of(tr.term(state.start_date, state.end_date, state.duration_months))
    pdf.line_of(f"{t('Value')}: {tr.money(state.value)}")
    if state.indicators:
        pdf.heading(t("Indicators"))
        for i in state.indicators:
            pdf.line_of(f"- {i.name}: {tr.number(i.target)} {i.unit}")
    pdf.heading(t("Lifecycle"))
    names = {s.key: tr.step_name(s) for p in lifecycle_procedures(state) for s in p.steps}
    for e in events:
        who = f"{e.actor.get('sub')} ({e.actor.get('org') or 'system'})"
        step_key = str(e.data.get("step") or "")
        step = names.get(step_key, step_key)
        if e.type == "agreement_submitted":
            pdf.line_of(f"- {tr.action('submit')}: {who}, {tr.datetime(e.at)}")
        elif e.type == "gate_decided":
            org = f" / {e.data['org']}" if e.data.get("org") else ""
            outcome = tr.value(e.data.get("outcome"))
            pdf.line_of(f"- {step} [{tr.gate(e.data.get('gate'))}{org}]: {outcome} - {who}, {tr.datetime(e.at)}")
        elif e.type == "step_completed":
            pdf.line_of(f"- {t('Passed')}: {step}, {tr.datetime(e.at)}")
        elif e.type in ("implementation_started", "agreement_rejected", "agreement_withdrawn", "agreement_terminated"):
            pdf.line_of(f"- {tr.event(e.type, {})}: {tr.datetime(e.at)}")
    if state.signatures:
        pdf.heading(t("Signatures"))
        names = {p.org: p.name or p.org for p in state.parties}
        for s in state.signatures:
            method, who = tr.value(s.method), names.get(s.org, s.org)
            pdf.line_of(f"- {who}: {s.signed_by} ({method}), {tr.datetime(s.at)}; {s.kind.upper()} v{s.version}")
            pdf.set_font("Courier", size=8)
            pdf.line_of(f"  SHA-256 {s.document}")
            pdf.set_font("Helvetica", size=10)
    if state.evaluations:
        pdf.heading(t("Evaluations"))
        for ev in state.evaluations:
            score = f"; {t('Score')} {ev.score} ({tr.value(ev.recommendation)})" if ev.score is not None else ""
            pdf.line_of(f"- #{ev.number}: {tr.date(ev.opened_at)} - {tr.date(ev.due_at)}{score}")
            for report in ev.reports:
                results = ", ".join(f"{r.indicator} {tr.number(r.achieved)}" for r in report.results)
                pdf.line_of(f"    {report.org}: {results}")
    plan_section(pdf, state, tr)
    return bytes(pdf.output())


def plan_section(pdf: Summary, state: m.AgreementState, tr: Translator) -> None:
    """The action plan's progress against its schedule and the obligations with their status."""
    t = tr.t
    today = local_today(state, commands.now_utc())
    health = lifecycle.health(state, commands.now_utc())
    if state.activities:
        pdf.heading(t("Progress of the action plan"))
        if health is not None:
            reasons = "; ".join(r.text for r in health.reasons)
            pdf.line_of(f"{t('Health')}: {t(health.status)}" + (f" - {reasons}" if reasons else ""))
        for a in state.activities:
            planned = planned_percent(a, today)
            pdf.line_of(
                f"- {a.id} {a.name} ({a.party}): {tr.date(a.starts_on)} - {tr.date(a.ends_on)}; "
                f"{t('Progress')} {a.percent} % / {t('Planned')} {planned} %"
            )
    if state.obligations:
        pdf.heading(t("Obligations"))
        for o in state.obligations:
            amount = f", {tr.money(o.amount)}" if o.amount is not None else ""
            pdf.line_of(
                f"- {o.id} ({o.party}, {t(o.kind)}{amount}): {o.description}; {t('Due')} {tr.date(o.due_on)}; "
                f"{t(o.status)}" + (f" {tr.date(o.settled_at)}" if o.settled_at else "")
            )


def lifecycle_procedures(state: m.AgreementState) -> list[Procedure]:
    procedures = [lifecycle.procedure_of(state)]
    if state.change is not None:
        procedures.append(lifecycle.active_procedure(state))
    return [*procedures, *CHANGE_PROCEDURES.values()]


@router.get("/agreements/{agreement_id}/summary.pdf")
async def summary(agreement_id: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    try:
        state = await load_visible(session, agreement_id, principal)
    except NotFound:
        t = ws.tr.t
        return error_page(
            request, ws, 404, t("Not found"), t("The page or agreement does not exist, or is not yours to see.")
        )
    events = await queries.list_events(session, agreement_id=agreement_id, after_seq=0, limit=1000)
    state = named_state(state, await register_names(session, state.parties, ws.tr.lang))
    # In a thread: fpdf2 draws in Python, and a long agreement takes seconds (reports.py).
    content = await drawn(summary_pdf, state, events, ws.tr)
    return download(ws, content, media_type="application/pdf", filename=f"pakta-{agreement_id}.pdf", inline=True)
