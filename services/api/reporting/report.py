"""The report upward of an organisation for a period (issue #13, docs/reports.md): what a
regency or city tells its governor, a province the Minister of Home Affairs, about its
cooperation — agreements in force, new and ended by kind and partner sector, evaluation
results and recommendations, problems and follow-up, progress of action plans — assembled
from the read model and the audit trail (`services.store.reports`). Nothing here decides
anything about an agreement: it reports what the decider recorded.

Who may read it is `may_read_report`; the legal basis it names is `basis`'s."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.api import party_names
from services.api.reporting.basis import LegalBasis, basis_for
from services.api.reporting.plan_progress import PlanProgress, plan_progress
from services.auth import Principal
from services.settings import Settings
from services.store import portfolio, register
from services.store import reports as store
from workflows import messages as m
from workflows.lifecycle import current_step, open_evaluations
from workflows.portfolio.digest import org_zone

KINDS: tuple[str, ...] = get_args(m.Kind)
MAX_PERIOD_DAYS = 10 * 366  # a report covers at most ten years
SECTORS: tuple[str, ...] = get_args(m.Sector)
RECOMMENDATIONS: tuple[str, ...] = get_args(m.Recommendation)
Office = Literal["governor", "minister_of_home_affairs", "other"]
ProblemKind = Literal[
    "deadline_overdue",
    "deadline_escalated",
    "deadline_extended",
    "evaluation_escalated",
    "evaluation_report_missing",
    "evaluation_report_late",
    "recommendation_deferred",
    "termination_requested",
    "termination_declined",
    "terminated",
    "plan_items_late",
]

EscalatedTo = Literal["coordinators", "head_office"]


class ReportsTo(BaseModel):
    org: str
    name: str | None = Field(description="The overseer's official name in the register")
    office: Office = Field(
        description="governor: the overseer is a province's government (the organisation is a regency or city); "
        "minister_of_home_affairs: the overseer is the ministry (PAKTA_MINISTRY_ORGS; the organisation is a "
        "province); other: an overseer the register sets otherwise"
    )
    derived: bool = Field(description="true: by law from the register's level and province; false: set in the register")


class Breakdown(BaseModel):
    total: int
    by_kind: dict[str, int] = Field(description="ksdd, ksdpk, ksdpl, ksdll: every kind, 0 when none")
    by_partner_sector: dict[str, int] = Field(
        description="The partners' pentahelix sectors (government, industry, academia, community, media); "
        "an agreement with partners of two sectors counts in both"
    )


class Summary(BaseModel):
    in_force: Breakdown = Field(description="In force at some time in the period")
    new: Breakdown = Field(description="Signed (or, for agreements signed before Pakta, signed on paper) in the period")
    ended: Breakdown = Field(description="Expired or terminated in the period")


class Partner(BaseModel):
    org: str
    name: str | None = Field(
        description="The name the agreement recorded, or the register's (Indonesian) where it recorded none or the id"
    )
    sector: str
    foreign: bool


class ReportedAgreement(BaseModel):
    id: str
    title: str
    kind: str
    stage: str
    sector: str = Field(description="The field of cooperation (health, education, ...)")
    partners: list[Partner]
    foreign: bool = Field(description="Foreign cooperation: the Minister of Foreign Affairs is to be informed")
    signed_on: date | None
    effective_date: date | None
    end_date: date | None
    new: bool
    ended_on: date | None
    ended_as: Literal["expired", "terminated"] | None
    termination_reason: str | None
    latest_score: int | None = Field(description="The score of its latest concluded evaluation, at any time")
    action_plan: PlanProgress | None = Field(description="None: the agreement carries no action plan")


class EvaluationResult(BaseModel):
    agreement_id: str
    title: str
    number: int
    final: bool
    concluded_on: date
    score: int | None
    recommendation: str | None
    summary: str | None
    missing_reports: list[str] = Field(description="Parties whose report the evaluation concluded without")
    late_reports: list[str] = Field(description="Parties that reported after the due date")


class Problem(BaseModel):
    """What went wrong, with its facts: the pages, the PDF and the CSV word it from them
    (`problem_words`), in the reader's language, with names and local dates."""

    agreement_id: str
    title: str
    kind: ProblemKind
    on: date
    detail: str = Field(
        description="Deprecated: an English line with keys, ids and ISO timestamps, kept for existing consumers; "
        "the fields below carry its facts"
    )
    step: str | None = Field(
        None, description="The procedure step's key (deadline_overdue of a step's deadline, deadline_escalated)"
    )
    deadline: m.DeadlineKind | None = Field(
        None, description="Which deadline: step or evaluation_report (deadline_overdue, deadline_extended)"
    )
    due_at: datetime | None = Field(
        None,
        description="The deadline's moment (deadline_overdue, deadline_escalated); the new one (deadline_extended)",
    )
    evaluation: int | None = Field(
        None,
        description="The evaluation's number (evaluation_*, recommendation_deferred, deadline_overdue and "
        "deadline_extended of an evaluation's reports, termination_requested on an evaluation's recommendation)",
    )
    orgs: list[str] = Field(
        default_factory=list,
        description="The organisations concerned, by id: those whose evaluation report is missing or late, the "
        "party that proposed terminating (the report's partners and the organisation itself are named in it)",
    )
    escalated_to: EscalatedTo | None = Field(
        None, description="Whom a late evaluation report was escalated to (evaluation_escalated)"
    )
    recommendation: m.Recommendation | None = Field(None, description="The deferred recommendation")
    change: str | None = Field(
        None, description="The amendment or renewal open at the time, e.g. renewal-2 (recommendation_deferred)"
    )
    text: str | None = Field(
        None,
        description="What a person wrote: the reason of an extension, a termination or its proposal, the comment "
        "of a declined termination",
    )
    late_items: dict[str, int] | None = Field(
        None, description="The action plan's items past their date, by kind: activity, obligation, action_item"
    )


