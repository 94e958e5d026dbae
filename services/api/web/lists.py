"""Lists, CSV export and the dashboard. The filters and the listing are the API's own
(`GET /agreements`: stage, kind, org, q, overdue, expiring_within_days, health; the shared
`services.api.agreements_read.list_visible`), so a list in the browser, its CSV and the API
never disagree."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import Counter
from datetime import timedelta
from html import escape
from typing import Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services.api import commands, known_parties, party_names
from services.api.agreements_read import AgreementFilters, AgreementPage, AgreementSummary, list_visible
from services.api.database import read_from_the_pool
from services.api.deps import SessionDep
from services.api.reporting.table import cell
from services.api.web.pages import WebDep, WebReadDep, download, render, with_zone
from services.auth import Principal
from services.errors import PaktaError
from services.store import register
from workflows import messages as m

router = APIRouter(prefix="/ui", include_in_schema=False)

STAGES: tuple[m.Stage, ...] = get_args(m.Stage)
KINDS: tuple[m.Kind, ...] = get_args(m.Kind)
HEALTHS: tuple[m.Health, ...] = get_args(m.Health)
CSV_COLUMNS = (
    "id",
    "title",
    "kind",
    "stage",
    "step_key",
    "initiator_org",
    "orgs",
    "sector",
    "start_date",
    "end_date",
    "next_deadline_at",
    "updated_at",
    "health",
)


def filters_of(request: Request) -> AgreementFilters:
    """The list's filters from its query string; a value the API would refuse is left out."""
    q = request.query_params
    stage, kind, health = q.get("stage"), q.get("kind"), q.get("health")
    days = q.get("expiring_within_days") or ""
    # ASCII digits, four at most: `isdigit` takes "²" and thousands of digits, `int` neither.
    within = int(days) if days.isascii() and days.isdigit() and len(days) <= 4 else None
    return AgreementFilters(
        stage=next((s for s in STAGES if s == stage), None),
        kind=next((k for k in KINDS if k == kind), None),
        org=(q.get("org") or "").strip()[:64] or None,
        q=(q.get("q") or "").strip()[:200] or None,
        overdue=q.get("overdue") in ("1", "true", "on"),
        expiring_within_days=within if within is not None and within <= 3650 else None,
        health=next((h for h in HEALTHS if h == health), None),
    )


