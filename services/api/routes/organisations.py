"""Organisation settings: the defaults new agreements of an organisation start with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.api.access import may_manage, may_read
from services.api.deps import PrincipalDep, SessionDep
from services.auth import Principal
from services.errors import Forbidden
from services.store import organisations
from workflows.messages import AgreementDate, TimeZone

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
)
async def put_settings(
    org: str, body: OrganisationSettingsBody, session: SessionDep, principal: PrincipalDep
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
    return OrganisationSettingsView(
        org=org, time_zone=record.time_zone, expiry_reminder_days=record.expiry_reminder_days, days_off=record.days_off
    )