class UpwardReport(BaseModel):
    org: str
    name: str | None = Field(description="The organisation's official name in the register")
    period_from: date
    period_to: date
    time_zone: str = Field(description="The organisation's zone: the period's days are its days")
    generated_at: datetime
    reports_to: ReportsTo | None = Field(
        description="From the register of organisations (GET /organisations/{org}); None when it names no overseer"
    )
    legal_basis: list[LegalBasis]
    summary: Summary
    agreements: list[ReportedAgreement] = Field(description="In force, new or ended in the period")
    evaluations: list[EvaluationResult] = Field(description="Concluded in the period")
    recommendations: dict[str, int] = Field(description="continue, expand, stop: evaluations concluded in the period")
    problems: list[Problem] = Field(description="What went wrong in the period, and what was done about it")
    foreign_cooperation: list[str] = Field(description="Ids of the foreign agreements in force in the period")
    action_plans_reported: int = Field(description="How many of the agreements carry an action plan")


async def reporting_line(session: AsyncSession, *, org: str, settings: Settings) -> ReportsTo | None:
    """Whom `org` reports to, from the register: its set overseer, else the law's default
    (a regency or city its province's government, a province the Ministry of Home Affairs)."""
    oversight = await register.overseer_of(session, org=org, ministry_org=settings.ministry_orgs[0])
    if oversight is None:
        return None
    overseer = await register.get(session, org=oversight.overseer)
    office: Office = "other"
    if oversight.overseer in settings.ministry_orgs:
        office = "minister_of_home_affairs"
    elif overseer is not None and overseer.level == "province":
        office = "governor"
    return ReportsTo(
        org=oversight.overseer, name=overseer.name_id if overseer else None, office=office, derived=oversight.derived
    )


def period_problem(start: date, end: date) -> str | None:
    """Why `start`..`end` is no period a report covers (None: it is one)."""
    if end < start:
        return "The period ends before it starts."
    if (end - start).days > MAX_PERIOD_DAYS:
        return "A report covers at most ten years."
    return None


