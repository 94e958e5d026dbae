"""Handlers of an agreement in force: evaluations (open, report, conclude — the
recommendation drives what follows), amendments and renewals (change processes with their
own negotiation, gates and signing), and extending a running deadline."""

from __future__ import annotations

from datetime import datetime

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle import events as ev
from workflows.lifecycle.access import acting_party
from workflows.lifecycle.bounds import EXTENSIONS_PER_DUE_DATE, TooManyExtensions
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition
from workflows.lifecycle.handlers.gates import request_termination
from workflows.lifecycle.progress import period_summary
from workflows.lifecycle.reading import (
    calendar_of,
    initiator,
    local_today,
    open_evaluation,
    open_evaluations,
    party_orgs,
    scope_of,
)


def start_evaluation(e: Emitter, cmd: m.StartEvaluation) -> None:
    """An extra evaluation: not before the agreement is in force, one at a time, and it
    leaves the schedule as it is."""
    effective = e.state.effective_date
    if effective is not None and local_today(e.state, e.now) < effective:
        raise InvalidTransition(
            "The agreement is not in force yet: no evaluation before its effective date.",
            effective_date=effective.isoformat(),
        )
    running = open_evaluation(e.state)
    if running is not None:
        raise InvalidTransition(f"Evaluation {running.number} is still open.", evaluation=running.number)
    e.open_evaluation(final=False, origin="requested")


def _evaluation(e: Emitter, number: int) -> m.Evaluation:
    """Open evaluation `number` (several may be open: each interval opens its own)."""
    running = open_evaluations(e.state)
    evaluation = next((x for x in running if x.number == number), None)
    if evaluation is None:
        numbers = [x.number for x in running]
        raise InvalidTransition(
            f"Evaluation {number} is not open" + (f"; open: {', '.join(map(str, numbers))}." if numbers else "."),
            open_evaluations=numbers,
        )
    return evaluation


def submit_evaluation_report(e: Emitter, cmd: m.SubmitEvaluationReport) -> None:
    party = acting_party(e.state, e.actor)
    evaluation = _evaluation(e, cmd.evaluation)
    if any(r.org == party.org for r in evaluation.reports):
        raise InvalidTransition(f"{party.org} has already reported on evaluation {evaluation.number}.")
    known = {i.name for i in e.state.indicators}
    unknown = sorted({r.indicator for r in cmd.results} - known)
    if unknown:
        raise InvalidProposal(
            "Report only against the agreement's indicators.", unknown=unknown, indicators=sorted(known)
        )
    e.emit(
        ev.EvaluationReportSubmitted.model_validate(
            dict(
                evaluation=evaluation.number,
                org=party.org,
                narrative=cmd.narrative,
                results=[r.model_dump(mode="json") for r in cmd.results],
                late=e.now > evaluation.due_at,
            )
        )
    )


def conclude_evaluation(e: Emitter, cmd: m.ConcludeEvaluation) -> None:
    evaluation = _evaluation(e, cmd.evaluation)
    missing = sorted(set(party_orgs(e.state)) - {r.org for r in evaluation.reports})
    if missing and e.now < evaluation.due_at:
        raise InvalidTransition(
            "Every party reports before the due date; conclude after it otherwise.",
            missing_reports=missing,
            due_at=evaluation.due_at.isoformat(),
        )
    concluded = ev.EvaluationConcluded(
        evaluation=evaluation.number,
        score=cmd.score,
        recommendation=cmd.recommendation,
        summary=cmd.summary,
        missing_reports=missing,
    )
    if e.state.activities or e.state.obligations:  # achievement against the plan, on record (#13)
        period = period_summary(e.state, evaluation)
        concluded.achievement = m.PlanAchievement(
            planned_percent=period.planned_percent,
            actual_percent=period.actual_percent,
            achievement=period.achievement,
            obligations_fulfilled=period.obligations_fulfilled,
            obligations_missed=period.obligations_missed,
        )
    e.emit(concluded)
    _follow_recommendation(e, evaluation, cmd.recommendation)


