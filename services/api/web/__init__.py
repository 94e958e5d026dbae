"""Pakta's web pages, served by the API process: `/ui/` for the people in the loop (sign-in,
inbox, agreement pages, proposal form, lists, PDF summaries) and `/public/` for citizens (the
transparency portal and its open data). Server-rendered Jinja2 with a vendored htmx
(`static/htmx.min.js`, htmx.org 2.0.11, 0BSD licence) and a small stylesheet: nothing is
loaded from another host.

`install(app)` adds the routers, the static files and the handlers that turn "sign in
first", "CSRF token missing", "a text field sent as a file" and "a form that cannot be
read" into a redirect, a 403 page, a 422 page and a 400 page, a path under the pages'
prefixes that no route serves (a mistyped link, an old bookmark) into the 404 page, and a
page's parameter of the wrong type (an address edited by hand) into the 400 page.
`too_large_page` is the 413
page the request limits (services.api.limits) answer a form too large with on the pages'
routes (`PAGES`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.types import Scope

from services.api.errors import http_error, validation_error
from services.api.web.session import CsrfRefused, FieldNotText, FormUnreadable, SignInRequired, sign_in_url

STATIC = Path(__file__).parent / "static"
# The web pages' routes, by path prefix: their refusals are pages, not the API's JSON.
PAGES = ("/ui/", "/public/")
MB = 1024 * 1024


async def too_large_page(scope: Scope, limit: int) -> Response:
    """The 413 page of a form over the body's limit (`limit` bytes): what was too large and
    what to do. A form that may carry a document has the document's limit and a little
    more; any other, the request's (1 MiB by default)."""
    from services.api.web.pages import error_page, standalone_session

    request = Request(scope)
    ws = await standalone_session(request)
    tr = ws.tr
    t = tr.t
    settings = ws.settings
    if limit > settings.request_max_bytes:
        message = t(
            "The form is larger than this page takes: a document may be at most {size} MB. Upload a smaller "
            "one (a scan at a lower resolution, for instance) and send the form again."
        ).format(size=tr.number(round(settings.document_max_bytes / MB, 1)))
    else:
        message = t(
            "The form is larger than this page takes: at most {size} MB. Shorten what you wrote and send it again."
        ).format(size=tr.number(round(limit / MB, 1)))
    return error_page(request, ws, 413, t("Too large"), message)


def install(app: FastAPI) -> None:
    from services.api.web import lists, oidc, pdf, plan, plan_edit, public, register, reports, rollup, routes
    from services.api.web.pages import error_page, standalone_session

    app.include_router(oidc.router)
    app.include_router(lists.router)
    app.include_router(pdf.router)
    app.include_router(reports.router)
    app.include_router(rollup.router)
    app.include_router(register.router)
    app.include_router(routes.router)
    app.include_router(plan.router)
    app.include_router(plan_edit.router)
    app.include_router(public.router)
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web-static")

    @app.exception_handler(StarletteHTTPException)
    async def _no_such_page(request: Request, exc: StarletteHTTPException) -> Response:
        # Starlette's router answers a path no route serves (404) or a method its route does
        # not take (405: a form's address opened as a link) with this exception. A person in a
        # browser gets the site's page in their language; the API's paths keep the one JSON
        # error shape its OpenAPI contract promises. Chosen by the path's prefix, as the
        # request limits choose (not by sniffing `Accept`).
        path = request.url.path
        if exc.status_code not in (404, 405) or not path.startswith(PAGES):
            return await http_error(request, exc)
        ws = await standalone_session(request)
        t = ws.tr.t
        if exc.status_code == 404:
            title, message = t("Not found"), t("The page or agreement does not exist, or is not yours to see.")
        else:
            title = t("Not allowed")
            message = t(
                "This address does not take that kind of request: go back and use the page's own links and buttons."
            )
        page = error_page(request, ws, exc.status_code, title, message)
        page.headers.update(exc.headers or {})  # a 405's `Allow`
        return page

    @app.exception_handler(RequestValidationError)
    async def _bad_address(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI refuses a page route's typed parameter it cannot read (`/ui/agreements/a/
        # drafts/two`, `?index=x`: an address edited by hand or cut short) with this error,
        # and a form's figure beyond its bound (`errors.refuse_beyond_the_edge`). On the pages'
        # paths a person gets the site's page in their language, on the API's the one JSON
        # shape its OpenAPI contract promises (chosen by prefix, as `_no_such_page`). An
        # address the page cannot read is a 400, as a form that cannot be read is: the
        # request is malformed, nothing that was written was refused. A refused value of a
        # form's body stays a 422, as a file sent for a text field is.
        if not request.url.path.startswith(PAGES):
            return await validation_error(request, exc)
        ws = await standalone_session(request)
        t = ws.tr.t
        errors = list(exc.errors())
        fields = [e["loc"] for e in errors if e.get("loc") and e["loc"][0] == "body"]
        if fields:  # the form's fields by their names, as the 422 of a file for a text field
            names = sorted({str(loc[-1]) if len(str(loc[-1])) <= 40 else str(loc[-1])[:40] + "…" for loc in fields})
            message = f"{t('The form holds a value this page refuses')}: {', '.join(names[:5])}"
            return error_page(request, ws, 422, t("Refused"), message)
        # An address's parameters have the code's names ("version"), not the reader's words.
        message = t("The address has a part this page cannot read: go back and use the site's own links.")
        return error_page(request, ws, 400, t("Bad address"), message)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(exc.next_path), status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        ws = await standalone_session(request)
        t = ws.tr.t
        return error_page(
            request,
            ws,
            403,
            t("Forbidden"),
            t("The form is missing its security token or it has expired; reload the page and try again."),
        )

    @app.exception_handler(FieldNotText)
    async def _not_text(request: Request, exc: FieldNotText) -> Response:
        ws = await standalone_session(request)
        t = ws.tr.t
        field = exc.name if len(exc.name) <= 40 else exc.name[:40] + "…"
        return error_page(request, ws, 422, t("Refused"), f"{t('This field takes text, not a file')}: {field}")

    @app.exception_handler(FormUnreadable)
    async def _unreadable(request: Request, exc: FormUnreadable) -> Response:
        ws = await standalone_session(request)
        t = ws.tr.t
        return error_page(
            request,
            ws,
            400,
            t("Refused"),
            t(
                "The form could not be read: one of its fields is over 1 MB, or it has more than 1,000 fields. "
                "Shorten it and send it again."
            ),
        )

    @app.get("/ui", include_in_schema=False)
    async def _ui() -> Response:
        return RedirectResponse("/ui/", status_code=307)
