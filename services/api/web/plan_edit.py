"""The plan's two whole-list forms (#13), each a page of its own: initiating staff edit the
goals, obligations and activities while the agreement's text is negotiated (`edit_plan`),
and a party proposes a revision of the activities in force (`propose_plan_revision`: the
whole list, re-timed or with new activities within each party's budget). Both show the
proposal form's rows (`_proposal_plan.html`, `plan_forms`) filled with the plan as it
stands, and go through the API's command path (`routes.perform_action`); whether the
reader may send them now is the decider's `allowed_actions`, and its refusal is shown next
to the field it names."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import Response

from services.api import commands
from services.api.deps import SessionDep, TemporalDep
from services.api.party_names import named_state, register_names
from services.api.web import routes
from services.api.web.forms import errors_by_field, form_values_from
from services.api.web.pages import WebDep, error_page, redirect, render
from services.api.web.plan_forms import activity_rows, decider_errors, plan_fields, plan_values_of, relocate
from services.api.web.plan_view import sdg_choices
from services.api.web.session import WebSession
from services.errors import NotFound, PaktaError
from workflows import lifecycle
from workflows import messages as m

router = APIRouter(prefix="/ui", include_in_schema=False)

# The form's name in the address, its command, and the plan's lists it shows.
FORMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "edit": ("edit_plan", ("goals", "obligations", "activities")),
    "revise": ("propose_plan_revision", ("activities",)),
}


async def _page(
    request: Request,
    ws: WebSession,
    session: AsyncSession,
    state: m.AgreementState,
    form: str,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    # The parties the form offers, named as the register names them where the recording did not.
    state = named_state(state, await register_names(session, state.parties, ws.tr.lang))
    return render(
        request,
        ws,
        "plan_form.html",
        status=status,
        st=state,
        form=form,
        command=FORMS[form][0],
        plan_groups=FORMS[form][1],
        values=values,
        errors=errors,
        error=error,
        sdg_choices=sdg_choices(ws.lang),
        idem=uuid.uuid4().hex,
    )


def _command(form: str, data: FormData, lang: str) -> m.EditPlan | m.ProposePlanRevision:
    """The command the form sends; a field pydantic refuses is placed on its row."""
    body: dict[str, Any]
    model: type[BaseModel]
    if form == "edit":
        model, body = m.EditPlan, plan_fields(data)
    else:
        summary = data.get("summary")
        body = {"summary": summary.strip() if isinstance(summary, str) else "", "activities": activity_rows(data)}
        model = m.ProposePlanRevision
    try:
        command = model.model_validate(body, context=m.AT_THE_EDGE)
    except ValidationError as refused:
        raise _Refused(relocate(errors_by_field(refused, lang), data)) from None
    assert isinstance(command, m.EditPlan | m.ProposePlanRevision)
    return command


class _Refused(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("refused")
        self.errors = errors


@router.get("/agreements/{agreement_id}/plan/{form}")
async def plan_form(agreement_id: str, form: str, request: Request, ws: WebDep, session: SessionDep) -> Response:
    principal = ws.require(request)
    state = await routes.visible_state(session, agreement_id, principal)
    if state is None or form not in FORMS:
        return routes.not_found_page(request, ws)
    allowed = lifecycle.allowed_actions(state, commands.actor_of(principal), commands.now_utc())
    if FORMS[form][0] not in allowed:
        t = ws.tr.t
        return error_page(request, ws, 409, t("Not now"), t("The agreement does not take this from you now."))
    return await _page(request, ws, session, state, form, plan_values_of(state), {})


@router.post("/agreements/{agreement_id}/plan/{form}")
async def send_plan_form(
    agreement_id: str, form: str, request: Request, ws: WebDep, session: SessionDep, temporal: TemporalDep
) -> Response:
    principal = ws.require(request)
    data = await routes.csrf_form(request, ws)
    state = await routes.visible_state(session, agreement_id, principal)
    if state is None or form not in FORMS:
        return routes.not_found_page(request, ws)
    values, t = form_values_from(data), ws.tr.t
    try:
        command = _command(form, data, ws.lang)
        await routes.perform_action(
            request,
            routes.action_edge(request, session, temporal, ws.settings),
            principal,
            agreement_id,
            command,
            idempotency_key=str(data.get("idem") or "") or None,
        )
    except _Refused as refused:
        message = t("Please correct the fields marked below.")
        return await _page(request, ws, session, state, form, values, refused.errors, status=422, error=message)
    except NotFound:
        return routes.not_found_page(request, ws)
    except PaktaError as refused:
        errors = decider_errors(refused.details, refused.message, data)
        return await _page(
            request, ws, session, state, form, values, errors, status=refused.status, error=ws.tr.refusal(refused)
        )
    return redirect(ws, f"/ui/agreements/{agreement_id}?done={command.type}#plan")
