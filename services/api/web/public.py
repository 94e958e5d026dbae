"""The public transparency portal under `/public/` (no sign-in): the agreements at least one
party published (a `publish` decision of the decider, recorded in the audit trail; staff
publish and take back from the agreement's page), aggregate figures, a table per
province, the signed documents a publishing party marked public, and the same data as
open data: OCDS release packages (`services.api.web.ocds`) and CSV. `/ui/publishing` shows
an organisation what it publishes.

Only what a citizen may see is shown: parties (organisation, sector, foreign), title,
purpose, term, stage, the current step, evaluation scores, and the documents marked
public. Never the value, drafts, other documents, comments, signatories' or officials'
names, or anything of the audit trail."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from services.api.access import may_manage
from services.api.deps import SessionDep, SettingsDep
from services.api.party_names import named_state, named_states, register_names
from services.api.reporting.table import cell
from services.api.web.ocds import ocds_package
from services.api.web.pages import WebDep, error_page, party_name, redirect, render
from services.api.web.session import WebSession, echoed, posted_form
from services.store import public as store
from services.store import register
from workflows import lifecycle
from workflows import messages as m

router = APIRouter(include_in_schema=False)

# The portal's open data (its CSV, its OCDS): public, so any cache may keep it, but changed by
# the next publication or withdrawal, so a cache asks again each time (`no-cache`; without a
# validator, it is fetched again). A public document keeps `public, max-age=300` and its
# `ETag`: its hash is its name, so it never changes; what may change is whether it is still
# published, and five minutes bounds how long a cache may show it after a withdrawal.
PUBLIC_LIST = "no-cache"

# Citizens' feedback: at most this many messages per sender per hour (and per agreement).
FEEDBACK_PER_HOUR = 5
FEEDBACK_PER_AGREEMENT_PER_HOUR = 2
MAX_FEEDBACK_CHARS = 2000
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
    "published_by",
)


def latest_score(state: m.AgreementState) -> int | None:
    scores = [e.score for e in state.evaluations if e.score is not None]
    return scores[-1] if scores else None


def public_documents(state: m.AgreementState) -> list[dict[str, Any]]:
    """The documents the publishing parties marked public, each named by what it is: a
    signed text (its kind and version) or a party's signing evidence."""
    out = []
    for sha in sorted(lifecycle.public_documents(state)):
        text = next((s for s in state.signatures if s.document == sha), None)
        scan = next((s for s in state.signatures if s.evidence == sha), None)
        signed = text or scan
        assert signed is not None, "only signed documents are ever marked public"
        out.append({"sha256": sha, "kind": signed.kind, "version": signed.version, "evidence": text is None})
    return out


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
        "published_by": [p.org for p in state.publications],
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
        "documents": public_documents(state),
    }


