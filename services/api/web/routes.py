"""The pages of the people in the loop under `/ui/`: sign-in, inbox, agreement, drafts,
actions, proposal form. Reads go through the API's own shared modules (`load_visible`,
`inbox_items`, `document_access`); every action goes through the same functions as the JSON
API's routes (`services.api.actions.perform`, `services.api.proposals.propose`), so the same
validation, idempotency and audit apply, and a refusal is the decider's message."""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response
from temporalio.client import Client

from services.api import actions, commands
from services.api.agreements_read import load_visible
from services.api.database import read_again_if_lost
from services.api.deps import SessionDep, SettingsDep, TemporalDep, read_session
from services.api.document_access import MEDIA_TYPES, TEXT_TYPES, download, draft_document
from services.api.inbox_items import awaited, inbox_items
from services.api.party_names import named_state, register_names
from services.api.proposals import propose
from services.api.web import plan_view, svg
from services.api.web.forms import (
    MAX_INDICATORS,
    MAX_PARTIES,
    FormProblem,
    command_from_form,
    form_values_from,
    form_values_of,
    proposal_from_form,
    validate_command,
)
from services.api.web.i18n import LANGUAGES, READER_ZONES, Translator
from services.api.web.oidc import client_of, end_session_url
from services.api.web.pages import (
    READER_NAMES,
    WebDep,
    WebReadDep,
    error_page,
    party_name,
    redirect,
    render,
    with_zone,
)
from services.api.web.plan_forms import decider_errors
from services.api.web.session import LANG_COOKIE, ZONE_COOKIE, WebSession, posted_form, safe_next
from services.auth import Principal, decode_token, mint_token
from services.demo_people import DEMO_ORG, DEMO_ORGANISATIONS, DEMO_USERS, demo_sub
from services.errors import NotFound, PaktaError
from services.settings import Settings
from services.store import organisations, queries
from workflows import lifecycle
from workflows import messages as m

router = APIRouter(prefix="/ui", include_in_schema=False)


async def csrf_form(request: Request, ws: WebSession) -> FormData:
    """The posted form, once its CSRF token (field or header) is checked (`posted_form`)."""
    return await posted_form(request, ws)


# ---------------------------------------------------------------- sign-in


@dataclass(frozen=True)
class DemoPerson:
    """One of the demo people offered on the sign-in page."""

    key: str
    sub: str
    org: str
    roles: tuple[str, ...]
    gates: tuple[str, ...]


def demo_people(settings: Settings) -> list[DemoPerson]:
    """The demo people of `pakta dev` (dev only: production signs in with a token or OIDC)."""
    if settings.is_production:
        return []
    return [
        DemoPerson(key=name, sub=demo_sub(name), org=DEMO_ORG, roles=user.roles, gates=user.gates)
        for name, user in DEMO_USERS.items()
    ]


async def demo_org_names(session: AsyncSession, people: list[DemoPerson], tr: Translator) -> dict[str, str]:
    """The demo people's organisation as the header will name it once they are signed in: the
    register's name in the reader's language (kept by `READER_NAMES`, else one statement), else
    the name `pakta dev` registers it by, else its id. None to read in production (no demo)."""
    if not people:
        return {}
    names = READER_NAMES.get(DEMO_ORG)
    if names is None:
        _, name_id, name_en = await organisations.reader_of(session, org=DEMO_ORG)
        names = (name_id, name_en)
        READER_NAMES.keep(DEMO_ORG, names)
    demo = next((o for o in DEMO_ORGANISATIONS if o.org == DEMO_ORG), None)
    name_id = names[0] or (demo.name_id if demo else None)
    name_en = names[1] or (demo.name_en if demo and not names[0] else None)
    return {DEMO_ORG: (name_en if tr.lang == "en" and name_en else name_id) or DEMO_ORG}


@router.get("/signin")
async def signin_page(
    request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep, next: str | None = None
) -> Response:
    people = demo_people(settings)
    return render(
        request,
        ws,
        "signin.html",
        people=people,
        org_names=await demo_org_names(session, people, ws.tr),
        next=safe_next(next),
        error=None,
        oidc=client_of(request) is not None,
    )


