"""What every page shares: the templates, the request's web session (with the reader's zone
defaulting to their organisation's; `WebReadDep` and `with_zone` for the pages that only
read), rendering with the session cookie, error pages."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse, RedirectResponse, Response

from services.api.deps import SessionDep
from services.api.document_access import PRIVATE_FILE
from services.api.web.i18n import Translator
from services.api.web.session import WebSession, load_session
from services.notifying import health_words
from services.notifying.render import isolate
from services.store import organisations
from services.store.db import Unit
from workflows.messages import DEFAULT_TIME_ZONE, AgreementState, HealthReason
from workflows.procedures import TERMINATION_BY_EACH_HEAD
from workflows.zones import is_known

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
# The step of a termination's decision: there the decider takes any outcome but approval as
# the termination declined (workflows/lifecycle/handlers/gates.py), so its form says that.
templates.env.globals["TERMINATION_STEP"] = TERMINATION_BY_EACH_HEAD.key


def party_name(state: AgreementState, org: str) -> str:
    """How a page names the organisation `org` of `state`: its party's name (a page's state
    has its parties named: `services.api.party_names`), else the id."""
    return next((p.name for p in state.parties if p.org == org and p.name), org)


templates.env.globals["party_name"] = party_name
# Text people typed, shown as a piece of a line (a name, a title, a reason): an override it
# holds turns nothing after it around (`isolate`); as it is when it holds no bidi control.
templates.env.filters["isolated"] = lambda value: isolate(str(value)) if value is not None else value


def health_reason(tr: Translator, state: AgreementState, reason: HealthReason) -> str:
    """A health reason as the page's reader reads it, its organisation named as the page
    names it: the sentence the mails' digest says too (`services.notifying.health_words`)."""
    return health_words.sentence(reason, tr.lang, lambda org: party_name(state, org))


templates.env.globals["health_reason"] = health_reason


async def web_session(request: Request, session: SessionDep) -> WebSession:
    return await with_zone(await load_session(request), session)


WebDep = Annotated[WebSession, Depends(web_session)]

# The session without its zone and without a database session: for the pages that only
# read (the agreement list and page), which settle the zone with `with_zone` on the
# connection their reads take — no transaction and no `SELECT 1` before it (#11).
WebReadDep = Annotated[WebSession, Depends(load_session)]


class ReaderNames:
    """The register's names of the readers' organisations, kept `KEPT_SECONDS` by this
    process: every page's header names the reader's organisation. A page that reads its
    reader's zone reads the names in the same statement (`organisations.reader_of`) and keeps
    them; a reader whose zone is their cookie's sends a statement only when the names are not
    kept, so a register rename reaches the header within a minute. The error pages, which
    open no database, show what is kept, else the id."""

    KEPT_SECONDS = 60.0
    KEPT_AT_MOST = 4096  # organisations: every reader's, whatever the number of people

    def __init__(self) -> None:
        self._kept: dict[str, tuple[float, tuple[str | None, str | None]]] = {}

    def get(self, org: str, *, fresh: bool = True) -> tuple[str | None, str | None] | None:
        kept = self._kept.get(org)
        if kept is None or (fresh and time.monotonic() - kept[0] >= self.KEPT_SECONDS):
            return None
        return kept[1]

    def keep(self, org: str, names: tuple[str | None, str | None]) -> None:
        self._kept.pop(org, None)  # put back last: the dict stays oldest first
        self._kept[org] = (time.monotonic(), names)
        while len(self._kept) > self.KEPT_AT_MOST:
            del self._kept[next(iter(self._kept))]


READER_NAMES = ReaderNames()


async def with_zone(ws: WebSession, unit: Unit) -> WebSession:
    """`ws` with the reader's time zone: their cookie's, else their organisation's, else
    WIB; and their organisation's register names for the header (`ReaderNames`). `unit`:
    a session or a pooled connection (`read_from_the_pool`)."""
    if ws.principal is None:
        ws.zone = ws.zone or DEFAULT_TIME_ZONE
        return ws
    org = ws.principal.org
    ws.org_names = READER_NAMES.get(org)
    if not ws.zone or ws.org_names is None:
        zone, name_id, name_en = await organisations.reader_of(unit, org=org)
        ws.org_names = (name_id, name_en)
        READER_NAMES.keep(org, ws.org_names)
        # A zone the pinned zone data no longer knows (a later tzdata release dropped it, or an
        # older Pakta took it from the host's files) counts as WIB, as for the decider
        # (`workflows.zones`): building it raised, and every page with a time answered 500.
        if not ws.zone:
            ws.zone = zone if zone and is_known(zone) else DEFAULT_TIME_ZONE
    return ws


# Every page shows an agreement's state, a form (its CSRF token, its idempotency key) or a
# reader's own work: the browser keeps none of them, so Back after an action's redirect asks
# for the page again and shows what the action left, not the buttons from before it.
# `no-store`, not `no-cache, private`: a browser shows a page again from its history without
# revalidating it, however stale (RFC 9111 §6: history lists are no cache), and Chromium keeps
# a `no-cache` page in its back/forward cache; `no-store` keeps it out of both, and off a shared
# computer's disk. The static files (`/static/web`) stay cacheable.
PAGE_CACHE_CONTROL = "no-store"


def render(request: Request, ws: WebSession, name: str, status: int = 200, **context: Any) -> Response:
    tr = ws.tr
    response = templates.TemplateResponse(
        request,
        name,
        {"ws": ws, "tr": tr, "t": tr.t, "me": ws.principal, "csrf": ws.csrf, "path": request.url.path, **context},
        status_code=status,
    )
    response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    return ws.apply(response)


def redirect(ws: WebSession, to: str) -> Response:
    return ws.apply(RedirectResponse(to, status_code=303))


def download(ws: WebSession, body: bytes | str, *, media_type: str, filename: str, inline: bool = False) -> Response:
    """A file for the browser to save (or, `inline`, to show, as a PDF): the one place the
    pages set a download's headers. Not public, and made anew after an action: kept by no
    cache (`document_access.PRIVATE_FILE`)."""
    disposition = "inline" if inline else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="{filename}"', "Cache-Control": PRIVATE_FILE}
    return ws.apply(Response(body, media_type=media_type, headers=headers))


def error_page(request: Request, ws: WebSession, status: int, title: str, message: str) -> Response:
    return render(request, ws, "error.html", status=status, title=title, message=message)


async def standalone_session(request: Request) -> WebSession:
    """The session for an exception handler (no database at hand: the zone stays WIB)."""
    ws = await load_session(request)
    ws.zone = ws.zone or DEFAULT_TIME_ZONE
    if ws.principal is not None:
        ws.org_names = READER_NAMES.get(ws.principal.org, fresh=False)
    return ws


def html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status)