def may_read_report(principal: Principal, org: str, reports_to: ReportsTo | None) -> bool:
    """The organisation's own staff and administrators, those of the organisation that
    oversees it (`reporting_line`), and the platform's operators."""
    if principal.has_role("operator"):
        return True
    overseer = reports_to.org if reports_to else None
    return principal.has_role("staff", "admin") and principal.org in (org, overseer)


async def build_report(
    session: AsyncSession,
    *,
    org: str,
    period_from: date,
    period_to: date,
    reports_to: ReportsTo | None,
    now: datetime,
) -> UpwardReport:
    """`org`'s report for the period; `reports_to` is its `reporting_line`, read once by the
    caller (who checks the reader against it)."""
    zone = org_zone(org, *(await portfolio.zones_of(session, orgs=[org]))[org])
    tz = ZoneInfo(zone)
    since = datetime.combine(period_from, time(0), tz)
    until = datetime.combine(period_to + timedelta(days=1), time(0), tz)
    rows = await store.signed_agreements(session, org=org)
    events = await store.report_events(session, agreement_ids=[r.id for r in rows], since=since, until=until)
    by_agreement: dict[str, list[store.ReportedEvent]] = {}
    for event in events:
        by_agreement.setdefault(event.agreement_id, []).append(event)
    today = now.astimezone(tz).date()
    as_of = min(period_to, today)
    agreements: list[ReportedAgreement] = []
    evaluations: list[EvaluationResult] = []
    problems: list[Problem] = []
    states = [m.AgreementState.model_validate(row.state) for row in rows]
    # The partners named as the register names them where the recording did not (the
    # report's own names are the register's Indonesian ones): one read for the report.
    names = await party_names.register_names(session, (p for s in states for p in s.parties if p.org != org), "id")
    for row, state in zip(rows, states, strict=True):
        own = by_agreement.get(row.id, [])
        item = _agreement(party_names.named_state(state, names), own, org, tz, (period_from, period_to), as_of, now)
        in_force = _in_force(item, period_from, period_to)
        if not (in_force or item.new):
            continue
        agreements.append(item)
        evaluations += _evaluations(state, own, period_from, period_to, tz)
        problems += _problems(state, item, own, (period_from, period_to), tz, now, as_of)
    in_force_items = [a for a in agreements if _in_force(a, period_from, period_to)]
    results = Counter(e.recommendation for e in evaluations if e.recommendation)
    foreign = [a.id for a in in_force_items if a.foreign]
    entry = await register.get(session, org=org)
    return UpwardReport(
        org=org,
        name=entry.name_id if entry else None,
        period_from=period_from,
        period_to=period_to,
        time_zone=zone,
        generated_at=now,
        reports_to=reports_to,
        legal_basis=basis_for(reports_to.office if reports_to else None, foreign=bool(foreign)),
        summary=Summary(
            in_force=_breakdown(in_force_items),
            new=_breakdown([a for a in agreements if a.new]),
            ended=_breakdown([a for a in agreements if _ended_in(a, period_from, period_to)]),
        ),
        agreements=agreements,
        evaluations=sorted(evaluations, key=lambda e: (e.concluded_on, e.agreement_id, e.number)),
        recommendations={r: results.get(r, 0) for r in RECOMMENDATIONS},
        problems=sorted(problems, key=lambda p: (p.on, p.agreement_id, p.kind)),
        foreign_cooperation=foreign,
        action_plans_reported=sum(1 for a in agreements if a.action_plan is not None),
    )


