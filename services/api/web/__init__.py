"""Pakta's web pages, served by the API process: `/ui/` for the people in the loop (sign-in,
inbox, agreement pages, proposal form, lists, PDF summaries) and `/public/` for citizens (the
transparency portal and its open data). Server-rendered Jinja2 with a vendored htmx
(`static/htmx.min.js`, htmx.org 2.0.11, 0BSD licence) and a small stylesheet: nothing is
loaded from another host.

`install(app)` adds the routers, the static files and the handlers that turn "sign in
first", "CSRF token missing" and "a text field sent as a file" into a redirect, a 403 page
and a 422 page."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from services.api.web.session import CsrfRefused, FieldNotText, SignInRequired, sign_in_url

STATIC = Path(__file__).parent / "static"


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

    @app.get("/ui", include_in_schema=False)
    async def _ui() -> Response:
        return RedirectResponse("/ui/", status_code=307)
