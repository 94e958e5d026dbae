"""The roll-up of an overseer (docs/reports.md): the summary of the report upward of every
organisation it oversees (a province: its regencies and cities; the Ministry of Home
Affairs: the provinces), for one period, side by side and totalled. Each line is exactly
that organisation's own report (`report.build_report`), so the two never disagree."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.reporting.report import KINDS, SECTORS, Breakdown, Summary, build_report, reporting_line
from services.auth import Principal
from services.settings import Settings
from services.store import register

MAX_OVERSEEN = 600  # more than the regencies and cities of any province, or the provinces


class OverseenLine(BaseModel):
    org: str
    name: str = Field(description="Its official name in the register (Indonesian)")
    name_en: str | None = Field(None, description="Its English name in the register, where it has one")
    level: str
    summary: Summary
    evaluations: int = Field(description="Evaluations concluded in the period")
    problems: int = Field(description="Problems in the period (see the organisation's own report)")
    foreign_cooperation: int = Field(description="Foreign agreements in force in the period")


class OversightRollup(BaseModel):
    overseer: str
    period_from: date
    period_to: date
    generated_at: datetime
    organisations: list[OverseenLine] = Field(description="Every organisation the register says it oversees, by id")
    totals: Summary = Field(description="The sums of the lines (an agreement between two of them counts twice)")


def may_read_rollup(principal: Principal, overseer: str) -> bool:
    """The overseer's own staff and administrators, and the platform's operators."""
    return principal.has_role("operator") or (principal.org == overseer and principal.has_role("staff", "admin"))


async def build_rollup(
    session: AsyncSession, *, overseer: str, period_from: date, period_to: date, settings: Settings, now: datetime
) -> OversightRollup:
    overseen = await register.overseen_by(
        session, org=overseer, ministry_org=settings.ministry_orgs[0], limit=MAX_OVERSEEN
    )
    lines: list[OverseenLine] = []
    for entry in overseen:
        line_to = await reporting_line(session, org=entry.org, settings=settings)
        report = await build_report(
            session, org=entry.org, period_from=period_from, period_to=period_to, reports_to=line_to, now=now
        )
        lines.append(
            OverseenLine(
                org=entry.org,
                name=entry.name_id,
                name_en=entry.name_en,
                level=entry.level,
                summary=report.summary,
                evaluations=len(report.evaluations),
                problems=len(report.problems),
                foreign_cooperation=len(report.foreign_cooperation),
            )
        )
    return OversightRollup(
        overseer=overseer,
        period_from=period_from,
        period_to=period_to,
        generated_at=now,
        organisations=lines,
        totals=Summary(
            in_force=_sum([line.summary.in_force for line in lines]),
            new=_sum([line.summary.new for line in lines]),
            ended=_sum([line.summary.ended for line in lines]),
        ),
    )


def _sum(parts: list[Breakdown]) -> Breakdown:
    return Breakdown(
        total=sum(p.total for p in parts),
        by_kind={k: sum(p.by_kind.get(k, 0) for p in parts) for k in KINDS},
        by_partner_sector={s: sum(p.by_partner_sector.get(s, 0) for p in parts) for s in SECTORS},
    )
