"""The routes of the implementation's pages (#13): the one route the forms of the inbox
and the agreement page post to (report progress, record a measurement, settle an
obligation, accept a plan revision, complete an action item, schedule a meeting, record its
minutes — what they show is `plan_view`'s), and the proposal form's rows of goals,
obligations and activities added and removed with htmx.

Every form goes through the API's own command path (`routes.perform_action` →
`services.api.actions.perform`): the same validation, idempotency and audit, and a refusal
is the decider's message on the agreement page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from services.api.deps import SessionDep, TemporalDep
from services.api.document_access import MEDIA_TYPES
from services.api.web import routes
from services.api.web.forms import FormProblem, validate_command
from services.api.web.pages import WebDep, redirect, render
from services.api.web.plan_forms import GROUPS, plan_command
from services.api.web.session import safe_next
from services.auth import Principal
from services.errors import NotFound, PaktaError
from services.store import queries
from workflows import messages as m

router = APIRouter(prefix="/ui", include_in_schema=False)

PLAN_COMMANDS = (
    "report_progress",
    "record_measurement",
    "settle_obligation",
    "accept_plan_revision",
    "withdraw_plan_revision",
    "complete_action_item",
    "schedule_meeting",
    "record_minutes",
)


async def _uploads(
    session: AsyncSession, form: FormData, name: str, principal: Principal, t: Callable[[str], str], limit: int
) -> list[str]:
    """The files of field `name`, stored like `POST /documents` stores a document: the
    reporter's own uploads, which the command then attaches."""
    stored = []
    for upload in form.getlist(name):
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        content = await upload.read()
        media_type = (upload.content_type or "").split(";")[0].strip().lower()
        if not content:
            continue
        if media_type not in MEDIA_TYPES or len(content) > limit:
            message = t("Upload a PDF or a text document.")
            raise FormProblem(message, {name: message})
        record = await queries.put_document(
            session, content=content, media_type=media_type, uploaded_by=principal.sub, org=principal.org
        )
        stored.append(record.sha256)
    return stored


@router.post("/agreements/{agreement_id}/plan")
async def plan_action(
    agreement_id: str, request: Request, ws: WebDep, session: SessionDep, temporal: TemporalDep
) -> Response:
    """One implementation command from a form of the inbox or the agreement page."""
    principal = ws.require(request)
    form = await routes.csrf_form(request, ws)
    state = await routes.visible_state(session, agreement_id, principal)
    if state is None:
        return routes.not_found_page(request, ws)
    t = ws.tr.t
    back = safe_next(str(form.get("back") or ""), f"/ui/agreements/{agreement_id}")
    try:
        body = plan_command(form, ws.tr.zone, ws.lang)
        if body["type"] not in PLAN_COMMANDS:
            raise FormProblem(t("Not found"), {})
        if body["type"] == "report_progress" and "percent" not in body and "milestone" not in body:
            message = t("Give a percentage or a milestone reached.")
            raise FormProblem(message, {"percent": message})
        limit = ws.settings.document_max_bytes
        if body["type"] in ("report_progress", "settle_obligation", "complete_action_item"):
            body["evidence"] = await _uploads(session, form, "evidence", principal, t, limit)
        if body["type"] == "record_minutes":
            documents = await _uploads(session, form, "document", principal, t, limit)
            if not documents:
                message = t("Upload the minutes (PDF or text).")
                raise FormProblem(message, {"document": message})
            body["document"] = documents[0]
        command = validate_command(body, ws.lang)
        await routes.perform_action(
            request,
            routes.action_edge(request, session, temporal, ws.settings),
            principal,
            agreement_id,
            command,
            idempotency_key=str(form.get("idem") or "") or None,
        )
    except FormProblem as problem:
        return await routes.agreement_with_error(
            request, ws, session, principal, agreement_id, 422, problem.message, problem.errors
        )
    except NotFound:
        await session.rollback()  # nothing the form stored is kept, as in `agreement_with_error`
        return routes.not_found_page(request, ws)
    except PaktaError as error:
        return await routes.agreement_with_error(
            request, ws, session, principal, agreement_id, error.status, ws.tr.refusal(error), {}
        )
    separator = "&" if "?" in back else "?"
    return redirect(ws, f"{back}{separator}done={body['type']}#plan")


# ---------------------------------------------------------------- proposal form rows


@router.get("/proposal/rows/{group}")
async def proposal_row(group: str, request: Request, ws: WebDep, index: int = 0) -> Response:
    """A blank row of the proposal form's goals, obligations or activities (htmx appends it
    and the "add" button asks for the next index next time)."""
    ws.require(request)
    if group not in GROUPS or not 0 <= index < m.MAX_PLAN_ITEMS:
        return routes.not_found_page(request, ws)
    return render(request, ws, "_plan_row.html", group=group, i=index, values={}, errors={}, oob=True)


@router.get("/proposal/rows")
async def removed_row(request: Request, ws: WebDep) -> Response:
    """Nothing: what htmx swaps in for a row the reader removes (`hx-swap="delete"`)."""
    ws.require(request)
    return ws.apply(Response("", media_type="text/html; charset=utf-8"))
