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
import hashlib
import hmac
import io
import uuid
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, RedirectResponse, Response

from services.api.access import may_manage
from services.api.deps import SessionDep
from services.api.web.pages import WebDep, error_page, redirect, render
from services.api.web.session import WebSession
from services.auth import Principal
from services.store.models import Agreement, PublicFeedback, PublishedOrganisation
from workflows import lifecycle
from workflows import messages as m

router = APIRouter(include_in_schema=False)

PUBLISHED = PublishedOrganisation.__table__
FEEDBACK = PublicFeedback.__table__
# Citizens' feedback: at most this many messages per sender per hour (and per agreement).
FEEDBACK_PER_HOUR = 5
FEEDBACK_PER_AGREEMENT_PER_HOUR = 2
MAX_FEEDBACK_CHARS = 2000
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


def aggregates(views: list[dict[str, Any]]) -> dict[str, Counter[str]]:
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
    feedback = await approved_feedback(session, agreement_id)
    return render(
        request,
        ws,
        "public_agreement.html",
        v=public_view(states[0]),
        feedback=feedback,
        sent=request.query_params.get("sent"),
        errors={},
        values={},
    )


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
    return render(request, ws, "publishing.html", published=published, may=may_manage(principal, principal.org))


@router.post("/ui/publishing")
async def publishing(request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    form = await request.form()
    ws.check_csrf(form.get("csrf"))
    if not may_manage(principal, principal.org):
        t = ws.tr.t
        return error_page(
            request, ws, 403, t("Forbidden"), t("Only staff of the organisation decide what it publishes.")
        )
    await set_published(session, org=principal.org, published=form.get("publish") == "yes", by=principal.sub)
    return redirect(ws, "/ui/publishing?done=1")


# ---------------------------------------------------------------- citizens' feedback


async def approved_feedback(session: AsyncSession, agreement_id: str) -> list[Any]:
    query = (
        select(FEEDBACK.c.name, FEEDBACK.c.message, FEEDBACK.c.created_at)
        .where(FEEDBACK.c.agreement_id == agreement_id, FEEDBACK.c.status == "approved")
        .order_by(FEEDBACK.c.created_at)
    )
    return list(await session.execute(query))


def client_key(request: Request) -> str:
    """The sender's address as a keyed hash: enough to count, nothing to identify."""
    settings = request.app.state.settings
    address = request.client.host if request.client else "unknown"
    return hmac.new(settings.jwt_secret.encode(), f"feedback/{address}".encode(), hashlib.sha256).hexdigest()


async def too_many(session: AsyncSession, client: str, agreement_id: str) -> bool:
    since = datetime.now(UTC) - timedelta(hours=1)
    recent = FEEDBACK.c.created_at > since
    overall = (await session.execute(select(func.count()).where(FEEDBACK.c.client == client, recent))).scalar_one()
    here = (
        await session.execute(
            select(func.count()).where(FEEDBACK.c.client == client, FEEDBACK.c.agreement_id == agreement_id, recent)
        )
    ).scalar_one()
    return overall >= FEEDBACK_PER_HOUR or here >= FEEDBACK_PER_AGREEMENT_PER_HOUR


@router.post("/public/agreements/{agreement_id}/feedback")
async def send_feedback(agreement_id: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    form = await request.form()
    ws.check_csrf(form.get("csrf"))
    states = [s for s in await published_agreements(session) if s.id == agreement_id]
    t = ws.tr.t
    if not states:
        return error_page(
            request, ws, 404, t("Not found"), t("The page or agreement does not exist, or is not yours to see.")
        )
    name = str(form.get("name") or "").strip()[:100] or None
    message = str(form.get("message") or "").strip()
    errors = {}
    if not message:
        errors["message"] = t("Write your feedback.")
    elif len(message) > MAX_FEEDBACK_CHARS:
        errors["message"] = t("At most 2000 characters.")
    elif any(ord(c) < 32 and c not in "\n\r\t" for c in message + (name or "")):
        errors["message"] = t("The text holds characters that cannot be stored.")
    client = client_key(request)
    status = 422
    if not errors and await too_many(session, client, agreement_id):
        errors["message"] = t("Too many messages from you in the last hour; try again later.")
        status = 429
    if errors:
        return render(
            request,
            ws,
            "public_agreement.html",
            status=status,
            v=public_view(states[0]),
            feedback=await approved_feedback(session, agreement_id),
            sent=None,
            errors=errors,
            values={"name": name or "", "message": message},
        )
    await session.execute(
        FEEDBACK.insert().values(
            id=str(uuid.uuid4()),
            agreement_id=agreement_id,
            org=lifecycle.initiator(states[0]).org,
            name=name,
            message=message,
            client=client,
        )
    )
    return redirect(ws, f"/public/agreements/{agreement_id}?sent=1#feedback")


async def _moderator(request: Request, ws: WebSession) -> Principal | None:
    principal = ws.require(request)
    return principal if may_manage(principal, principal.org) else None


@router.get("/ui/feedback")
async def feedback_queue(request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = await _moderator(request, ws)
    if principal is None:
        t = ws.tr.t
        return error_page(request, ws, 403, t("Forbidden"), t("Only staff of the organisation moderate feedback."))
    rows = list(
        await session.execute(
            select(FEEDBACK, AGREEMENTS.c.title)
            .join(AGREEMENTS, AGREEMENTS.c.id == FEEDBACK.c.agreement_id)
            .where(FEEDBACK.c.org == principal.org, FEEDBACK.c.status == "pending")
            .order_by(FEEDBACK.c.created_at)
        )
    )
    return render(request, ws, "feedback.html", rows=rows)


@router.post("/ui/feedback/{feedback_id}")
async def moderate(feedback_id: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    form = await request.form()
    ws.check_csrf(form.get("csrf"))
    t = ws.tr.t
    if not may_manage(principal, principal.org):
        return error_page(request, ws, 403, t("Forbidden"), t("Only staff of the organisation moderate feedback."))
    decision = "approved" if form.get("decision") == "approve" else "rejected"
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(FEEDBACK)
        .where(FEEDBACK.c.id == feedback_id, FEEDBACK.c.org == principal.org, FEEDBACK.c.status == "pending")
        .values(status=decision, moderated_by=principal.sub, moderated_at=func.now())
    )
    if result.rowcount == 0:
        return error_page(
            request, ws, 404, t("Not found"), t("The page or agreement does not exist, or is not yours to see.")
        )
    return redirect(ws, "/ui/feedback?done=1")
