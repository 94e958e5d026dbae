"""Webhook endpoints (Standard Webhooks): staff or admins of an organisation register URLs
that receive, signed, every event of the agreements the organisation is party to (or the
event types they subscribe to). The secret is shown once, at creation and rotation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.access import managed_scope, may_manage
from services.api.deps import PrincipalDep, SessionDep, SettingsDep
from services.auth import Principal
from services.errors import Forbidden, NotFound, Unprocessable
from services.notifying import webhook
from services.notifying.webhook import new_secret
from services.settings import Settings
from services.store import notifications as store
from workflows.messages import OrgId

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# After a rotation the old secret signs alongside the new one for this long.
ROTATION_GRACE = timedelta(hours=24)


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000, examples=["https://example.go.id/pakta/webhooks"])
    events: list[str] = Field(
        default=["*"],
        min_length=1,
        max_length=100,
        description='["*"] for every event, or event types such as "agreement_submitted"',
    )
    org: OrgId | None = Field(
        default=None, description="Your own organisation (the default); no one registers for another organisation"
    )

    @field_validator("events")
    @classmethod
    def _event_types(cls, events: list[str]) -> list[str]:
        # Types are not checked against a fixed list: the lifecycle adds event types over
        # time and a subscription to one not emitted yet is simply quiet until it is.
        bad = [e for e in events if e != "*" and not EVENT_TYPE.match(e)]
        if bad:
            raise ValueError(f"not event types: {bad}")
        return ["*"] if "*" in events else sorted(set(events))


class Webhook(BaseModel):
    id: str
    org: str
    url: str
    events: list[str]
    enabled: bool
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None
    created_by: str
    created_at: datetime


class WebhookWithSecret(Webhook):
    secret: str = Field(description="whsec_<base64>: shown only now; verify signatures with it")


class Attempt(BaseModel):
    id: int
    event_id: str
    event_type: str
    agreement_id: str
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    error: str | None = Field(
        description="What went wrong, as a class: " + ", ".join(webhook.ERROR_CLASSES) + " (never the answer's body)"
    )
    duration_ms: int | None
    outcome: Literal["succeeded", "failed", "unfinished"]


class AttemptPage(BaseModel):
    items: list[Attempt]
    next_before: int | None = Field(description="pass as ?before= for older attempts")


async def _load(session: AsyncSession, endpoint_id: str, principal: Principal) -> store.EndpointRecord:
    endpoint = await store.get_endpoint(session, endpoint_id=endpoint_id)
    # Someone else's endpoint is as unknown as a missing one.
    if endpoint is None or not may_manage(principal, endpoint.org):
        raise NotFound("Webhook endpoint not found.", webhook_id=endpoint_id)
    return endpoint


async def _check_url(url: str, settings: Settings) -> None:
    """A URL that can be sent to and, in production, leads only to public addresses (or to
    the allow-list): see `services.notifying.webhook`."""
    egress = webhook.Egress.of(production=settings.is_production, allowed=settings.webhook_allowed_hosts)
    try:
        await webhook.resolve(url, egress)
    except webhook.UrlRefused as refused:
        if refused.error == "dns_error":
            return  # not resolvable yet (or here): every delivery checks where it leads
        code = "refused_address" if refused.error == "refused_address" else "invalid_url"
        raise Unprocessable(
            refused.message,
            code=code,
            field="url",
            errors=[{"loc": ["body", "url"], "msg": refused.message, "type": code}],
        ) from None


def _view(endpoint: store.EndpointRecord) -> dict[str, Any]:
    return {name: getattr(endpoint, name) for name in Webhook.model_fields}


@router.post(
    "",
    status_code=201,
    response_model=WebhookWithSecret,
    summary="Register a webhook endpoint (staff or admin of the organisation)",
)
async def create_webhook(
    body: WebhookCreate, session: SessionDep, principal: PrincipalDep, settings: SettingsDep, response: Response
) -> WebhookWithSecret:
    org = body.org or principal.org
    if not may_manage(principal, org):
        raise Forbidden("Only the organisation's own staff or administrator register its webhooks.")
    await _check_url(body.url, settings)
    endpoint = await store.create_endpoint(
        session, org=org, url=body.url, events=body.events, secret=new_secret(), created_by=principal.sub
    )
    response.headers["Location"] = f"/webhooks/{endpoint.id}"
    return WebhookWithSecret(**_view(endpoint), secret=endpoint.secret)


@router.get("", response_model=list[Webhook], summary="The organisation's webhook endpoints")
async def list_webhooks(
    session: SessionDep, principal: PrincipalDep, org: Annotated[str | None, Query(max_length=64)] = None
) -> list[Webhook]:
    scope = managed_scope(
        principal, org, "Only staff, administrators (their own organisation's) and operators see webhook endpoints."
    )
    endpoints = await store.list_endpoints(session, org=scope)
    return [Webhook(**_view(e)) for e in endpoints]


@router.get("/{webhook_id}", response_model=Webhook, summary="One webhook endpoint")
async def get_webhook(webhook_id: str, session: SessionDep, principal: PrincipalDep) -> Webhook:
    return Webhook(**_view(await _load(session, webhook_id, principal)))


@router.delete("/{webhook_id}", status_code=204, summary="Remove a webhook endpoint")
async def delete_webhook(webhook_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    await _load(session, webhook_id, principal)
    await store.delete_endpoint(session, endpoint_id=webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    summary="A new signing secret (the old one also signs for 24 hours)",
)
async def rotate_secret(webhook_id: str, session: SessionDep, principal: PrincipalDep) -> WebhookWithSecret:
    await _load(session, webhook_id, principal)
    endpoint = await store.rotate_secret(session, endpoint_id=webhook_id, secret=new_secret(), grace=ROTATION_GRACE)
    assert endpoint is not None
    return WebhookWithSecret(**_view(endpoint), secret=endpoint.secret)


@router.post("/{webhook_id}/enable", response_model=Webhook, summary="Enable again an endpoint disabled after failing")
async def enable_webhook(webhook_id: str, session: SessionDep, principal: PrincipalDep) -> Webhook:
    await _load(session, webhook_id, principal)
    endpoint = await store.enable_endpoint(session, endpoint_id=webhook_id)
    assert endpoint is not None
    return Webhook(**_view(endpoint))


@router.get(
    "/{webhook_id}/deliveries",
    response_model=AttemptPage,
    summary="Every delivery attempt to the endpoint, newest first",
)
async def list_deliveries(
    webhook_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> AttemptPage:
    await _load(session, webhook_id, principal)
    attempts = await store.list_attempts(session, endpoint_id=webhook_id, limit=limit, before_id=before)
    items = [
        Attempt(
            id=a.id,
            event_id=a.event_id,
            event_type=a.event_type,
            agreement_id=a.agreement_id,
            attempt=a.attempt,
            started_at=a.started_at,
            finished_at=a.finished_at,
            status_code=a.status_code,
            error=_error_class(a.error, a.status_code),
            duration_ms=a.duration_ms,
            outcome="unfinished" if a.finished_at is None else "succeeded" if a.error is None else "failed",
        )
        for a in attempts
    ]
    return AttemptPage(items=items, next_before=items[-1].id if len(items) == limit else None)


def _error_class(error: str | None, status: int | None) -> str | None:
    """Attempts recorded before errors were classes held the answer's first characters or
    an exception's text: show only their class."""
    if error is None or error in webhook.ERROR_CLASSES:
        return error
    return "http_status" if status is not None else "connection_error"