@router.post("/signin")
async def signin(request: Request, ws: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    form = await csrf_form(request, ws)
    next_path = safe_next(str(form.get("next") or ""))
    person = str(form.get("person") or "")
    token = str(form.get("token") or "").strip()
    people = {p.key: p for p in demo_people(settings)}
    if person in people:
        p = people[person]
        token = mint_token(settings, sub=p.sub, org=p.org, roles=p.roles, gates=p.gates)
    try:
        principal = decode_token(settings, token) if token else None
    except PaktaError:
        principal = None
    if principal is None:
        return render(
            request,
            ws,
            "signin.html",
            status=401,
            people=list(people.values()),
            org_names=await demo_org_names(session, list(people.values()), ws.tr),
            next=next_path,
            error=ws.tr.t("The token is not valid."),
            oidc=client_of(request) is not None,
        )
    ws.sign_in(token, principal)
    return redirect(ws, next_path)


@router.post("/signout")
async def signout(request: Request, ws: WebDep) -> Response:
    await csrf_form(request, ws)
    issuer_signout = await end_session_url(request, ws)
    ws.sign_out()
    return redirect(ws, issuer_signout or "/ui/signin")


@router.post("/prefs")
async def preferences(request: Request, ws: WebDep) -> Response:
    """The language and time zone switch: a cookie each, kept for a year."""
    form = await csrf_form(request, ws)
    lang, zone = form.get("lang"), form.get("zone")
    if lang in LANGUAGES:
        ws.cookies[LANG_COOKIE] = str(lang)
    if zone in READER_ZONES:
        ws.cookies[ZONE_COOKIE] = str(zone)
    return redirect(ws, safe_next(str(form.get("next") or "")))


# ---------------------------------------------------------------- inbox


@router.get("/")
@router.get("/inbox")
async def inbox(request: Request, ws: WebDep, session: SessionDep) -> Response:
    """What awaits the reader, as `GET /inbox` has it: soonest deadline (so the overdue) first."""
    principal = ws.require(request)
    now = commands.now_utc()
    items = await inbox_items(session, principal, now)
    work = await plan_view.implementation_work(session, principal, now)
    # The parties its forms offer, named as the register names them where the recording did not.
    names = await register_names(session, (p for w in work for p in w["state"].parties), ws.tr.lang)
    for w in work:
        w["state"] = named_state(w["state"], names)
    return render(request, ws, "inbox.html", items=items, work=work, now=now, idem=uuid.uuid4().hex)


# ---------------------------------------------------------------- proposal form


def _proposal_page(
    request: Request,
    ws: WebSession,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    state: m.AgreementState | None = None,
    status: int = 200,
    error: str | None = None,
) -> Response:
    return render(
        request,
        ws,
        "proposal.html",
        status=status,
        values=values,
        errors=errors,
        state=state,
        error=error,
        kinds=get_args(m.Kind),
        sectors=get_args(m.Sector),
        max_parties=MAX_PARTIES,
        max_indicators=MAX_INDICATORS,
        sdg_choices=plan_view.sdg_choices(ws.lang),
        idem=uuid.uuid4().hex,
    )


@router.get("/agreements/new")
async def new_proposal(request: Request, ws: WebDep) -> Response:
    principal = ws.require(request)
    return _proposal_page(request, ws, values=form_values_of(None, principal.org, ws.lang), errors={})


@router.post("/agreements/new")
async def create_proposal(
    request: Request, ws: WebDep, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> Response:
    principal = ws.require(request)
    form = await csrf_form(request, ws)
    values = form_values_from(form)
    t = ws.tr.t
    try:
        proposal = proposal_from_form(form, ws.lang)
        snapshot, _ = await propose(
            session,
            temporal,
            settings,
            proposal=proposal,
            principal=principal,
            idempotency_key=str(form.get("idem") or "") or None,
        )
    except FormProblem as problem:
        return _proposal_page(
            request,
            ws,
            values=values,
            errors=problem.errors,
            status=422,
            error=t("Please correct the fields marked below."),
        )
    except PaktaError as error:
        errors = decider_errors(error.details, error.message, form)
        return _proposal_page(
            request, ws, values=values, errors=errors, status=error.status, error=ws.tr.refusal(error)
        )
    return redirect(ws, f"/ui/agreements/{snapshot.id}?done=create")


# ---------------------------------------------------------------- agreement


async def visible_state(session: AsyncSession, agreement_id: str, principal: Principal) -> m.AgreementState | None:
    try:
        return await load_visible(session, agreement_id, principal)
    except NotFound:
        return None


def not_found_page(request: Request, ws: WebSession) -> Response:
    t = ws.tr.t
    return error_page(
        request, ws, 404, t("Not found"), t("The page or agreement does not exist, or is not yours to see.")
    )


def documents_of(state: m.AgreementState, tr: Translator) -> list[dict[str, Any]]:
    """The agreement's documents, each named as a reader calls it."""
    seen: dict[str, dict[str, Any]] = {}
    for d in state.drafts:
        seen.setdefault(d.document, {"sha256": d.document, "what": f"{d.kind.upper()} v{d.version}", "at": d.at})
    for s in state.signatures:
        seen.setdefault(s.document, {"sha256": s.document, "what": f"{s.kind.upper()} v{s.version}", "at": s.at})
        if s.evidence:
            what = f"{tr.t('Signing evidence')} ({party_name(state, s.org)}, {s.kind.upper()} v{s.version})"
            seen.setdefault(s.evidence, {"sha256": s.evidence, "what": what, "at": s.at})
    return list(seen.values())


def publishable_documents(state: m.AgreementState, org: str, tr: Translator) -> list[dict[str, Any]]:
    """The signed documents `org`'s staff may mark public, each ticked if `org` already
    marked it (the `publish` form)."""
    mine = lifecycle.publication_of(state, org)
    allowed = lifecycle.signed_documents(state, org)
    return [
        d | {"public": mine is not None and d["sha256"] in mine.documents}
        for d in documents_of(state, tr)
        if d["sha256"] in allowed
    ]


async def agreement_context(
    session: AsyncSession, state: m.AgreementState, principal: Principal, ws: WebSession
) -> dict[str, Any]:
    # The parties named as the register names them where the recording did not (a copy
    # for the page: the decider's answers below do not depend on a party's name).
    state = named_state(state, await register_names(session, state.parties, ws.tr.lang))
    actor = commands.actor_of(principal)
    now = commands.now_utc()
    snapshot = lifecycle.snapshot(state, actor, now)
    events = await queries.list_events(session, agreement_id=state.id, after_seq=0, limit=1000)
    chain = await queries.verify_chain(session, agreement_id=state.id)
    step = lifecycle.current_step(state)
    latest = lifecycle.latest_draft(state, step.document) if step is not None and step.document else None
    agreed = lifecycle.agreed_draft(state, step.document) if step is not None and step.document else None
    return {
        "a": snapshot,
        "state": state,
        "events": events,
        "chain": chain,
        "items": awaited(state, actor, now),
        "diagram": svg.lifecycle_svg(state, ws.tr),
        "chart": svg.achievement_svg(state, ws.tr),
        "documents": documents_of(state, ws.tr),
        "publication": lifecycle.publication_of(state, principal.org),
        "publishable": publishable_documents(state, principal.org, ws.tr),
        "open_evaluation": lifecycle.open_evaluation(state),
        # The deadlines the extension form offers: those the decider would extend for this
        # reader (an evaluation report's only while one is open), asked of it, not copied.
        "extendable": [
            deadline
            for deadline in ("step", "evaluation_report")
            if lifecycle.accepts(state, actor, now, m.ExtendDeadline(deadline=deadline, days=1, reason="—"))
        ],
        "latest_draft": latest,
        "agreed_draft": agreed,
        "idem": uuid.uuid4().hex,
        "now": now,
        **plan_view.plan_context(state, actor, ws.tr, now),
    }


@router.get("/agreements/{agreement_id}")
async def agreement_page(agreement_id: str, request: Request, ws: WebReadDep, done: str | None = None) -> Response:
    principal = ws.require(request)

    async def read() -> dict[str, Any] | None:
        await with_zone(ws, session)
        state = await visible_state(session, agreement_id, principal)
        return None if state is None else await agreement_context(session, state, principal, ws)

    # A read session, each statement its own (as the API's GETs: no transaction, no
    # `SELECT 1` before the first read; read again, once, if the connection was lost) (#11).
    async with read_session(request) as session:
        context = await read_again_if_lost(session, read)
    if context is None:
        return not_found_page(request, ws)
    return render(request, ws, "agreement.html", done=done, error=None, errors={}, **context)


@router.get("/agreements/{agreement_id}/chain")
async def chain_status(agreement_id: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    """The audit chain verified again, as the fragment htmx swaps into the agreement page."""
    principal = ws.require(request)
    state = await visible_state(session, agreement_id, principal)
    if state is None:
        return not_found_page(request, ws)
    chain = await queries.verify_chain(session, agreement_id=agreement_id)
    checked = ws.tr.datetime(commands.now_utc())
    return render(request, ws, "_chain.html", a=state, chain=chain, checked=checked)


def side_by_side(old: list[str], new: list[str]) -> list[dict[str, Any]]:
    """Rows of a two-column diff: (line number, text) on each side and what changed."""
    rows: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            left = i1 + k if i1 + k < i2 else None
            right = j1 + k if j1 + k < j2 else None
            rows.append(
                {
                    "tag": tag,
                    "ln": None if left is None else left + 1,
                    "left": "" if left is None else old[left],
                    "rn": None if right is None else right + 1,
                    "right": "" if right is None else new[right],
                }
            )
    return rows


async def _text_of(session: AsyncSession, draft: m.Draft) -> list[str] | None:
    """A text draft's lines (None for a draft that is not text)."""
    record = await draft_document(session, draft)
    if record is None or record.media_type not in TEXT_TYPES:
        return None
    return record.content.decode("utf-8").splitlines()


@router.get("/agreements/{agreement_id}/drafts/{version}")
async def draft_page(agreement_id: str, version: int, request: Request, ws: WebDep, session: SessionDep) -> Response:
    """One draft version beside the one before it (same document, same procedure or change),
    with the accept button when accepting it is what the reader may do now."""
    principal = ws.require(request)
    state = await visible_state(session, agreement_id, principal)
    draft = next((d for d in state.drafts if d.version == version), None) if state else None
    if state is None or draft is None:
        return not_found_page(request, ws)
    earlier = [d for d in state.drafts if d.kind == draft.kind and d.scope == draft.scope and d.version < version]
    previous = earlier[-1] if earlier else None
    new = await _text_of(session, draft)
    old = (await _text_of(session, previous)) if previous else []
    rows = side_by_side(old or [], new) if new is not None and old is not None else None
    actor = commands.actor_of(principal)
    allowed = lifecycle.allowed_actions(state, actor, commands.now_utc())
    step = lifecycle.current_step(state)
    latest = lifecycle.latest_draft(state, step.document) if step is not None and step.document else None
    can_accept = "accept_draft" in allowed and latest is not None and latest.version == version
    return render(
        request,
        ws,
        "draft.html",
        state=named_state(state, await register_names(session, state.parties, ws.tr.lang)),
        draft=draft,
        previous=previous,
        rows=rows,
        can_accept=can_accept,
        idem=uuid.uuid4().hex,
    )


@router.get("/documents/{sha256}")
async def document(sha256: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    try:
        return await download(session, principal, sha256)
    except NotFound:
        return not_found_page(request, ws)


# ---------------------------------------------------------------- actions


def action_edge(request: Request, session: AsyncSession, temporal: Client, settings: Settings) -> actions.Edge:
    return actions.Edge(
        session=session, sessionmaker=request.app.state.sessionmaker, temporal=temporal, settings=settings
    )


async def perform_action(
    request: Request,
    edge: actions.Edge,
    principal: Principal,
    agreement_id: str,
    command: m.Command,
    *,
    if_match: str | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Perform the action as `POST /agreements/{id}/actions` does; a refusal raises, also
    the replayed refusal of a form sent again with the same idempotency key."""
    result = await actions.perform(
        edge,
        principal=principal,
        agreement_id=agreement_id,
        command=command,
        path=request.url.path,
        if_match=if_match,
        idempotency_key=idempotency_key,
    )
    if isinstance(result, JSONResponse):
        refusal = actions.refusal_of(result)
        if refusal is not None:
            raise refusal


@router.post("/agreements/{agreement_id}/act")
async def act(agreement_id: str, request: Request, ws: WebDep, session: SessionDep, temporal: TemporalDep) -> Response:
    principal = ws.require(request)
    form = await csrf_form(request, ws)
    state = await visible_state(session, agreement_id, principal)
    if state is None:
        return not_found_page(request, ws)
    t = ws.tr.t
    back = safe_next(str(form.get("back") or ""), f"/ui/agreements/{agreement_id}")
    try:
        body = command_from_form(form, state, t("A comment is required to request changes or reject."), ws.lang)
        if body["type"] == "submit_draft":
            text = str(form.get("text") or "").strip()
            if not text or len(text.encode("utf-8")) > ws.settings.document_max_bytes:
                raise FormProblem(t("Draft text") + ": —", {"text": "—"})
            record = await queries.put_document(
                session,
                content=text.encode("utf-8") + b"\n",
                media_type="text/markdown",
                uploaded_by=principal.sub,
                org=principal.org,
            )
            body["document"] = record.sha256
        if body["type"] == "sign" and body.get("method") == "wet_ink":
            body["evidence"] = await _uploaded_scan(session, form, principal, t, ws.settings.document_max_bytes)
        command = validate_command(body, ws.lang)
        await perform_action(
            request,
            action_edge(request, session, temporal, ws.settings),
            principal,
            agreement_id,
            command,
            idempotency_key=str(form.get("idem") or "") or None,
        )
    except FormProblem as problem:
        return await agreement_with_error(
            request, ws, session, principal, agreement_id, 422, problem.message, problem.errors
        )
    except NotFound:
        await session.rollback()  # nothing the form stored is kept, as in `agreement_with_error`
        return not_found_page(request, ws)
    except PaktaError as error:
        return await agreement_with_error(
            request, ws, session, principal, agreement_id, error.status, ws.tr.refusal(error), {}
        )
    separator = "&" if "?" in back else "?"
    return redirect(ws, f"{back}{separator}done={body['type']}")


async def _uploaded_scan(
    session: AsyncSession, form: FormData, principal: Principal, t: Callable[[str], str], limit: int
) -> str:
    """The scan of a wet-ink signature, stored like `POST /documents` stores a document."""
    scan = form.get("scan")
    content = await scan.read() if isinstance(scan, UploadFile) else b""
    media_type = (scan.content_type or "").split(";")[0].strip().lower() if isinstance(scan, UploadFile) else ""
    if not content or media_type not in MEDIA_TYPES or len(content) > limit:
        message = t("Upload the signed scan (PDF).")
        raise FormProblem(message, {"scan": message})
    record = await queries.put_document(
        session, content=content, media_type=media_type, uploaded_by=principal.sub, org=principal.org
    )
    return record.sha256


async def agreement_with_error(
    request: Request,
    ws: WebSession,
    session: AsyncSession,
    principal: Principal,
    agreement_id: str,
    status: int,
    message: str,
    errors: dict[str, str],
) -> Response:
    """The agreement page with a form's refusal. What the form stored before it was refused
    (a draft's text, a scan, evidence) is rolled back: the session commits at the edge,
    and a refused form keeps nothing."""
    await session.rollback()
    state = await visible_state(session, agreement_id, principal)
    if state is None:
        return not_found_page(request, ws)
    context = await agreement_context(session, state, principal, ws)
    return render(request, ws, "agreement.html", status=status, done=None, error=message, errors=errors, **context)


@router.get("/agreements/{agreement_id}/edit")
async def edit_proposal(agreement_id: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    state = await visible_state(session, agreement_id, principal)
    if state is None:
        return not_found_page(request, ws)
    if "edit" not in lifecycle.allowed_actions(state, commands.actor_of(principal), commands.now_utc()):
        # A link kept from before (submitted, withdrawn): the decider would refuse the save,
        # so the agreement's page, with what the reader may do now, is shown instead.
        return redirect(ws, f"/ui/agreements/{agreement_id}")
    return _proposal_page(request, ws, values=form_values_of(state, principal.org, ws.lang), errors={}, state=state)


@router.post("/agreements/{agreement_id}/edit")
async def save_proposal(
    agreement_id: str, request: Request, ws: WebDep, session: SessionDep, temporal: TemporalDep
) -> Response:
    principal = ws.require(request)
    form = await csrf_form(request, ws)
    state = await visible_state(session, agreement_id, principal)
    if state is None:
        return not_found_page(request, ws)
    values = form_values_from(form)
    t = ws.tr.t
    try:
        proposal = proposal_from_form(form, ws.lang)
        # Only what an edit carries: a field the proposal has and an edit has not (the
        # platform's `ministry_orgs`, added later) made every save of this form a 500.
        changes = proposal.model_dump(include=set(m.Edit.model_fields) - {"type"})
        command = m.Edit.model_validate({"type": "edit", **changes}, context=m.AT_THE_EDGE)
        await perform_action(
            request,
            action_edge(request, session, temporal, ws.settings),
            principal,
            agreement_id,
            command,
            if_match=actions.etag(state.version),
        )
    except FormProblem as problem:
        return _proposal_page(
            request,
            ws,
            values=values,
            errors=problem.errors,
            state=state,
            status=422,
            error=t("Please correct the fields marked below."),
        )
    except PaktaError as error:
        errors = decider_errors(error.details, error.message, form)
        return _proposal_page(
            request, ws, values=values, errors=errors, state=state, status=error.status, error=ws.tr.refusal(error)
        )
    return redirect(ws, f"/ui/agreements/{agreement_id}?done=edit")