def _agreement(
    state: m.AgreementState,
    events: list[store.ReportedEvent],
    org: str,
    tz: ZoneInfo,
    period: tuple[date, date],
    as_of: date,
    now: datetime,
) -> ReportedAgreement:
    signed_on: date | None = None
    ended_on: date | None = None
    ended_as: Literal["expired", "terminated"] | None = None
    reason: str | None = None
    for event in events:
        if event.type == "implementation_started" and signed_on is None:
            signed_on = event.at.astimezone(tz).date()
        elif event.type == "agreement_imported":
            signed_on = date.fromisoformat(event.data["signed_on"])
        elif event.type == "agreement_terminated":
            ended_on, ended_as = event.at.astimezone(tz).date(), "terminated"
            reason = event.data.get("reason")
        elif event.type == "agreement_expired":
            ended_on, ended_as = date.fromisoformat(event.data["end_date"]), "expired"
    partners = [
        Partner(org=p.org, name=p.name, sector=p.sector, foreign=p.foreign) for p in state.parties if p.org != org
    ]
    scores = [e.score for e in state.evaluations if e.score is not None]
    return ReportedAgreement(
        id=state.id,
        title=state.title,
        kind=state.kind,
        stage=state.stage,
        sector=state.sector,
        partners=partners,
        foreign=state.kind in ("ksdpl", "ksdll") or any(p.foreign for p in partners),
        signed_on=signed_on,
        effective_date=state.effective_date,
        end_date=state.end_date,
        new=signed_on is not None and period[0] <= signed_on <= period[1],
        ended_on=ended_on,
        ended_as=ended_as,
        termination_reason=reason,
        latest_score=scores[-1] if scores else None,
        action_plan=plan_progress(state, as_of=as_of, now=now),
    )


def _in_force(item: ReportedAgreement, start: date, end: date) -> bool:
    began = item.effective_date
    return began is not None and began <= end and (item.ended_on is None or item.ended_on >= start)


def _ended_in(item: ReportedAgreement, start: date, end: date) -> bool:
    return item.ended_on is not None and start <= item.ended_on <= end


def _breakdown(items: list[ReportedAgreement]) -> Breakdown:
    sectors: Counter[str] = Counter()
    for item in items:
        sectors.update({p.sector for p in item.partners})
    kinds = Counter(i.kind for i in items)
    return Breakdown(
        total=len(items),
        by_kind={k: kinds.get(k, 0) for k in KINDS},
        by_partner_sector={s: sectors.get(s, 0) for s in SECTORS},
    )


