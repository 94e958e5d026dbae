"""Documents: uploaded by an organisation, addressed by their SHA-256 within it. Only the
hash travels through Temporal and into events; a signature binds that hash. Who may read
and attach them: `services.api.document_access`."""

from __future__ import annotations

import difflib
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from services.api.agreements_read import load_visible
from services.api.database import once_on_the_pool
from services.api.deps import PrincipalDep, SessionDep, settings_of
from services.api.document_access import MEDIA_TYPES, TEXT_TYPES, download, draft_document
from services.api.limits import CONTENT_LENGTH_DIGITS, header_number
from services.errors import NotFound, PaktaError, PayloadTooLarge, Unprocessable
from services.store import queries

router = APIRouter(tags=["documents"])


class DocumentInfo(BaseModel):
    sha256: str
    size: int
    media_type: str


class DraftDiff(BaseModel):
    agreement_id: str
    from_version: int
    to_version: int
    diff: str


@router.post(
    "/documents",
    status_code=201,
    response_model=DocumentInfo,
    summary="Upload a document (raw body: text/markdown, text/plain or application/pdf)",
)
async def upload_document(request: Request, principal: PrincipalDep) -> DocumentInfo:
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise PaktaError(
            f"Unsupported media type '{media_type or 'none'}'.",
            status=415,
            code="unsupported_media_type",
            accepted=list(MEDIA_TYPES),
        )
    limit = settings_of(request).document_max_bytes
    # An unreadable Content-Length is no declaration: the bytes are counted as they come.
    declared = header_number(request.headers.get("content-length") or "", CONTENT_LENGTH_DIGITS)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"Documents are limited to {limit} bytes.", limit=limit)
    body = bytearray()
    async for chunk in request.stream():  # stop reading as soon as the limit is passed
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"Documents are limited to {limit} bytes.", limit=limit)
    if not body:
        raise Unprocessable("The document is empty.", code="empty_document")
    if media_type in TEXT_TYPES:
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise Unprocessable("Text documents must be UTF-8.", code="invalid_encoding") from None
    content = bytes(body)
    # One statement on a connection of the pool's, committed as it returns (durable before
    # the 201): no session, no BEGIN and COMMIT, no check of the connection first — storing
    # the same bytes again changes nothing, so a lost connection's upload simply runs again.
    record = await once_on_the_pool(
        request,
        lambda driver: queries.put_document(
            driver, content=content, media_type=media_type, uploaded_by=principal.sub, org=principal.org
        ),
    )
    return DocumentInfo(sha256=record.sha256, size=record.size, media_type=record.media_type)


@router.get(
    "/documents/{sha256}",
    summary="Download a document by its SHA-256",
    responses={200: {"content": {m: {} for m in MEDIA_TYPES}}},
)
async def download_document(sha256: str, session: SessionDep, principal: PrincipalDep) -> Response:
    return await download(session, principal, sha256)


@router.get(
    "/agreements/{agreement_id}/drafts/diff",
    response_model=DraftDiff,
    summary="Line diff between two draft versions (text documents)",
)
async def diff_drafts(
    agreement_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000)],
) -> DraftDiff:
    state = await load_visible(session, agreement_id, principal)
    drafts = {d.version: d for d in state.drafts}
    missing = [v for v in (from_version, to_version) if v not in drafts]
    if missing:
        raise NotFound("No such draft version.", versions=missing)
    texts = []
    for version in (from_version, to_version):
        record = await draft_document(session, drafts[version])
        if record is None:
            raise NotFound("Document not found.", version=version)
        if record.media_type not in TEXT_TYPES:
            raise Unprocessable("Only text drafts can be compared.", code="not_text", version=version)
        texts.append(record.content.decode("utf-8").splitlines(keepends=True))
    diff = "".join(difflib.unified_diff(texts[0], texts[1], fromfile=f"v{from_version}", tofile=f"v{to_version}"))
    return DraftDiff(agreement_id=agreement_id, from_version=from_version, to_version=to_version, diff=diff)