def aggregates(views: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    return {
        "region": Counter(v["initiator"].name or v["initiator"].org for v in views),
        "sector": Counter(v["sector"] for v in views),
        "partner_kind": Counter(p.sector + (" (foreign)" if p.foreign else "") for v in views for p in v["partners"]),
        "year": Counter(str(v["start_date"].year) for v in views),
        "stage": Counter(v["stage"] for v in views),
    }


def moderating_org(state: m.AgreementState) -> str:
    """Who moderates a published agreement's feedback: the initiator if it publishes the
    agreement, else the first party that does."""
    publishers = [p.org for p in state.publications]
    lead = lifecycle.initiator(state).org
    return lead if lead in publishers else publishers[0]


def not_found_page(request: Request, ws: WebSession) -> Response:
    t = ws.tr.t
    return error_page(
        request, ws, 404, t("Not found"), t("The page or agreement does not exist, or is not yours to see.")
    )


# ---------------------------------------------------------------- pages


@router.get("/public")
async def _public_root() -> Response:
    return RedirectResponse("/public/", status_code=307)


@router.get("/public/")
async def portal(request: Request, ws: WebDep, session: SessionDep) -> Response:
    states = await named_states(session, await store.published_agreements(session), ws.tr.lang)
    views = [public_view(s) for s in states]
    # The table per province follows the register (where the initiator is); an initiator
    # the register does not place in a province heads a table of its own.
    provinces = await register.province_of(session, orgs=[v["initiator"].org for v in views])
    by_province: dict[str, list[dict[str, Any]]] = {}
    for v in views:
        province = provinces.get(v["initiator"].org)
        heading = province.name if province is not None else v["initiator"].name or v["initiator"].org
        by_province.setdefault(heading, []).append(v)
    return render(
        request, ws, "public.html", views=views, counts=aggregates(views), by_province=dict(sorted(by_province.items()))
    )


@router.get("/public/agreements/{agreement_id}")
async def public_agreement(agreement_id: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    state = await store.published_agreement(session, agreement_id=agreement_id)
    if state is None:
        return not_found_page(request, ws)
    return render(
        request,
        ws,
        "public_agreement.html",
        v=public_view(named_state(state, await register_names(session, state.parties, ws.tr.lang))),
        feedback=await store.approved_feedback(session, agreement_id=agreement_id),
        sent=request.query_params.get("sent"),
        errors={},
        values={},
    )


@router.get("/public/agreements/{agreement_id}/documents/{sha256}")
async def public_document(
    agreement_id: str, sha256: str, request: Request, ws: WebDep, session: SessionDep
) -> Response:
    """A signed document a publishing party marked public; every other document of the
    agreement, and every document of an unpublished one, is 404 here."""
    record = await store.public_document(session, agreement_id=agreement_id, sha256=sha256.lower())
    if record is None:
        return not_found_page(request, ws)
    extension = {"application/pdf": "pdf", "text/plain": "txt", "text/markdown": "md"}.get(record.media_type, "bin")
    return Response(
        content=record.content,
        media_type=record.media_type,
        headers={
            "ETag": f'"{record.sha256}"',
            "Cache-Control": "public, max-age=300",
            "Content-Disposition": f'attachment; filename="{agreement_id}-{record.sha256[:12]}.{extension}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/public/ocds.json")
async def ocds(session: SessionDep, settings: SettingsDep) -> Response:
    # OCDS's parties carry a name: the register's where the recording holds none (Indonesian).
    states = await named_states(session, await store.published_agreements(session), "id")
    package = ocds_package(states, settings.public_url)
    return JSONResponse(package, headers={"Access-Control-Allow-Origin": "*", "Cache-Control": PUBLIC_LIST})


@router.get("/public/agreements.csv")
async def public_csv(session: SessionDep) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for state in await store.published_agreements(session):
        v = public_view(state)
        # Titles and names are typed by people: a leading = + - @ would run as a
        # spreadsheet formula on the computer of whoever opens the file.
        writer.writerow(
            [
                cell(value)
                for value in (
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
                    v["latest_score"],
                    " ".join(v["published_by"]),
                )
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="pakta-public.csv"', "Cache-Control": PUBLIC_LIST},
    )


# ---------------------------------------------------------------- what an organisation publishes


@router.get("/ui/publishing")
async def publishing_page(request: Request, ws: WebDep, session: SessionDep) -> Response:
    """The organisation's signed agreements and whether it publishes each: publishing
    itself is a decision on the agreement's page (the `publish` action)."""
    principal = ws.require(request)
    # The other publishers named as the agreement's page names its parties (one register
    # read for those recorded without a name).
    states = await named_states(session, await store.agreements_of(session, org=principal.org), ws.tr.lang)
    rows = [
        {
            "id": s.id,
            "title": s.title,
            "stage": s.stage,
            "ours": lifecycle.publication_of(s, principal.org),
            "others": [party_name(s, p.org) for p in s.publications if p.org != principal.org],
        }
        for s in states
    ]
    return render(request, ws, "publishing.html", rows=rows, may=may_manage(principal, principal.org))


# ---------------------------------------------------------------- citizens' feedback


def client_key(request: Request) -> str:
    """The sender's address as a keyed hash: enough to count, nothing to identify."""
    settings = request.app.state.settings
    address = request.client.host if request.client else "unknown"
    return hmac.new(settings.jwt_secret.encode(), f"feedback/{address}".encode(), hashlib.sha256).hexdigest()


async def too_many(session: SessionDep, client: str, agreement_id: str) -> bool:
    overall, here = await store.recent_feedback_counts(
        session, client=client, agreement_id=agreement_id, now=datetime.now(UTC), within=timedelta(hours=1)
    )
    return overall >= FEEDBACK_PER_HOUR or here >= FEEDBACK_PER_AGREEMENT_PER_HOUR


@router.post("/public/agreements/{agreement_id}/feedback")
async def send_feedback(agreement_id: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    form = await posted_form(request, ws)
    state = await store.published_agreement(session, agreement_id=agreement_id)
    if state is None:
        return not_found_page(request, ws)
    t = ws.tr.t
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
            v=public_view(named_state(state, await register_names(session, state.parties, ws.tr.lang))),
            feedback=await store.approved_feedback(session, agreement_id=agreement_id),
            sent=None,
            errors=errors,
            values=echoed({"name": name or "", "message": message}),
        )
    await store.add_feedback(
        session, agreement_id=agreement_id, org=moderating_org(state), name=name, message=message, client=client
    )
    return redirect(ws, f"/public/agreements/{agreement_id}?sent=1#feedback")


@router.get("/ui/feedback")
async def feedback_queue(request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    if not may_manage(principal, principal.org):
        t = ws.tr.t
        return error_page(request, ws, 403, t("Forbidden"), t("Only staff of the organisation moderate feedback."))
    return render(request, ws, "feedback.html", rows=await store.pending_feedback(session, org=principal.org))


@router.post("/ui/feedback/{feedback_id}")
async def moderate(feedback_id: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    form = await posted_form(request, ws)
    t = ws.tr.t
    if not may_manage(principal, principal.org):
        return error_page(request, ws, 403, t("Forbidden"), t("Only staff of the organisation moderate feedback."))
    decision = form.get("decision")
    if decision not in ("approve", "reject"):
        # Anything but "approve" rejected the message: a form missing its button's value
        # decided for the moderator.
        return error_page(request, ws, 422, t("Refused"), t("Choose whether to show the message or not."))
    moderated = await store.moderate_feedback(
        session, feedback_id=feedback_id, org=principal.org, approve=decision == "approve", by=principal.sub
    )
    if not moderated:
        return not_found_page(request, ws)
    return redirect(ws, "/ui/feedback?done=1")
