"""Who may read and who may attach a document.

A document is its uploader organisation's: (org, sha256). It is readable by that
organisation, and by whoever may see an agreement (the decider's `can_see`) where it is
attached — as a draft version, a signature's evidence or an import's signed text
(`document_attachments`, written by the projection). Everyone else is told it does not
exist, whether or not the hash is known to Pakta: a hash is no oracle.

Only an organisation's own uploads can be attached. That is organisation-level data the
decider does not hold, so the API checks it before sending the command.

What `GET /documents/{sha256}` and the web pages' document links answer is the same
response (`download`), and the media types documents may have are said once here, as is
how long a browser may keep a download that is not public (`PRIVATE_FILE`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services.api.commands import actor_of
from services.auth import Principal
from services.errors import NotFound, Unprocessable
from services.store import queries
from services.store.db import Unit
from workflows import lifecycle
from workflows import messages as m

# The media types of documents (uploads, drafts, evidence), and those of them that are text.
MEDIA_TYPES = ("text/markdown", "text/plain", "application/pdf")
TEXT_TYPES = ("text/markdown", "text/plain")

# A file made on request from what may change with the next action and is not public (the
# agreement's PDF, a report's PDF and CSV, a list's CSV): kept by no cache. `no-store`, not
# `no-cache` with a validator: none exists without making the file (a report is as of its
# request, `now`), so a revalidation would make and send it all the same; and, as for the
# pages (web.pages.PAGE_CACHE_CONTROL), it keeps the file off a shared computer's disk and
# out of the browser's history. `private` says so to a proxy that ignores `no-store`. A
# document (`download` below) stays `private, immutable`: its hash is its name, so it
# cannot change, and a scan of 10 MB is not fetched again at every view.
PRIVATE_FILE = "private, no-store"

# The command fields that attach a document, by command type.
# Where a command carries documents it attaches (dotted: a field of a field).
ATTACHING_FIELDS: dict[str, tuple[str, ...]] = {
    "submit_draft": ("document",),
    "sign": ("evidence", "delegation.letter"),
    # implementation (#13): evidence is a list of documents
    "report_progress": ("evidence",),
    "settle_obligation": ("evidence",),
    "complete_action_item": ("evidence",),
    "record_minutes": ("document",),
}


def _field(command: Any, path: str) -> Any:
    value = command
    for name in path.split("."):
        value = getattr(value, name, None)
    return value


def attached_by(command: m.Command | Any) -> dict[str, str]:
    """The documents `command` attaches, by the field naming each (a list's by its index)."""
    wanted: dict[str, str] = {}
    for name in ATTACHING_FIELDS.get(getattr(command, "type", ""), ()):
        value = _field(command, name)
        if isinstance(value, list):  # a list of documents: each is named by its index
            wanted.update({f"{name}.{i}": sha for i, sha in enumerate(value)})
        elif value:
            wanted[name] = value
    return wanted


async def check_attachable(session: Unit, principal: Principal, command: m.Command | Any) -> None:
    """Refuse (422, naming the field) a command that would attach a document the caller's
    organisation has not uploaded."""
    wanted = attached_by(command)
    if not wanted:
        return
    own = await queries.documents_uploaded(session, org=principal.org, hashes=wanted.values())
    missing = [name for name, value in wanted.items() if value not in own]
    if missing:
        raise Unprocessable(
            "Attach only documents your organisation uploaded (POST /documents).",
            code="unknown_document",
            field=missing[0],
            errors=[
                {
                    "loc": ["body", *name.split(".")],
                    "msg": "not a document of your organisation",
                    "type": "unknown_document",
                }
                for name in missing
            ],
        )


async def readable_document(session: AsyncSession, principal: Principal, sha256: str) -> queries.DocumentRecord | None:
    """The document with this hash the caller may read: their organisation's own, else one
    attached to an agreement they may see. None for everything else."""
    own = await queries.get_document(session, org=principal.org, sha256=sha256)
    if own is not None:
        return own
    actor = actor_of(principal)
    for attachment in await queries.attachments_of(session, sha256=sha256):
        if lifecycle.can_see(attachment.state, actor):
            return await queries.get_document(session, org=attachment.org, sha256=sha256)
    return None


async def download(session: AsyncSession, principal: Principal, sha256: str) -> Response:
    """The document as its download response (private, immutable: its hash is its name), or
    404 for one the caller may not read."""
    record = await readable_document(session, principal, sha256.lower())
    if record is None:
        # Unknown and not-yours look alike: a hash reveals nothing to those not party to it.
        raise NotFound("Document not found.", sha256=sha256)
    return Response(
        content=record.content,
        media_type=record.media_type,
        headers={"ETag": f'"{record.sha256}"', "Cache-Control": "private, immutable"},
    )


async def draft_document(session: AsyncSession, draft: m.Draft) -> queries.DocumentRecord | None:
    """A draft version's document: it is attached by its submitting organisation, whose
    upload it must be."""
    return await queries.get_document(session, org=draft.org, sha256=draft.document)
