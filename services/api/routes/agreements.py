"""Agreements: create, read, list, and send actions. Thin routes: the decider decides,
the workflow records, the read model answers reads."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from services.api import commands, idempotency, imports
from services.api.agreements_read import load_visible
from services.api.deps import PrincipalDep, SessionDep, SettingsDep, TemporalDep
from services.api.document_access import check_attachable
from services.auth import Principal
from services.errors import PaktaError, Unprocessable
from services.store import organisations, queries
from workflows import lifecycle
from workflows import messages as m

router = APIRouter(prefix="/agreements", tags=["agreements"])


class AgreementSummary(BaseModel):
    id: str
    title: str
    kind: str
    stage: str
    step_key: str | None
    version: int
    initiator_org: str
    orgs: list[str]
    sector: str
    start_date: date
    end_date: date | None
    next_deadline_at: datetime | None
    updated_at: datetime


class AgreementPage(BaseModel):
    items: list[AgreementSummary]
    next_cursor: str | None


def _etag(version: int) -> str:
    return f'"{version}"'


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise Unprocessable(
            "If-Match must carry the agreement's version as returned in its ETag.", code="invalid_if_match"
        )
    return int(tag)


@router.post(
    "",
    status_code=201,
    response_model=m.Snapshot,
    summary="Start an agreement in draft (staff of the initiating organisation)",
)
async def create_agreement(
    proposal: m.Proposal,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> m.Snapshot:
    proposal = await organisations.apply_defaults(session, proposal)
    snapshot, created = await commands.start_agreement(
        temporal,
        task_queue=settings.temporal_task_queue,
        proposal=proposal,
        principal=principal,
        idempotency_key=idempotency_key,
    )
    response.status_code = 201 if created else 200
    response.headers["ETag"] = _etag(snapshot.version)
    response.headers["Location"] = f"/agreements/{snapshot.id}"
    return snapshot


class ImportedAgreement(BaseModel):
    row: int
    ref: str
    id: str
    stage: str
    created: bool


class ImportResult(BaseModel):
    imported: list[ImportedAgreement]


@router.post(
    "/import",
    response_model=ImportResult,
    summary="Import agreements signed before Pakta (admin; JSON list or CSV)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "array", "items": m.ImportRecord.model_json_schema()}},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
async def import_agreements(
    request: Request, session: SessionDep, principal: PrincipalDep, temporal: TemporalDep, settings: SettingsDep
) -> ImportResult:
    try:
        lifecycle.check_may_import(commands.actor_of(principal))
    except lifecycle.DomainError as error:
        raise commands.domain_error(error) from None
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    body = await request.body()
    try:
        rows = imports.rows_from_csv(body) if media_type == "text/csv" else imports.rows_from_json(body)
    except imports.BatchError as error:
        raise Unprocessable(error.message, code="invalid_import") from None
    if not rows:
        raise Unprocessable("The batch is empty.", code="invalid_import")
    records, problems = imports.parse_records(rows)
    records = [
        (row, r.model_copy(update={"proposal": await organisations.apply_defaults(session, r.proposal)}))
        for row, r in records
    ]
    actor, now = commands.actor_of(principal), commands.now_utc()
    known = await queries.documents_uploaded(session, org=principal.org, hashes=[r.document for _, r in records])
    for row, record in records:
        errors = []
        try:
            lifecycle.import_agreement(record, actor, now, "check")
        except lifecycle.DomainError as error:
            errors.append({"loc": ["proposal"], "message": error.message})
        if record.document not in known:
            errors.append(
                {"loc": ["document"], "message": "upload the signed text first, as your organisation (POST /documents)"}
            )
        if errors:
            problems.append({"row": row, "ref": record.ref, "errors": errors})
    if problems:
        raise Unprocessable(
            f"{len(problems)} of {len(rows)} rows are not right; nothing was imported.",
            code="invalid_import",
            rows=sorted(problems, key=lambda p: p["row"]),
        )
    imported = []
    for row, record in records:  # each start is idempotent on the ref: a re-run adds nothing
        snapshot, created = await commands.start_agreement(
            temporal,
            task_queue=settings.temporal_task_queue,
            principal=principal,
            idempotency_key=None,
            imported=record,
        )
        imported.append(
            ImportedAgreement(row=row, ref=record.ref, id=snapshot.id, stage=snapshot.stage, created=created)
        )
    return ImportResult(imported=imported)


@router.get("", response_model=AgreementPage, summary="List the agreements the caller may see")
async def list_agreements(
    session: SessionDep,
    principal: PrincipalDep,
    stage: m.Stage | None = None,
    kind: m.Kind | None = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    overdue: Annotated[bool, Query(description="only agreements with a passed deadline")] = False,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> AgreementPage:
    actor = commands.actor_of(principal)
    sees_all = lifecycle.sees_every_agreement(actor)
    now = commands.now_utc()
    # Ministry approvers' rows are pre-selected by the projected flag; `can_see` below decides.
    ministry = principal.has_role("approver") and principal.holds_gate("ministry")
    try:
        rows, next_cursor = await queries.list_agreements(
            session,
            viewer_orgs=None if sees_all else [principal.org],
            include_ministry_visible=ministry,
            stage=stage,
            kind=kind,
            org=org,
            q=q,
            deadline_before=now if overdue else None,
            end_date_before=(
                now.date() + timedelta(days=expiring_within_days) if expiring_within_days is not None else None
            ),
            limit=limit,
            cursor=cursor,
        )
    except ValueError as error:
        raise Unprocessable(str(error), code="invalid_cursor") from None
    # The `orgs` column selects; the recorded state decides (a row edited by hand to add an
    # organisation shows it nothing).
    visible = [r for r in rows if lifecycle.can_see(r.state, actor)]
    return AgreementPage(
        items=[AgreementSummary.model_validate(r, from_attributes=True) for r in visible], next_cursor=next_cursor
    )


@router.get("/{agreement_id}", response_model=m.Snapshot, summary="An agreement as the caller sees it")
async def get_agreement(
    agreement_id: str, response: Response, session: SessionDep, principal: PrincipalDep
) -> m.Snapshot:
    state = await load_visible(session, agreement_id, principal)
    response.headers["ETag"] = _etag(state.version)
    return lifecycle.snapshot(state, commands.actor_of(principal), commands.now_utc())


@router.post(
    "/{agreement_id}/actions",
    response_model=m.Snapshot,
    responses={403: {}, 404: {}, 409: {}, 412: {}, 422: {}},
    summary="Send an action: submit, decide, submit_draft, accept_draft, sign, …",
)
async def act(
    agreement_id: str,
    command: Annotated[m.Command, Body()],
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)] = None,
) -> m.Snapshot | JSONResponse:
    state = await load_visible(session, agreement_id, principal)
    expected = _expected_version(if_match)
    if idempotency_key is None:
        snapshot = await _act(session, temporal, state, command, principal, expected, idempotency_key)
        response.headers["ETag"] = _etag(snapshot.version)
        return snapshot
    # A retry gets the first response again; only a first try reaches the workflow.
    keyed = idempotency.KeyedRequest(
        principal=principal,
        key=idempotency_key,
        request_fingerprint=idempotency.fingerprint(
            "POST", request.url.path, {"command": command.model_dump(mode="json"), "if_match": if_match}
        ),
        now=commands.now_utc(),
        retention=timedelta(hours=settings.idempotency_retention_hours),
    )
    sessionmaker = request.app.state.sessionmaker
    replayed = await idempotency.replay(sessionmaker, keyed)
    if replayed is not None:
        return replayed
    try:
        snapshot = await _act(session, temporal, state, command, principal, expected, idempotency_key)
    except PaktaError as error:
        if 400 <= error.status < 500:
            await idempotency.remember(sessionmaker, keyed, status=error.status, body=error.to_body(), etag=None)
        raise
    body = snapshot.model_dump(mode="json")
    twin = await idempotency.remember(sessionmaker, keyed, status=200, body=body, etag=_etag(snapshot.version))
    if twin is not None:
        return twin
    response.headers["ETag"] = _etag(snapshot.version)
    return snapshot


async def _act(
    session: AsyncSession,
    temporal: Client,
    state: m.AgreementState,
    command: m.Command,
    principal: Principal,
    expected: int | None,
    idempotency_key: str | None,
) -> m.Snapshot:
    await check_attachable(session, principal, command)
    if idempotency_key is None:
        # Refuse early from the read model (same decider): closed agreements have no running
        # workflow, and a refusal needs no round trip. The workflow's validator decides again.
        # With a key the workflow alone decides: a retry whose first answer was lost must reach
        # the update it already applied (same update id), not be refused here as stale.
        actor, now = commands.actor_of(principal), commands.now_utc()
        try:
            lifecycle.decide(state, command, actor, now, expected)
        except lifecycle.DomainError as error:
            raise commands.domain_error(error) from None
    return await commands.send_command(
        temporal,
        agreement_id=state.id,
        command=command,
        principal=principal,
        expected_version=expected,
        idempotency_key=idempotency_key,
    )