def _follow_recommendation(e: Emitter, evaluation: m.Evaluation, recommendation: str) -> None:
    """The recommendation drives what follows: continue schedules the next period (already
    scheduled), expand opens an amendment, stop opens a termination for the head gate."""
    if evaluation.final and e.state.end_date is not None and e.state.end_date <= local_today(e.state, e.now):
        if e.state.change is not None:  # the open change lapses with the term, on record
            e.emit(
                ev.AgreementExpired(
                    end_date=e.state.end_date, evaluation=evaluation.number, open_change=scope_of(e.state)
                )
            )
        else:
            e.emit(ev.AgreementExpired(end_date=e.state.end_date, evaluation=evaluation.number))
        return
    origin = f"evaluation:{evaluation.number}"
    if recommendation == "expand":
        summary = f"Perluasan kerja sama menurut evaluasi {evaluation.number}"
        busy = scope_of(e.state) or ("termination" if e.state.termination is not None else "")
        if busy:  # recorded, for the initiating staff to propose once that process closes
            e.emit(
                ev.RecommendationDeferred(
                    evaluation=evaluation.number,
                    recommendation="expand",
                    open_change=busy,
                    summary=evaluation_summary(e, evaluation),
                )
            )
        else:
            e.open_change("amendment", summary, {}, origin, recommendation=evaluation_summary(e, evaluation) or summary)
    elif recommendation == "stop" and e.state.termination is None:
        request_termination(e, f"Evaluasi {evaluation.number} merekomendasikan penghentian (dihentikan).", origin)


def evaluation_summary(e: Emitter, evaluation: m.Evaluation) -> str | None:
    """The conclusion's text, as recorded."""
    return next(x.summary for x in e.state.evaluations if x.number == evaluation.number)


def extend_deadline(e: Emitter, cmd: m.ExtendDeadline) -> None:
    """Move a running deadline `days` days of service on: from the old due date while it
    runs, from now once it has passed — never past `m.LATEST_DATE`, the last day a term may
    end on (`_within_dates`)."""
    calendar = calendar_of(e.state, initiator(e.state).org, e.now)
    if cmd.deadline == "evaluation_report":
        running = open_evaluations(e.state)
        evaluation = (
            next((x for x in running if x.number == cmd.evaluation), None)
            if cmd.evaluation
            else (running[-1] if running else None)
        )
        if evaluation is None:
            raise InvalidTransition("No such evaluation is open." if cmd.evaluation else "No evaluation is open.")
        _refuse_beyond_the_extensions(e, f"evaluation:{evaluation.number}", evaluation.due_at)
        e.emit(
            ev.DeadlineExtended(
                deadline="evaluation_report",
                evaluation=evaluation.number,
                due_at=_within_dates(calendar, calendar.extended(evaluation.due_at, e.now, cmd.days)).isoformat(),
                reason=cmd.reason,
            )
        )
        return
    due = e.state.deadlines.get("step")
    if due is None:
        raise InvalidTransition("No step deadline is running.")
    _refuse_beyond_the_extensions(e, "step", due)
    e.emit(
        ev.DeadlineExtended(
            deadline="step",
            due_at=_within_dates(calendar, calendar.extended(due, e.now, cmd.days)).isoformat(),
            reason=cmd.reason,
        )
    )


def extensions_at_bound(state: m.AgreementState) -> bool:
    """Whether a running due date's count holds `EXTENSIONS_PER_DUE_DATE` extensions or
    more: only then may an extension be refused by the bound (what the workflow checks
    before asking Temporal whether the run was recorded before the bound)."""
    return any(len(count.extensions) >= EXTENSIONS_PER_DUE_DATE for count in state.due_counts.values())


def _refuse_beyond_the_extensions(e: Emitter, key: str, due: datetime) -> None:
    """Refuse (422) one more extension of a due date whose count holds
    `EXTENSIONS_PER_DUE_DATE` already: the count keeps every extension (a recount needs
    each one, they cannot be folded into fewer), and it travels in the state. Only a date
    counted in days of service has a count; a calendar-days date keeps nothing per extension.
    Not in a run recorded before the bound (`e.extensions_unbounded`): its history may hold
    more, each taken then, and replays to them."""
    count = e.state.due_counts.get(key)
    if count is None or count.due != due or len(count.extensions) < EXTENSIONS_PER_DUE_DATE:
        return
    if e.extensions_unbounded:
        return
    raise TooManyExtensions(
        f"This due date has been extended {len(count.extensions)} times, the most one due date may be; "
        "nothing was changed.",
        limit=EXTENSIONS_PER_DUE_DATE,
    )


def _within_dates(calendar: t.Calendar, due: datetime) -> datetime:
    """`due`, refused (422) when it falls after `m.LATEST_DATE`, the last day any other date
    of an agreement may be (`m.AgreementDate`, a term's end). Extensions of a date counted in
    calendar days are not capped in number, and each counts from the last due date: without
    this bound, 5,697 of 365 days of service carried a step deadline to February 9999, and
    the next one raised OverflowError inside `decide` — an internal error where a refusal is
    owed. The bound also keeps every wake-up the workflow sleeps towards within decades, not
    millennia."""
    if t.local_day(due, calendar.zone) > m.LATEST_DATE:
        raise InvalidProposal(f"The extended deadline would fall after {m.LATEST_DATE.isoformat()}.", field="days")
    return due
