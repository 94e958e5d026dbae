"""Organisation settings: the defaults new agreements of an organisation start with; its days
off and time zone also reach the open agreements it is party to (`bring_settings`)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from services.api.access import may_manage, may_read
from services.api.deps import PrincipalDep, SessionDep, settings_of
from services.auth import Principal
from services.errors import Forbidden
from services.store import organisations
from workflows.contracts import portfolio as c
from workflows.messages import AgreementDate, TimeZone

log = structlog.get_logger("pakta.api")
router = APIRouter(prefix="/organisations", tags=["organisations"])


class OrganisationSettingsBody(BaseModel):
    """`time_zone`: IANA zone for office hours (Asia/Jakarta WIB, Asia/Makassar WITA,
    Asia/Jayapura WIT); `expiry_reminder_days`: days before an end date to remind;
    `days_off`: the region's own days without service (regional holidays), which its
    agreements' due dates skip besides weekends and the national holidays."""

    model_config = ConfigDict(extra="forbid")

    time_zone: TimeZone | None = None
    expiry_reminder_days: Annotated[list[int] | None, Field(max_length=10)] = None
    days_off: Annotated[list[AgreementDate] | None, Field(max_length=366)] = None

    @field_validator("expiry_reminder_days")
    @classmethod
    def _days(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if any(d < 0 or d > 730 for d in value):
            raise ValueError("expiry reminders are between 0 and 730 days before the end date")
        return sorted(set(value), reverse=True)


class OrganisationSettingsView(OrganisationSettingsBody):
    org: str
    # As saved, not checked again: a zone the pinned zone data no longer knows (a later
    # tzdata release dropped it, or the host's files knew it before the pin) is shown, so
    # the organisation sees it and sets another — checked, it made every answer a 500.
    time_zone: str | None = None


def _check(principal: Principal, org: str) -> None:
    if not may_manage(principal, org):
        raise Forbidden("Only the organisation's own staff or administrator manage its settings.")


@router.get("/{org}/settings", response_model=OrganisationSettingsView)
async def get_settings(org: str, session: SessionDep, principal: PrincipalDep) -> OrganisationSettingsView:
    if not may_read(principal, org):
        raise Forbidden("Only the organisation's own staff or administrator, or an operator, see its settings.")
    record = await organisations.get_settings(session, org=org)
    if record is None:
        return OrganisationSettingsView(org=org)
    return OrganisationSettingsView(
        org=org, time_zone=record.time_zone, expiry_reminder_days=record.expiry_reminder_days, days_off=record.days_off
    )


@router.put(
    "/{org}/settings",
    response_model=OrganisationSettingsView,
    summary="Set the defaults new agreements of this organisation start with",
    description="The time zone and days off given also reach the open agreements the organisation is party to, "
    "soon after the answer: each records the change in its history (`party_settings_changed`).",
)
async def put_settings(
    org: str,
    body: OrganisationSettingsBody,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    background: BackgroundTasks,
) -> OrganisationSettingsView:
    _check(principal, org)
    record = await organisations.put_settings(
        session,
        org=org,
        time_zone=body.time_zone,
        expiry_reminder_days=body.expiry_reminder_days,
        days_off=sorted(set(body.days_off)) if body.days_off is not None else None,
        updated_by=principal.sub,
    )
    if body.time_zone is not None or body.days_off is not None:
        # After the answer, so after the commit (SessionDep commits when the handler returns):
        # the workflow reads the settings just written. Never holds the answer.
        client = getattr(request.app.state, "temporal", None)
        background.add_task(bring_settings, client, org=org, task_queue=settings_of(request).temporal_task_queue)
    return OrganisationSettingsView(
        org=org, time_zone=record.time_zone, expiry_reminder_days=record.expiry_reminder_days, days_off=record.days_off
    )


async def bring_settings(client: Client | None, *, org: str, task_queue: str) -> None:
    """Start `party-settings-<org>` (PartySettingsWorkflow), which sends the organisation's
    open agreements its new days off and zone, replacing a run of an earlier change still
    going. Best effort: a start that fails is logged, and the nightly reconciliation sends
    the same commands (workflows/contracts/portfolio.py)."""
    if client is None:
        log.warning("party_settings_not_started", org=org, reason="temporal not connected")
        return
    try:
        await client.start_workflow(
            c.PARTY_SETTINGS_WORKFLOW,
            c.PartySettingsInput(org=org),
            id=c.party_settings_workflow_id(org),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
        )
    except Exception as error:  # whatever went wrong, the answer was given: the night repairs it
        log.warning("party_settings_not_started", org=org, error_class=type(error).__name__, error=str(error))
