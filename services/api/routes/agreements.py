"""Agreements: create, read, list, and send actions. Thin routes: the decider decides,
the workflow records, the read model answers reads; what the web pages do the same way
lives in shared modules (`proposals`, `agreements_read`, `actions`)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.api import commands, imports, proposals
from services.api.actions import Edge, etag, perform
from services.api.agreements_read import AgreementFilters, AgreementPage, list_visible_json, load_visible
from services.api.database import read_from_the_pool
from services.api.deps import (
    PrincipalDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    read_session,
    settings_of,
    temporal_of,
)
from services.api.plain_actions import plain_action
from services.api.plain_reads import plain_read
from services.api.proposals import propose
from services.errors import Unprocessable
from services.store import organisations, queries
from workflows import lifecycle
from workflows import messages as m

router = APIRouter(prefix="/agreements", tags=["agreements"])


@router.post(
    "",
    status_code=201,
    response_model=m.Snapshot,
    summary="Start an agreement in draft (staff of the initiating organisation)",
)
async def create_agreement(
    proposal: m.Proposal,
    response: Response,
    # Creation writes nothing through its session either: it reads the parties' settings
    # (and the new row only when this call did not start the workflow: a replayed key).
    session: ReadSessionDep,
    principal: PrincipalDep,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> m.Snapshot:
    snapshot, created = await propose(
        session,
        temporal_of(request),
        settings_of(request),
        proposal=proposal,
        principal=principal,
        idempotency_key=idempotency_key,
    )
    response.status_code = 201 if created else 200
    response.headers["ETag"] = etag(snapshot.version)
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
    summary="Import agreements signed before Pakta (admin; JSON list, CSV, or CSV sheets with their action plans)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "array", "items": m.ImportRecord.model_json_schema()}},
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["agreements"],
                        "properties": {
                            sheet: {"type": "string", "format": "binary", "description": description}
                            for sheet, description in imports.SHEET_DESCRIPTIONS.items()
                        },
                    }
                },
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
        if media_type == "multipart/form-data":
            rows = imports.rows_from_sheets(await _sheets(request, settings.import_max_bytes))
        elif media_type == "text/csv":
            rows = imports.rows_from_csv(body)
        else:
            rows = imports.rows_from_json(body)
    except imports.BatchError as error:
        raise Unprocessable(error.message, code="invalid_import") from None
    if not rows:
        raise Unprocessable("The batch is empty.", code="invalid_import")
    parsed, problems = imports.parse_records(rows)
    records = [
        (
            row,
            r,
            r.model_copy(
                update={
                    "proposal": proposals.with_platform_terms(
                        await organisations.apply_defaults(session, r.proposal), settings
                    )
                }
            ),
        )
        for row, r in parsed
    ]
    actor, now = commands.actor_of(principal), commands.now_utc()
    known = await queries.documents_uploaded(session, org=principal.org, hashes=[r.document for _, _, r in records])
    for row, _, record in records:
        errors = []
        try:
            lifecycle.import_agreement(record, actor, now, "check")
        except lifecycle.DomainError as error:
            field = error.details.get("field")  # the record's `settled` or `progress`, else its proposal
            loc = field if field in ("settled", "progress") else "proposal"
            errors.append({"loc": [loc], "message": error.message})
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
    # Each start is idempotent on the ref: a re-run adds nothing, even after a party's register
    # name or settings changed (the fingerprint is of the record as sent).
    for row, sent, record in records:
        snapshot, created = await commands.start_agreement(
            temporal,
            session,
            task_queue=settings.temporal_task_queue,
            principal=principal,
            idempotency_key=None,
            imported=record,
            sent=sent,
            search_attributes=settings.temporal_search_attributes,
        )
        imported.append(
            ImportedAgreement(row=row, ref=record.ref, id=snapshot.id, stage=snapshot.stage, created=created)
        )
    return ImportResult(imported=imported)


async def _sheets(request: Request, max_bytes: int) -> dict[str, bytes]:
    """The CSV sheets of a multipart import, by part name (a file or a plain field)."""
    sheets: dict[str, bytes] = {}
    async with request.form(
        max_files=len(imports.SHEETS), max_fields=len(imports.SHEETS), max_part_size=max_bytes
    ) as form:
        for name, value in form.multi_items():
            if name in sheets:
                raise imports.BatchError(f"The sheet {name} is sent twice.")
            sheets[name] = value.encode() if isinstance(value, str) else await value.read()
    return sheets


@plain_read(router, "", response_model=AgreementPage, summary="List the agreements the caller may see")
async def list_agreements(
    request: Request,
    principal: PrincipalDep,
    stage: m.Stage | None = None,
    kind: m.Kind | None = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    overdue: Annotated[bool, Query(description="only agreements with a passed deadline")] = False,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    health: Annotated[m.Health | None, Query(description="the implementation's health (#13)")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    filters = AgreementFilters(
        stage=stage,
        kind=kind,
        org=org,
        q=q,
        overdue=overdue,
        expiring_within_days=expiring_within_days,
        health=health,
    )
    page = await read_from_the_pool(
        request, lambda driver: list_visible_json(driver, principal, filters, limit=limit, cursor=cursor)
    )
    # The page's JSON is written by PostgreSQL as `AgreementPage` dumps (`response_model`,
    # which stays for the OpenAPI document); FastAPI would validate and serialise it again.
    return Response(page, media_type="application/json")


@plain_read(router, "/{agreement_id}", response_model=m.Snapshot, summary="An agreement as the caller sees it")
async def get_agreement(agreement_id: str, request: Request, principal: PrincipalDep) -> Response:
    actor = commands.actor_of(principal)  # once: to see the agreement, then its allowed actions
    state = await read_from_the_pool(request, lambda driver: load_visible(driver, agreement_id, principal, actor=actor))
    snapshot = lifecycle.snapshot(state, actor, commands.now_utc())
    return _as_json(snapshot, state.version)


@plain_read(
    router,
    "/{agreement_id}/action-plan",
    response_model=m.ActionPlanView,
    summary="An agreement's goals, obligations and action plan with their progress and health (#13)",
)
async def get_action_plan(agreement_id: str, request: Request, principal: PrincipalDep) -> Response:
    """The plan as it stands: activities with their progress against schedule, obligations
    with their status, meetings and action items, measurements, revisions, and the health
    the decider computes now. Whoever may read the agreement may read its plan."""
    state = await read_from_the_pool(request, lambda driver: load_visible(driver, agreement_id, principal))
    return _as_json(lifecycle.action_plan(state, commands.now_utc()), state.version)


def _as_json(view: BaseModel, version: int) -> Response:
    # The decider built `view` of validated values as `response_model` (which stays, for
    # the OpenAPI document) declares it: FastAPI would validate it again, dump it to Python
    # objects and those to JSON; pydantic-core writes the JSON at once.
    return Response(view.model_dump_json(), media_type="application/json", headers={"ETag": etag(version)})


@plain_action(
    router,
    "/{agreement_id}/actions",
    response_model=m.Snapshot,
    responses={403: {}, 404: {}, 409: {}, 412: {}, 422: {}},
    summary="Send an action: submit, decide, submit_draft, accept_draft, sign, …",
)
async def act(
    agreement_id: str,
    command: Annotated[m.Command, Body()],
    request: Request,
    principal: PrincipalDep,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)] = None,
) -> Response:
    act_on = partial(
        perform,
        principal=principal,
        agreement_id=agreement_id,
        command=command,
        # The path is only the keyed request's fingerprint: no URL parsed for the others.
        path=request.url.path if idempotency_key is not None else "",
        if_match=if_match,
        idempotency_key=idempotency_key,
    )
    edge = partial(
        Edge, sessionmaker=request.app.state.sessionmaker, temporal=temporal_of(request), settings=settings_of(request)
    )
    if idempotency_key is None:
        # Reads only, each on a connection of the pool's, given back at once (actions.Edge).
        result = await act_on(edge(session=None, engine=request.app.state.engine))
    else:
        # The session runs statement by statement (the Idempotency-Key records go through
        # it) and has run nothing yet (the row is read without checking the connection
        # first); it is closed before the answer goes, as ReadSessionDep's would be.
        async with read_session(request) as session:
            result = await act_on(edge(session=session, statementwise=True, untouched=True))
    if isinstance(result, JSONResponse):  # the first response to this Idempotency-Key, replayed
        return result
    # The snapshot as the GET writes it (`_as_json`): no `Response` parameter for FastAPI to
    # solve, and no validating and dumping it again for `response_model`.
    return _as_json(result, result.version)
