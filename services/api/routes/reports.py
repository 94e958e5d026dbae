"""`GET /reports/upward` (JSON) and `GET /reports/upward.csv`: an organisation's report on its
cooperation for a period, to those who oversee it (docs/reports.md). Assembled by
`services.api.reporting`; read by the organisation's own staff and administrators, those of
the organisation that oversees it (the register of organisations) and operators.
`GET /reports/overseen` (JSON) and `GET /reports/overseen.csv`: an overseer's roll-up of the
reports of every organisation it oversees, read by its own staff and administrators and
operators."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from services.api.deps import PrincipalDep, SessionDep, SettingsDep
from services.api.document_access import PRIVATE_FILE
from services.api.reporting.report import (
    ReportsTo,
    UpwardReport,
    build_report,
    may_read_report,
    period_problem,
    reporting_line,
    utc_now,
)
from services.api.reporting.rollup import OversightRollup, build_rollup, may_read_rollup
from services.api.reporting.table import report_csv, rollup_csv
from services.auth import Principal
from services.errors import Forbidden, Unprocessable
from services.settings import Settings
from workflows.messages import AgreementDate, OrgId

router = APIRouter(prefix="/reports", tags=["reports"])

Org = Annotated[
    OrgId | None,
    Query(description="The reporting organisation (default: your own); its overseer and operators may name it"),
]
From = Annotated[AgreementDate, Query(alias="from", description="First day of the period (in the organisation's zone)")]
To = Annotated[AgreementDate, Query(alias="to", description="Last day of the period, included")]
CSV_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": (
            "One row per agreement reported on, in English whoever asks (headers, codes, words). "
            "`plan_health_reasons` words each reason by its code, the item by its own words and the "
            "organisation by its name, without the plan's ids; the JSON's `health.reasons[]` keeps "
            "the codes, the ids and the decider's sentences. `problems` words each problem by its kind "
            "from its facts: its day, the step by its name, the due moment as a date and time in the "
            "organisation's zone, the organisations by name; the JSON's `problems[]` keeps the facts "
            "and the deprecated `detail`. `evaluations` words each evaluation concluded in the period: "
            'its number, score and recommendation ("Evaluation 1: score 55, recommended “expand”"); the '
            "JSON's `evaluations[]` keeps them as values."
        ),
    }
}


def check_period(start: date, end: date) -> None:
    """A period is one: refused with 422 naming `to` otherwise."""
    problem = period_problem(start, end)
    if problem is not None:
        raise Unprocessable(problem, code="invalid_period", field="to")


async def checked(
    session: AsyncSession, principal: Principal, org: str | None, start: date, end: date, settings: Settings
) -> tuple[str, ReportsTo | None]:
    """The organisation reported on and whom it reports to, once the caller may read its
    report and the period is one: refused with 403, or with 422 naming `to`."""
    wanted = org or principal.org
    line = await reporting_line(session, org=wanted, settings=settings)
    if not may_read_report(principal, wanted, line):
        raise Forbidden(
            "A report upward is read by the organisation's own staff and administrators, "
            "those of the organisation that oversees it, and operators."
        )
    check_period(start, end)
    return wanted, line


@router.get("/upward", response_model=UpwardReport, summary="An organisation's report upward for a period")
async def upward(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep, start: From, end: To, org: Org = None
) -> UpwardReport:
    wanted, line = await checked(session, principal, org, start, end, settings)
    return await build_report(session, org=wanted, period_from=start, period_to=end, reports_to=line, now=utc_now())


@router.get(
    "/upward.csv",
    response_class=Response,
    responses=CSV_CONTENT,
    summary="An organisation's report upward for a period, as CSV",
)
async def upward_csv(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep, start: From, end: To, org: Org = None
) -> Response:
    wanted, line = await checked(session, principal, org, start, end, settings)
    report = await build_report(session, org=wanted, period_from=start, period_to=end, reports_to=line, now=utc_now())
    return Response(
        report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="pakta-report-{wanted}-{start}-{end}.csv"',
            "Cache-Control": PRIVATE_FILE,
        },
    )


Overseer = Annotated[
    OrgId | None, Query(description="The overseeing organisation (default: your own); operators may name any")
]


async def checked_rollup(
    session: AsyncSession, principal: Principal, org: str | None, start: date, end: date, settings: Settings
) -> OversightRollup:
    """The roll-up of `org` (default: the caller's own organisation), once the caller may read
    it and the period is one: refused with 403, or with 422 naming `to`."""
    overseer = org or principal.org
    if not may_read_rollup(principal, overseer):
        raise Forbidden("An overseer's roll-up is read by its own staff and administrators, and operators.")
    check_period(start, end)
    return await build_rollup(
        session, overseer=overseer, period_from=start, period_to=end, settings=settings, now=utc_now()
    )


@router.get(
    "/overseen",
    response_model=OversightRollup,
    summary="The summaries of the reports upward of every organisation an overseer oversees, for a period",
)
async def overseen(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep, start: From, end: To, org: Overseer = None
) -> OversightRollup:
    return await checked_rollup(session, principal, org, start, end, settings)


@router.get(
    "/overseen.csv",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "One row per organisation overseen, then the totals",
        }
    },
    summary="An overseer's roll-up for a period, as CSV",
)
async def overseen_csv(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep, start: From, end: To, org: Overseer = None
) -> Response:
    rollup = await checked_rollup(session, principal, org, start, end, settings)
    name = f"pakta-rollup-{rollup.overseer}-{start}-{end}.csv"
    return Response(
        rollup_csv(rollup),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": PRIVATE_FILE},
    )