def _local(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def _evaluations(
    state: m.AgreementState, events: list[store.ReportedEvent], start: date, end: date, tz: ZoneInfo
) -> list[EvaluationResult]:
    missing = {
        e.data["evaluation"]: list(e.data.get("missing_reports", []))
        for e in events
        if e.type == "evaluation_concluded"
    }
    out = []
    for ev in state.evaluations:
        if ev.concluded_at is None or not start <= _local(ev.concluded_at, tz) <= end:
            continue
        out.append(
            EvaluationResult(
                agreement_id=state.id,
                title=state.title,
                number=ev.number,
                final=ev.final,
                concluded_on=_local(ev.concluded_at, tz),
                score=ev.score,
                recommendation=ev.recommendation,
                summary=ev.summary,
                missing_reports=missing.get(ev.number, []),
                late_reports=[r.org for r in ev.reports if r.late],
            )
        )
    return out


def _problems(
    state: m.AgreementState,
    item: ReportedAgreement,
    events: list[store.ReportedEvent],
    period: tuple[date, date],
    tz: ZoneInfo,
    now: datetime,
    as_of: date,
) -> list[Problem]:
    start, end = period
    found: list[Problem] = []

    def add(kind: ProblemKind, on: date, detail: str, **facts: Any) -> None:
        found.append(Problem(agreement_id=state.id, title=state.title, kind=kind, on=on, detail=detail, **facts))

    for e in events:
        on, d = _local(e.at, tz), e.data
        if not start <= on <= end:
            continue  # a signing or an ending recorded outside the period
        if e.type == "deadline_escalated":
            due = _moment(d.get("due_at"))
            add(
                "deadline_escalated", on, f"step {d.get('step')}, due {d.get('due_at')}", step=d.get("step"), due_at=due
            )
        elif e.type == "evaluation_escalated":
            to = d.get("to") or "coordinators"
            add(
                "evaluation_escalated",
                on,
                f"evaluation {d.get('evaluation')}, to {to}",
                evaluation=d.get("evaluation"),
                escalated_to=_known(to, EscalatedTo),
            )
        elif e.type == "deadline_extended":
            add(
                "deadline_extended",
                on,
                f"{d.get('deadline')} to {d.get('due_at')}: {d.get('reason')}",
                deadline=_known(d.get("deadline"), m.DeadlineKind),
                evaluation=d.get("evaluation"),
                due_at=_moment(d.get("due_at")),
                text=d.get("reason"),
            )
        elif e.type == "recommendation_deferred":
            add(
                "recommendation_deferred",
                on,
                f"evaluation {d.get('evaluation')}: {d.get('recommendation')} while {d.get('open_change')} is open",
                evaluation=d.get("evaluation"),
                recommendation=_known(d.get("recommendation"), m.Recommendation),
                change=d.get("open_change"),
            )
        elif e.type == "termination_requested":
            origin = f" ({d['origin']})" if d.get("origin") else ""
            kind, _, number = str(d.get("origin") or "").partition(":")
            add(
                "termination_requested",
                on,
                f"{d.get('reason')}{origin}",
                orgs=[d["org"]] if d.get("org") else [],
                evaluation=int(number) if kind == "evaluation" and number.isdigit() else None,
                text=d.get("reason"),
            )
        elif e.type == "termination_declined":
            add("termination_declined", on, str(d.get("comment") or ""), text=d.get("comment"))
        elif e.type == "agreement_terminated":
            add("terminated", on, str(d.get("reason") or ""), text=d.get("reason"))
        elif e.type == "evaluation_concluded" and d.get("missing_reports"):
            missing = list(d["missing_reports"])
            detail = f"evaluation {d.get('evaluation')}: " + ", ".join(missing)
            add("evaluation_report_missing", on, detail, evaluation=d.get("evaluation"), orgs=missing)
    for ev in state.evaluations:
        for report in ev.reports:
            if report.late and start <= _local(report.at, tz) <= end:
                detail = f"evaluation {ev.number}: {report.org}"
                add("evaluation_report_late", _local(report.at, tz), detail, evaluation=ev.number, orgs=[report.org])
    if state.stage not in m.TERMINAL_STAGES and start <= now.astimezone(tz).date() <= end:
        for name, due in sorted(state.deadlines.items()):
            if due < now:
                add(
                    "deadline_overdue",
                    _local(due, tz),
                    f"{name}, due {due.astimezone(tz).isoformat()}",
                    **_overdue(state, name, due),
                )
    if item.action_plan is not None and item.action_plan.late:
        late = Counter(i.kind for i in item.action_plan.late)
        add("plan_items_late", as_of, ", ".join(f"{n} {k}" for k, n in sorted(late.items())), late_items=dict(late))
    return found


def _moment(value: object) -> datetime | None:
    """A moment as an event's data holds it (ISO text); None where it holds none."""
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _known(value: object, literal: Any) -> Any:
    """`value` if it is one of `literal`'s, else None: a fact the recording holds otherwise
    (a value no code writes any more) is left out of the problem, never a failed report."""
    return value if value in get_args(literal) else None


def _overdue(state: m.AgreementState, deadline: str, due: datetime) -> dict[str, Any]:
    """An overdue deadline's facts: the step that runs, or the evaluation whose reports are due."""
    facts: dict[str, Any] = {"deadline": _known(deadline, m.DeadlineKind), "due_at": due}
    if deadline == "step":
        step = current_step(state)
        facts["step"] = step.key if step is not None else None
    elif deadline == "evaluation_report":
        running = open_evaluations(state)
        facts["evaluation"] = running[-1].number if running else None
    return facts


def utc_now() -> datetime:
    return datetime.now(UTC)
