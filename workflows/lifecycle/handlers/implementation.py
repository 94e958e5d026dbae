"""Handlers of an agreement in force: evaluations (open, report, conclude — the
recommendation drives what follows), amendments and renewals (change processes with their
own negotiation, gates and signing), and extending a running deadline."""

from __future__ import annotations

from datetime import timedelta

from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle.access import acting_party
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition
from workflows.lifecycle.handlers.gates import request_termination
from workflows.lifecycle.reading import local_today, open_evaluation, party_orgs


def start_evaluation(e: Emitter, cmd: m.StartEvaluation) -> None:
    running = open_evaluation(e.state)
    if running is not None:
        raise InvalidTransition(f"Evaluation {running.number} is still open.", evaluation=running.number)
    e.open_evaluation(final=False, origin="requested")


def _evaluation(e: Emitter, number: int) -> m.Evaluation:
    """The open evaluation, if it is evaluation `number`."""
    evaluation = open_evaluation(e.state)
    if evaluation is None or evaluation.number != number:
        raise InvalidTransition(f"Evaluation {number} is not open"
                                + (f"; evaluation {evaluation.number} is." if evaluation else "."),
                                open_evaluation=evaluation.number if evaluation else None)
    return evaluation


def submit_evaluation_report(e: Emitter, cmd: m.SubmitEvaluationReport) -> None:
    party = acting_party(e.state, e.actor)
    evaluation = _evaluation(e, cmd.evaluation)
    if any(r.org == party.org for r in evaluation.reports):
        raise InvalidTransition(f"{party.org} has already reported on evaluation {evaluation.number}.")
    known = {i.name for i in e.state.indicators}
    unknown = sorted({r.indicator for r in cmd.results} - known)
    if unknown:
        raise InvalidProposal("Report only against the agreement's indicators.", unknown=unknown,
                              indicators=sorted(known))
    e.emit(ev.EvaluationReportSubmitted.model_validate(dict(
        evaluation=evaluation.number, org=party.org, narrative=cmd.narrative,
        results=[r.model_dump(mode="json") for r in cmd.results], late=e.now > evaluation.due_at)))


def conclude_evaluation(e: Emitter, cmd: m.ConcludeEvaluation) -> None:
    evaluation = _evaluation(e, cmd.evaluation)
    missing = sorted(set(party_orgs(e.state)) - {r.org for r in evaluation.reports})
    if missing and e.now < evaluation.due_at:
        raise InvalidTransition("Every party reports before the due date; conclude after it otherwise.",
                                missing_reports=missing, due_at=evaluation.due_at.isoformat())
    e.emit(ev.EvaluationConcluded(evaluation=evaluation.number, score=cmd.score, recommendation=cmd.recommendation,
                                  summary=cmd.summary, missing_reports=missing))
    _follow_recommendation(e, evaluation, cmd.recommendation)


def _follow_recommendation(e: Emitter, evaluation: m.Evaluation, recommendation: str) -> None:
    """The recommendation drives what follows: continue schedules the next period (already
    scheduled), expand opens an amendment, stop opens a termination for the head gate."""
    if evaluation.final and e.state.end_date is not None and e.state.end_date <= local_today(e.state, e.now):
        e.emit(ev.AgreementExpired(end_date=e.state.end_date, evaluation=evaluation.number))
        return
    origin = f"evaluation:{evaluation.number}"
    if recommendation == "expand" and e.state.change is None and e.state.termination is None:
        e.open_change("amendment", f"Perluasan kerja sama menurut evaluasi {evaluation.number}", {}, origin)
    elif recommendation == "stop" and e.state.termination is None:
        request_termination(e, f"Evaluasi {evaluation.number} merekomendasikan penghentian (dihentikan).", origin)


def propose_amendment(e: Emitter, cmd: m.ProposeAmendment) -> None:
    changes = cmd.model_dump(mode="json", exclude={"type", "summary"}, exclude_none=True)
    if cmd.end_date is not None and e.state.effective_date is not None and cmd.end_date <= e.state.effective_date:
        raise InvalidProposal("The new end date is after the effective date.")
    e.open_change("amendment", cmd.summary, changes, origin=None)


def renew(e: Emitter, cmd: m.Renew) -> None:
    e.open_change("renewal", cmd.note or f"Perpanjangan {cmd.duration_months} bulan",
                  {"duration_months": cmd.duration_months}, origin=None)


def extend_deadline(e: Emitter, cmd: m.ExtendDeadline) -> None:
    if cmd.deadline == "evaluation_report":
        evaluation = open_evaluation(e.state)
        if evaluation is None:
            raise InvalidTransition("No evaluation is open.")
        e.emit(ev.DeadlineExtended(deadline="evaluation_report", evaluation=evaluation.number,
                                   due_at=(evaluation.due_at + timedelta(days=cmd.days)).isoformat(),
                                   reason=cmd.reason))
        return
    due = e.state.deadlines.get("step")
    if due is None:
        raise InvalidTransition("No step deadline is running.")
    e.emit(ev.DeadlineExtended(deadline="step", due_at=(due + timedelta(days=cmd.days)).isoformat(),
                               reason=cmd.reason))