async def all_of(
    session: AsyncSession, principal: Principal, filters: AgreementFilters, most: int = 10_000
) -> list[AgreementSummary]:
    items: list[AgreementSummary] = []
    cursor = None
    while len(items) < most:
        page = await list_visible(session, principal, filters, limit=200, cursor=cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    return items


def query_string(filters: AgreementFilters, **extra: Any) -> str:
    given = {**dataclasses.asdict(filters), **extra}
    values = {k: ("true" if v is True else v) for k, v in given.items() if v not in (None, False, "")}
    return urlencode(values)


@router.get("/agreements")
async def agreement_list(request: Request, ws: WebReadDep) -> Response:
    principal = ws.require(request)
    filters = filters_of(request)
    cursor = request.query_params.get("cursor") or None

    async def read(driver: Any) -> tuple[AgreementPage, dict[str, str]]:
        await with_zone(ws, driver)
        try:
            page = await list_visible(driver, principal, filters, limit=50, cursor=cursor)
        except PaktaError:  # a cursor that is not one the list gave: its first page
            page = await list_visible(driver, principal, filters, limit=50, cursor=None)
        # The parties by the register's names: one read for the page, not one per row.
        return page, await party_names.org_names(driver, (o for i in page.items for o in i.orgs), ws.tr.lang)

    # On a pooled connection, as the API's list: no transaction, no `SELECT 1` (#11).
    page, names = await read_from_the_pool(request, read)
    return render(
        request,
        ws,
        "list.html",
        org_names=names,
        items=page.items,
        next_cursor=page.next_cursor,
        filters=filters,
        stages=STAGES,
        kinds=KINDS,
        healths=HEALTHS,
        csv_query=query_string(filters),
        next_query=query_string(filters, cursor=page.next_cursor) if page.next_cursor else None,
        now=commands.now_utc(),
    )


@router.get("/agreements.csv")
async def agreement_csv(request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    items = await all_of(session, principal, filters_of(request))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        row = item.model_dump(mode="json")
        writer.writerow([cell(" ".join(row[c]) if c == "orgs" else row[c]) for c in CSV_COLUMNS])
    return download(ws, out.getvalue(), media_type="text/csv; charset=utf-8", filename="pakta-agreements.csv")


@dataclasses.dataclass(frozen=True)
class Score:
    """An agreement's latest evaluation score, for the dashboard."""

    item: AgreementSummary
    score: int
    number: int


@router.get("/dashboard")
async def dashboard(request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    items = await all_of(session, principal, AgreementFilters())
    now = commands.now_utc()
    soon = now.date() + timedelta(days=90)
    partners: Counter[str] = Counter()
    for item in items:
        for org in item.orgs:
            if org != principal.org:
                partners[org] += 1
    counts = {
        "stage": Counter(i.stage for i in items),
        "kind": Counter(i.kind for i in items),
        "sector": Counter(i.sector for i in items),
        "partner": partners,
    }
    overdue = [i for i in items if i.next_deadline_at is not None and i.next_deadline_at < now]
    # The implementation's health as of each agreement's last recorded event (#13).
    health: Counter[str] = Counter(i.health for i in items if i.health is not None)
    ending = [
        i
        for i in items
        if i.end_date is not None and now.date() <= i.end_date <= soon and i.stage not in m.TERMINAL_STAGES
    ]
    scores: list[Score] = []
    for item in items:
        if item.stage in ("implementation", "expired", "terminated"):
            record = await known_parties.read_row(session, item.id)
            concluded = [e for e in record.state.evaluations if e.score is not None] if record else []
            last = concluded[-1] if concluded else None
            if last is not None and last.score is not None:
                scores.append(Score(item=item, score=last.score, number=last.number))
    average = sum(s.score for s in scores) / len(scores) if scores else None
    shown = (o for i in (*overdue, *ending) for o in i.orgs)
    return render(
        request,
        ws,
        "dashboard.html",
        org_names=await party_names.org_names(session, (*shown, *partners), ws.tr.lang),
        total=len(items),
        counts=counts,
        overdue=overdue,
        health=health,
        ending=ending,
        now=now,
        scores=sorted(scores, key=lambda s: s.score),
        average=average,
    )


@router.get("/known-organisations")
async def known_organisations(request: Request, ws: WebDep, session: SessionDep) -> Response:
    """The organisations to choose parties from, as the `<option>`s of the proposal form's
    datalist (loaded by htmx): the register's, with their official names and levels, and
    those the caller already works with (their own, the parties of the agreements they see)."""
    principal = ws.require(request)
    entries, _ = await register.list_page(
        session, filters=register.RegisterFilters(), ministry_org="", limit=KNOWN_ORGANISATIONS, cursor=None
    )
    labels = {e.org: _label(e, ws.tr.lang) for e in entries}
    orgs = {principal.org, *labels}
    for item in await all_of(session, principal, AgreementFilters(), most=2000):
        orgs.update(item.orgs)
    options = "".join(f'<option value="{escape(org)}">{escape(labels.get(org, ""))}</option>' for org in sorted(orgs))
    return ws.apply(Response(options, media_type="text/html; charset=utf-8"))


KNOWN_ORGANISATIONS = 3000  # the register's entries offered: every regional government and more


def _label(entry: register.Entry, lang: str) -> str:
    """What a person recognises an organisation by: its official name, level and province."""
    name = (entry.name_en if lang == "en" else None) or entry.name_id
    province = entry.province
    return f"{name} ({entry.level.replace('_', ' ')}{', ' + province.name if province else ''})"
