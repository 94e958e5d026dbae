"""The caller's in-app notifications: those for any audience their token matches (their
organisation — or any, for the ministry gate —, one of their roles, one of their gates).
Read marks are per user."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypedDict

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel

from services.api.deps import PrincipalDep, SessionDep
from services.auth import Principal
from services.errors import NotFound
from services.notifying import names as naming
from services.notifying.render import subject
from services.store import notifications as store
from services.store import register
from workflows.notify.rules import Audience, Notification

router = APIRouter(prefix="/notifications", tags=["notifications"])


class InboxNotification(BaseModel):
    id: str
    event_id: str
    type: str  # the kind of notification (its template), e.g. "gate_opened"
    event_type: str
    agreement_id: str
    seq: int
    summary: str  # one line in the caller's language
    data: dict[str, Any]
    at: datetime
    read: bool
    read_at: datetime | None


class NotificationList(BaseModel):
    items: list[InboxNotification]
    unread: int


def language(lang: str | None, accept_language: str | None) -> str:
    """?lang= wins; else the first of id/en in Accept-Language; else Indonesian."""
    if lang in ("id", "en"):
        return lang
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in ("id", "en"):
            return tag
    return "id"


class _Who(TypedDict):
    org: str
    roles: list[str]
    gates: list[str]


def _who(principal: Principal) -> _Who:
    return {"org": principal.org, "roles": list(principal.roles), "gates": list(principal.gates)}


def _note(record: store.InboxRecord) -> Notification:
    org, role, gate = record.audience_key.split("/")
    audience = {"org": None if org == "*" else org, "role": role, "gate": None if gate == "*" else gate}
    return Notification(
        event_id=record.event_id,
        event_type=record.event_type,
        agreement_id=record.agreement_id,
        seq=record.seq,
        at=record.at,
        template=record.template,
        data=record.data,
        audience=Audience.model_validate(audience),
    )


def _view(record: store.InboxRecord, note: Notification, lang: str, found: naming.Found) -> InboxNotification:
    """The notification as the caller reads it: its line names organisations as the mail does
    (the agreement's party names, else the register's); its `data` keeps their ids."""
    return InboxNotification(
        id=record.id,
        event_id=record.event_id,
        type=record.template,
        event_type=record.event_type,
        agreement_id=record.agreement_id,
        seq=record.seq,
        summary=subject(note, lang, names=naming.names_for(note, found, lang)),
        data=record.data,
        at=record.at,
        read=record.read_at is not None,
        read_at=record.read_at,
    )


@router.get("", response_model=NotificationList, summary="The caller's notifications, unread first")
async def list_notifications(
    session: SessionDep,
    principal: PrincipalDep,
    unread_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    lang: Literal["id", "en"] | None = None,
    accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None,
) -> NotificationList:
    records = await store.list_inbox(
        session, sub=principal.sub, unread_only=unread_only, limit=limit, **_who(principal)
    )
    unread = await store.count_unread(session, sub=principal.sub, **_who(principal))
    chosen = language(lang, accept_language)
    notes = [_note(r) for r in records]
    # One read for the page's lines, none when no line names an organisation.
    found = await register.mail_names(session, pairs=naming.pairs_of(notes))
    return NotificationList(
        items=[_view(r, note, chosen, found) for r, note in zip(records, notes, strict=True)], unread=unread
    )


@router.post("/{notification_id}/read", status_code=204, summary="Mark a notification read")
async def mark_read(notification_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    if not await store.inbox_visible(session, notification_id=notification_id, **_who(principal)):
        raise NotFound("Notification not found.", notification_id=notification_id)
    await store.mark_read(session, sub=principal.sub, notification_id=notification_id, **_who(principal))
    return Response(status_code=204)


class Marked(BaseModel):
    marked: int


@router.post("/read-all", response_model=Marked, summary="Mark every notification of the caller read")
async def mark_all_read(session: SessionDep, principal: PrincipalDep) -> Marked:
    return Marked(marked=await store.mark_read(session, sub=principal.sub, notification_id=None, **_who(principal)))
