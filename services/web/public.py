"""The public transparency portal under `/public/` (no sign-in): the agreements of the
organisations that publish (an organisation-level setting for now, kept by its staff at
`/ui/publishing`; a `publish` decision per agreement recorded in the audit trail needs a
decider command and is left to the decider), aggregate figures, a table per province, and
the same data as open data: OCDS release packages and CSV.

Only what a citizen may see is shown: parties (organisation, sector, foreign), title,
purpose, term, stage, the current step, evaluation scores. Never the value, drafts,
documents, comments, signatories' or officials' names, or anything of the audit trail."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, time
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, Response

from services.api.deps import SessionDep
from services.store.models import Agreement, PublishedOrganisation
from services.web.pages import WebDep, error_page, redirect, render
from workflows import lifecycle
from workflows import messages as m

router = APIRouter(include_in_schema=False)

PUBLISHED = PublishedOrganisation.__table__
AGREEMENTS = Agreement.__table__
OCDS_PREFIX = "ocds-pakta"
CSV_COLUMNS = (
    "id",
    "title",
    "kind",
    "stage",
    "initiator",
    "partners",
    "partner_sectors",
    "sector",
    "start_date",
    "end_date",
    "latest_score",
)


# ---------------------------------------------------------------- data


async def published_orgs(session: AsyncSession) -> set[str]:
    return set((await session.execute(select(PUBLISHED.c.org))).scalars())


async def set_published(session: AsyncSession, *, org: str, published: bool, by: str) -> None:
    if published:
        statement = insert(PUBLISHED).values(org=org, published_by=by)
        await session.execute(statement.on_conflict_do_nothing(index_elements=[PUBLISHED.c.org]))
    else:
        await session.execute(delete(PUBLISHED).where(PUBLISHED.c.org == org))


async def published_agreements(session: AsyncSession) -> list[m.AgreementState]:
    """The agreements whose initiator publishes, once submitted (a draft is not public)."""
    query = (
        select(AGREEMENTS.c.state)
        .where(AGREEMENTS.c.initiator_org.in_(select(PUBLISHED.c.org)), AGREEMENTS.c.stage != "draft")
        .order_by(AGREEMENTS.c.start_date.desc(), AGREEMENTS.c.id)
        .limit(5000)
    )
    return [m.AgreementState.model_validate(r.state) for r in await session.execute(query)]


def latest_score(state: m.AgreementState) -> int | None:
    scores = [e.score for e in state.evaluations if e.score is not None]
    return scores[-1] if scores else None


def public_view(state: m.AgreementState) -> dict[str, Any]:
    initiator = lifecycle.initiator(state)
    partners = [p for p in state.parties if p.role != "initiator"]
    step = lifecycle.step_view(state)
    return {
        "id": state.id,
        "title": state.title,
        "kind": state.kind,
        "stage": state.stage,
        "step": step,
        "objectives": state.objectives,
        "sector": state.sector,
        "initiator": initiator,
        "partners": partners,
        "parties": [
            {"org": p.org, "name": p.name, "role": p.role, "sector": p.sector, "foreign": p.foreign}
            for p in state.parties
        ],
        "start_date": state.start_date,
        "end_date": state.end_date,
        "duration_months": state.duration_months,
        "indicators": state.indicators,
        "evaluations": [
            {"number": e.number, "score": e.score, "recommendation": e.recommendation, "concluded_at": e.concluded_at}
            for e in state.evaluations
            if e.score is not None
        ],
        "latest_score": latest_score(state),
        "signed_at": max((s.at for s in state.signatures if s.scope == ""), default=None),
    }


def aggregates(views: list[dict[str, Any]]) -> dict[str, Counter]:
    return {
        "region": Counter(v["initiator"].name or v["initiator"].org for v in views),
        "sector": Counter(v["sector"] for v in views),
        "partner_kind": Counter(p.sector + (" (foreign)" if p.foreign else "") for v in views for p in v["partners"]),
        "year": Counter(str(v["start_date"].year) for v in views),
        "stage": Counter(v["stage"] for v in views),
    }


# ---------------------------------------------------------------- OCDS


def _moment(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return datetime.combine(value, time(0, 0), tzinfo=UTC).isoformat().replace("+00:00", "Z")


TENDER_STATUS = {
    "review": "planning",
    "negotiation": "active",
    "approval": "active",
    "signing": "active",
    "implementation": "complete",
    "expired": "complete",
    "terminated": "complete",
    "rejected": "unsuccessful",
    "withdrawn": "withdrawn",
}
CONTRACT_STATUS = {"implementation": "active", "expired": "terminated", "terminated": "terminated"}


def ocds_release(state: m.AgreementState) -> dict[str, Any]:
    """One agreement as an OCDS release: the initiator as buyer, the partners as suppliers
    (the closest roles of the standard's codelist), the procedure as the tender, the signed
    agreement as the contract with its evaluations as milestones."""
    ocid = f"{OCDS_PREFIX}-{state.id}"
    initiator = lifecycle.initiator(state)
    parties = [
        {
            "id": p.org,
            "name": p.name or p.org,
            "roles": ["buyer", "procuringEntity"] if p.role == "initiator" else ["supplier"],
            "details": {"sector": p.sector, "foreign": p.foreign},
        }
        for p in state.parties
    ]
    tag = ["planning"] if state.stage == "review" else ["tender"]
    release: dict[str, Any] = {
        "ocid": ocid,
        "id": f"{ocid}-{state.version}",
        "date": _moment(state.updated_at),
        "tag": tag,
        "initiationType": "tender",
        "language": "id",
        "parties": parties,
        "buyer": {"id": initiator.org, "name": initiator.name or initiator.org},
        "tender": {
            "id": state.id,
            "title": state.title,
            "description": state.objectives,
            "status": TENDER_STATUS.get(state.stage),
            "procurementMethodDetails": f"{state.kind} ({state.procedure.key} {state.procedure.version})",
            "contractPeriod": {"startDate": _moment(state.start_date), "endDate": _moment(state.end_date)},
        },
    }
    if state.stage in CONTRACT_STATUS:
        signed = [s.at for s in state.signatures if s.scope == ""]
        release["tag"] = ["contract", "implementation"] if state.stage == "implementation" else ["contractTermination"]
        release["contracts"] = [
            {
                "id": state.id,
                "awardID": state.id,
                "title": state.title,
                "description": state.objectives,
                "status": CONTRACT_STATUS[state.stage],
                "period": {
                    "startDate": _moment(state.effective_date or state.start_date),
                    "endDate": _moment(state.end_date),
                },
                "dateSigned": _moment(max(signed)) if signed else None,
                "milestones": [
                    {
                        "id": f"evaluation-{e.number}",
                        "title": f"Evaluasi {e.number}",
                        "type": "reporting",
                        "description": f"score {e.score}; {e.recommendation}" if e.score is not None else None,
                        "dateMet": _moment(e.concluded_at),
                        "status": "met" if e.concluded_at else "scheduled",
                    }
                    for e in state.evaluations
                ],
            }
        ]
    return release


def ocds_package(states: list[m.AgreementState], base_url: str) -> dict[str, Any]:
    return {
        "uri": f"{base_url.rstrip('/')}/public/ocds.json",
        "version": "1.1",
        "publishedDate": _moment(max((s.updated_at for s in states), default=datetime.now(UTC))),
        "publisher": {"name": "Pakta"},
        "releases": [ocds_release(s) for s in states],
    }


# ---------------------------------------------------------------- pages


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/public")
async def _public_root() -> Response:
    from starlette.responses import RedirectResponse

    return RedirectResponse("/public/", status_code=307)


@router.get("/public/")
async def portal(request: Request, ws: WebDep, session: SessionDep) -> Response:
    views = [public_view(s) for s in await published_agreements(session)]
    by_province: dict[str, list[dict[str, Any]]] = {}
    for v in views:
        by_province.setdefault(v["initiator"].name or v["initiator"].org, []).append(v)
    return render(
        request, ws, "public.html", views=views, counts=aggregates(views), by_province=dict(sorted(by_province.items()))
    )


@router.get("/public/agreements/{agreement_id}")
async def public_agreement(agreement_id: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    states = [s for s in await published_agreements(session) if s.id == agreement_id]
    if not states:
        t = ws.tr.t
        return error_page(
            request, ws, 404, t("Not found"), t("The page or agreement does not exist, or is not yours to see.")
        )
    return render(request, ws, "public_agreement.html", v=public_view(states[0]))


@router.get("/public/ocds.json")
async def ocds(request: Request, session: SessionDep) -> Response:
    package = ocds_package(await published_agreements(session), _base_url(request))
    return JSONResponse(package, headers={"Access-Control-Allow-Origin": "*"})


@router.get("/public/agreements.csv")
async def public_csv(session: SessionDep) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for state in await published_agreements(session):
        v = public_view(state)
        writer.writerow(
            [
                v["id"],
                v["title"],
                v["kind"],
                v["stage"],
                v["initiator"].org,
                " ".join(p.org for p in v["partners"]),
                " ".join(p.sector for p in v["partners"]),
                v["sector"],
                v["start_date"].isoformat(),
                v["end_date"].isoformat() if v["end_date"] else "",
                "" if v["latest_score"] is None else v["latest_score"],
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="pakta-public.csv"'},
    )


# ---------------------------------------------------------------- the organisation's setting


@router.get("/ui/publishing")
async def publishing_page(request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    published = principal.org in await published_orgs(session)
    return render(request, ws, "publishing.html", published=published, may=principal.has_role("staff", "admin"))


@router.post("/ui/publishing")
async def publishing(request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    form = await request.form()
    ws.check_csrf(form.get("csrf"))
    if not principal.has_role("staff", "admin"):
        t = ws.tr.t
        return error_page(
            request, ws, 403, t("Forbidden"), t("Only staff of the organisation decide what it publishes.")
        )
    await set_published(session, org=principal.org, published=form.get("publish") == "yes", by=principal.sub)
    return redirect(ws, "/ui/publishing?done=1")
