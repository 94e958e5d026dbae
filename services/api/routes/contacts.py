"""Contacts: the people notifications are emailed to. An organisation's staff (or an
admin) say who holds which role and gate, in which language they read, and what they do
not want to receive; notifications for an audience go to the contacts matching it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator, BaseModel, Field, field_validator

from services.api.access import managed_scope, may_manage
from services.api.deps import PrincipalDep, SessionDep
from services.api.email_addresses import email_address
from services.errors import Conflict, Forbidden, NotFound
from services.store import notifications as store
from workflows.messages import Gate, OrgId, ShortText, TimeZone

router = APIRouter(prefix="/contacts", tags=["notifications"])

OPT_OUT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
Role = Literal["staff", "partner", "signatory", "approver"]
LINE_BREAKS = re.compile(r"[\r\n\x85\u2028\u2029]")


def _one_line(value: str) -> str:
    # A contact's name is the display name of the mails' To header: a line break there
    # would end the header early (the mail's own headers spilling into its body) or forge
    # another (`Bcc:`). The dispatcher folds breaks already stored; new ones are refused.
    if LINE_BREAKS.search(value):
        raise ValueError("a name is one line: no line breaks")
    return value


class ContactCreate(BaseModel):
    name: Annotated[ShortText, AfterValidator(_one_line)]
    email: str = Field(max_length=254, examples=["siti@jabarprov.go.id"])
    roles: list[Role] = Field(min_length=1)
    gates: list[Gate] = Field(default_factory=list, description="for approvers: the gates they decide")
    language: Literal["id", "en"] = "id"
    opt_out: list[str] = Field(
        default_factory=list,
        max_length=50,
        description='"email" for no email at all, or notification kinds such as "comment_added"',
    )
    time_zone: TimeZone | None = Field(default=None, examples=["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"])
    sub: str | None = Field(default=None, max_length=200, description="their user id, if they log in")
    org: OrgId | None = Field(
        default=None, description="Your own organisation (the default); no one adds contacts to another organisation"
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return email_address(value)

    @field_validator("opt_out")
    @classmethod
    def _opt_out(cls, values: list[str]) -> list[str]:
        if any(not OPT_OUT.match(v) for v in values):
            raise ValueError('opt_out holds "email" or notification kinds (lower_case names)')
        return sorted(set(values))


class Contact(BaseModel):
    id: str
    org: str
    sub: str | None
    name: str
    email: str
    language: str
    roles: list[str]
    gates: list[str]
    opt_out: list[str]
    time_zone: str | None
    created_by: str
    created_at: datetime


def _view(record: store.ContactRecord) -> Contact:
    return Contact(**{name: getattr(record, name) for name in Contact.model_fields})


@router.post("", status_code=201, response_model=Contact, summary="Add a contact (staff or admin of the organisation)")
async def create_contact(
    body: ContactCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> Contact:
    org = body.org or principal.org
    if not may_manage(principal, org):
        raise Forbidden("Only the organisation's own staff or administrator manage its contacts.")
    record = await store.create_contact(
        session,
        org=org,
        sub=body.sub,
        name=body.name,
        email=body.email,
        language=body.language,
        roles=sorted(set(body.roles)),
        gates=sorted(set(body.gates)),
        opt_out=body.opt_out,
        time_zone=body.time_zone,
        created_by=principal.sub,
    )
    if record is None:
        raise Conflict(
            f"{org} already has a contact with this address; delete it first to change it.",
            code="contact_exists",
            email=body.email,
        )
    response.headers["Location"] = f"/contacts/{record.id}"
    return _view(record)


@router.get("", response_model=list[Contact], summary="The organisation's contacts")
async def list_contacts(
    session: SessionDep, principal: PrincipalDep, org: Annotated[str | None, Query(max_length=64)] = None
) -> list[Contact]:
    scope = managed_scope(
        principal, org, "Only staff, administrators (their own organisation's) and operators see contacts."
    )
    records = await store.list_contacts(session, org=scope)
    return [_view(r) for r in records]


@router.delete("/{contact_id}", status_code=204, summary="Remove a contact")
async def delete_contact(contact_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    record = await store.get_contact(session, contact_id=contact_id)
    if record is None or not may_manage(principal, record.org):
        raise NotFound("Contact not found.", contact_id=contact_id)
    await store.delete_contact(session, contact_id=contact_id)
    return Response(status_code=204)
