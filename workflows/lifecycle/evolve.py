"""evolve: apply one recorded event to the state.

The state is a left fold of the events; `evolve` never refuses and never decides anything
(the rules were applied when the event was decided). Each applier reads its event's typed
payload (`workflows.lifecycle.events`), so an event that does not fit its model fails
here instead of leaving a half-applied state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle import bounds
from workflows.lifecycle import events as ev
from workflows.lifecycle.plan import merged_activities, merged_obligations
from workflows.lifecycle.reading import (
    active_procedure,
    current_step,
    initiator,
    initiator_calendar,
    latest_draft,
    open_evaluations,
    party_orgs,
    procedure_of,
    step_due,
    zone,
)
from workflows.procedures import TERMINATION_STEP


def evolve(state: m.AgreementState | None, event: m.Event) -> m.AgreementState:
    """The state after `event`; `state` is None only for `agreement_created`."""
    if event.type == "agreement_created":
        assert state is None
        created = ev.payload_as(event, ev.AgreementCreated)
        return m.AgreementState(
            id=event.agreement_id,
            title=created.title,
            kind=created.kind,
            objectives=created.objectives,
            sector=created.sector,
            parties=created.parties,
            start_date=created.start_date,
            duration_months=created.duration_months,
            evaluation_interval_months=created.evaluation_interval_months,
            indicators=created.indicators,
            value=created.value,
            procedure=created.procedure,
            expiry_reminder_days=created.expiry_reminder_days,
            created_by=event.actor.sub,
            created_at=event.at,
            updated_at=event.at,
            request_fingerprint=created.fingerprint,
            seq=event.seq,
            version=event.version,
            ministry_orgs=list(created.ministry_orgs),
            calendar=created.calendar,
            goals=created.goals,
            obligations=[m.ObligationRecord.model_validate(o.model_dump()) for o in created.obligations],
            activities=[m.ActivityRecord.model_validate(a.model_dump()) for a in created.activities],
        )
    assert state is not None and event.seq == state.seq + 1, "events apply in sequence"
    payload = ev.event_payload(event)
    new = _copy_for(state, event.type)
    _APPLY[event.type](new, event, payload)
    notice = getattr(payload, "notice", None)
    if notice is not None:  # brought by a tick: the notice is sent
        new.notices_sent = [*new.notices_sent, notice]
    if new.stage != state.stage:
        new.stage_since = event.at
    new.seq, new.version, new.updated_at = event.seq, event.version, event.at
    return new


def _copy_for(state: m.AgreementState, event_type: str) -> m.AgreementState:
    """A copy of `state` its event's applier may change: the fields the applier changes in
    place (`_CHANGES_IN_PLACE`) are copied, the rest shared with `state`, which stays as it
    was (the state a command was decided on is asked again, by `allowed_actions` and the
    next command). An event type not listed there gets a deep copy of everything."""
    fields = _CHANGES_IN_PLACE.get(event_type)
    if fields is None:
        return _fresh(state)  # type: ignore[no-any-return]
    new = state.model_copy()
    for field in fields:
        setattr(new, field, _fresh(getattr(state, field)))
    return new


def _fresh(value: Any) -> Any:
    """A copy of `value` down to its immutable leaves (str, numbers, dates), which are
    shared: what `copy.deepcopy` would give, without its memo and at a fraction of its cost
    (a state holds no cycles)."""
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    if isinstance(value, BaseModel):
        copied = value.model_copy()
        for name, item in copied.__dict__.items():
            if isinstance(item, list | dict | BaseModel):
                copied.__dict__[name] = _fresh(item)
        return copied
    return value


def _apply_edited(s: m.AgreementState, e: m.Event, p: ev.ProposalEdited) -> None:
    changes = ev.dump_payload(p.changes)
    updated = m.AgreementState.model_validate({**s.model_dump(mode="json"), **changes})
    for field in changes:
        setattr(s, field, getattr(updated, field))


def _apply_submitted(s: m.AgreementState, e: m.Event, p: ev.AgreementSubmitted) -> None:
    s.gates = [slot.model_copy() for slot in p.gates]
    s.drafts, s.signatures = [], []


def _apply_step_entered(s: m.AgreementState, e: m.Event, p: ev.StepEntered) -> None:
    if p.change is not None:
        assert s.change is not None
        s.change.step_index = p.index
    else:
        s.step_index, s.stage = p.index, p.stage
    s.deadlines["step"] = datetime.fromisoformat(p.due_at)
    _counted(s, "step", s.deadlines["step"], e.at)
    for slot in s.gates:
        if slot.step == p.step:
            slot.status, slot.decided_by, slot.comment, slot.at = "pending", None, None, None
    step = active_procedure(s).step(p.index)
    if step.kind == "negotiation" and step.document is not None:
        # Re-entering a negotiation (changes requested) reopens acceptance of its document.
        latest = latest_draft(s, step.document)
        if latest is not None:
            latest.accepted_by = []


def _apply_step_completed(s: m.AgreementState, e: m.Event, p: ev.StepCompleted) -> None:
    s.deadlines.pop("step", None)


_DECIDED = {"approve": "approved", "request_changes": "changes_requested", "reject": "rejected"}


def _apply_gate_decided(s: m.AgreementState, e: m.Event, p: ev.GateDecided) -> None:
    for slot in s.gates:
        if slot.step == p.step and slot.org == p.org and slot.status == "pending":
            slot.status = _DECIDED[p.outcome]  # type: ignore[assignment]
            slot.decided_by, slot.comment, slot.at = e.actor.sub, p.comment, e.at


def _return(s: m.AgreementState, to_step: str | None) -> None:
    # Gates after the step returned to wait again; decisions are kept in the audit trail.
    procedure = active_procedure(s)
    start = next((i for i, st in enumerate(procedure.steps) if st.key == to_step), -1)
    later = {st.key for st in procedure.steps[start + 1 :]}
    for slot in s.gates:
        if slot.step in later and slot.status != "changes_requested":
            slot.status, slot.decided_by, slot.comment, slot.at = "waiting", None, None, None
    if to_step is None:
        s.stage, s.step_index, s.deadlines = "draft", None, {}


def _apply_returned_for_changes(s: m.AgreementState, e: m.Event, p: ev.ReturnedForChanges) -> None:
    _return(s, p.to_step)


def _apply_returned_to_draft(s: m.AgreementState, e: m.Event, p: ev.ReturnedToDraft) -> None:
    _return(s, None)


def _apply_draft_submitted(s: m.AgreementState, e: m.Event, p: ev.DraftSubmitted) -> None:
    s.drafts.append(
        m.Draft(
            version=p.version,
            scope=p.scope,
            kind=p.kind,
            document=p.document,
            note=p.note,
            submitted_by=e.actor.sub,
            org=p.org,
            at=e.at,
            accepted_by=[p.org],
            plan_hash=p.plan_hash,
        )
    )


def _apply_draft_accepted(s: m.AgreementState, e: m.Event, p: ev.DraftAccepted) -> None:
    draft = next(d for d in s.drafts if d.version == p.version)
    draft.accepted_by.append(p.org)


def _apply_signed(s: m.AgreementState, e: m.Event, p: ev.DocumentSigned) -> None:
    s.signatures.append(
        m.Signature(
            org=p.org,
            scope=p.scope,
            version=p.version,
            kind=p.kind,
            document=p.document,
            signed_by=p.signed_by,
            method=p.method,
            evidence=p.evidence,
            at=e.at,
            delegation=p.delegation.model_copy() if p.delegation else None,
        )
    )


def _start_implementation(s: m.AgreementState, e: m.Event, p: ev.ImplementationStarted | ev.AgreementImported) -> None:
    s.stage, s.step_index, s.deadlines = "implementation", None, {}
    s.effective_date, s.end_date = p.effective_date, p.end_date
    s.next_evaluation_on = p.next_evaluation_on
    s.timeline_from = e.at


def _apply_implementation(s: m.AgreementState, e: m.Event, p: ev.ImplementationStarted) -> None:
    _start_implementation(s, e, p)


def _apply_imported(s: m.AgreementState, e: m.Event, p: ev.AgreementImported) -> None:
    _start_implementation(s, e, p)
    s.imported = True
    s.drafts = [
        m.Draft(
            version=1,
            kind="pks",
            document=p.document,
            note=f"Impor {p.ref}",
            submitted_by=e.actor.sub,
            org=initiator(s).org,
            at=e.at,
            accepted_by=party_orgs(s),
        )
    ]
    signed_at = t.office_time(p.signed_on, zone(s))
    s.signatures = [
        m.Signature(
            org=party.org,
            version=1,
            kind="pks",
            document=p.document,
            signed_by=party.signatory,
            method=p.method,
            evidence=p.document if p.method == "wet_ink" else None,
            at=signed_at,
        )
        for party in s.parties
    ]


def _apply_termination_requested(s: m.AgreementState, e: m.Event, p: ev.TerminationRequested) -> None:
    s.termination = m.Termination(reason=p.reason, requested_by=e.actor.sub, at=e.at, org=p.org)
    s.gates = [g for g in s.gates if g.step != TERMINATION_STEP.key]
    for g in p.gates:
        s.gates.append(g.model_copy(update={"status": "pending"}))
    if p.due_at is not None:
        s.deadlines["step"] = datetime.fromisoformat(p.due_at)
        _counted(s, "step", s.deadlines["step"], e.at)


def _close(
    stage: m.Stage,
) -> Callable[
    [
        m.AgreementState,
        m.Event,
        ev.AgreementTerminated | ev.AgreementWithdrawn | ev.AgreementRejected | ev.AgreementExpired,
    ],
    None,
]:
    def apply(
        s: m.AgreementState,
        e: m.Event,
        p: ev.AgreementTerminated | ev.AgreementWithdrawn | ev.AgreementRejected | ev.AgreementExpired,
    ) -> None:
        s.stage, s.deadlines = stage, {}
        s.closed_reason = getattr(p, "reason", None) or getattr(p, "comment", None)
        s.termination, s.change = None, None
        # A closed agreement awaits no one: slots still pending are no longer open.
        for slot in s.gates:
            if slot.status == "pending":
                slot.status = "waiting"

    return apply


def _apply_termination_declined(s: m.AgreementState, e: m.Event, p: ev.TerminationDeclined) -> None:
    if s.termination is not None:  # the reason on record
        s.declined_terminations.append(s.termination.model_copy(update={"declined": p.comment}))
    s.termination = None
    s.deadlines.pop("step", None)
    for slot in s.gates:  # the other heads' decisions are no longer awaited
        if slot.step == TERMINATION_STEP.key and slot.status == "pending":
            slot.status = "waiting"
    if s.change is not None:  # a paused amendment or renewal resumes its step's clock
        step = current_step(s)
        assert step is not None
        s.deadlines["step"] = step_due(s, step, e.at)
        _counted(s, "step", s.deadlines["step"], e.at)


def _apply_change_opened(s: m.AgreementState, e: m.Event, p: ev.ChangeOpened) -> None:
    s.changes_opened = p.number
    s.change = m.ChangeProcess(
        kind=p.kind,
        number=p.number,
        procedure=p.procedure.model_copy(),
        summary=p.summary,
        changes=ev.dump_payload(p.changes),
        origin=p.origin,
        opened_at=e.at,
        recommendation=p.recommendation,
    )
    keys = {g.step for g in p.gates}
    s.gates = [g for g in s.gates if g.step not in keys] + [g.model_copy() for g in p.gates]


def _apply_change_completed(s: m.AgreementState, e: m.Event, p: ev.ChangeCompleted) -> None:
    changes = p.changes
    s.amendments.append(
        m.Amendment(
            number=p.number,
            kind=p.kind,
            summary=p.summary,
            changes=ev.dump_payload(changes),
            document=p.document,
            version=p.version,
            signed_at=e.at,
        )
    )
    if changes.end_date is not None:
        s.end_date = changes.end_date
        for evaluation in s.evaluations:  # a renewed term has no final evaluation yet
            if evaluation.concluded_at is None and evaluation.final:
                evaluation.final = False
                # It stands in for the periodic evaluation due the day it opened.
                opened = t.local_day(evaluation.opened_at, zone(s))
                while s.next_evaluation_on is not None and s.next_evaluation_on <= opened:
                    s.next_evaluation_on = t.add_months(s.next_evaluation_on, s.evaluation_interval_months)
    if changes.indicators is not None:
        s.indicators = [i.model_copy() for i in changes.indicators]
    if changes.evaluation_interval_months is not None:
        s.evaluation_interval_months = changes.evaluation_interval_months
    if changes.value is not None:
        s.value = changes.value
    if changes.objectives is not None:
        s.objectives = changes.objectives
    if changes.obligations is not None:  # an addendum's new obligations and plan (#13)
        s.obligations = merged_obligations(s, changes.obligations)
    if changes.activities is not None:
        s.activities = merged_activities(s, changes.activities)
    s.change = None
    s.deadlines.pop("step", None)


def _apply_change_edited(s: m.AgreementState, e: m.Event, p: ev.ChangeEdited) -> None:
    assert s.change is not None and s.change.number == p.number
    s.change.changes = {**s.change.changes, **ev.dump_payload(p.changes)}
    if p.summary is not None:
        s.change.summary = p.summary
    step = current_step(s)
    if step is not None and step.document is not None:  # new terms: the text is agreed anew
        latest = latest_draft(s, step.document)
        if latest is not None:
            latest.accepted_by = []


def _apply_recommendation_deferred(s: m.AgreementState, e: m.Event, p: ev.RecommendationDeferred) -> None:
    s.deferred_recommendations.append(f"evaluation:{p.evaluation} {p.recommendation} ({p.open_change} open)")


def _apply_dprd_set(s: m.AgreementState, e: m.Event, p: ev.DprdRequirementSet) -> None:
    party = next(x for x in s.parties if x.org == p.org)
    party.dprd, party.requires_dprd_approval = p.facts.model_copy(deep=True), p.required
    keys = {st.key for st in procedure_of(s).steps if st.gate == "dprd"}
    s.gates = [g for g in s.gates if not (g.step in keys and g.org == p.org)] + [g.model_copy() for g in p.gates]


def _apply_change_rejected(s: m.AgreementState, e: m.Event, p: ev.ChangeRejected | ev.ChangeWithdrawn) -> None:
    s.change = None
    s.deadlines.pop("step", None)
    for slot in s.gates:  # the other parties' slots at the refusing gate are no longer open
        if slot.status == "pending":
            slot.status = "waiting"


def _apply_evaluation_opened(s: m.AgreementState, e: m.Event, p: ev.EvaluationOpened) -> None:
    s.evaluations_opened = p.number
    if p.final:  # the final evaluation supersedes any earlier one left unconcluded
        for earlier in s.evaluations:
            if earlier.concluded_at is None:
                earlier.concluded_at, earlier.concluded_by = e.at, e.actor.sub
                earlier.summary = "Digantikan oleh evaluasi akhir (superseded by the final evaluation)."
    due = datetime.fromisoformat(p.due_at)
    s.evaluations.append(
        m.Evaluation(number=p.number, final=p.final, opened_at=e.at, opened_by=e.actor.sub, due_at=due)
    )
    if not p.final and p.next_evaluation_on:
        s.next_evaluation_on = p.next_evaluation_on
    s.deadlines["evaluation_report"] = due
    running = {f"evaluation:{x.number}" for x in open_evaluations(s)}
    s.due_counts = {key: count for key, count in s.due_counts.items() if key == "step" or key in running}
    _counted(s, f"evaluation:{p.number}", due, e.at)


def _apply_report(s: m.AgreementState, e: m.Event, p: ev.EvaluationReportSubmitted) -> None:
    evaluation = next(x for x in s.evaluations if x.number == p.evaluation)
    evaluation.reports.append(
        m.EvaluationReport(
            org=p.org,
            narrative=p.narrative,
            results=[r.model_copy() for r in p.results],
            submitted_by=e.actor.sub,
            at=e.at,
            late=p.late,
        )
    )


def _apply_concluded(s: m.AgreementState, e: m.Event, p: ev.EvaluationConcluded) -> None:
    evaluation = next(x for x in s.evaluations if x.number == p.evaluation)
    evaluation.score, evaluation.recommendation, evaluation.summary = p.score, p.recommendation, p.summary
    evaluation.concluded_at, evaluation.concluded_by = e.at, e.actor.sub
    evaluation.achievement = p.achievement.model_copy() if p.achievement else None
    s.deadlines.pop("evaluation_report", None)
    still_open = open_evaluations(s)
    if still_open:
        s.deadlines["evaluation_report"] = still_open[-1].due_at


def _apply_escalated(s: m.AgreementState, e: m.Event, p: ev.EvaluationEscalated) -> None:
    evaluation = next(x for x in s.evaluations if x.number == p.evaluation)
    evaluation.escalated = True
    evaluation.escalations += 1


def _apply_extended(s: m.AgreementState, e: m.Event, p: ev.DeadlineExtended) -> None:
    due = datetime.fromisoformat(p.due_at)
    _extend_count(s, p, due, e.at)
    if p.deadline == "evaluation_report":
        evaluation = next(x for x in s.evaluations if x.number == p.evaluation)
        evaluation.due_at = due
        evaluation.escalated = False  # the new due date has not lapsed: it escalates again
        evaluation.escalations = 0
        if evaluation is open_evaluations(s)[-1]:
            s.deadlines["evaluation_report"] = due
    else:
        s.deadlines["step"] = due
    # Reminders that would fall before now, on the new date, are moot: do not send them late.
    s.timeline_from = max(s.timeline_from, e.at) if s.timeline_from else e.at


def _counted(s: m.AgreementState, key: str, due: datetime, start: datetime) -> None:
    """Keep how the due date `key` was counted (from `start`), so new days off of a party
    can count it again (`deadline_recounted`). Calendar days are never recounted."""
    if s.calendar == t.OFFICE_DAYS:
        s.due_counts = {**s.due_counts, key: m.DueCount(due=due, start=start)}


def _count_key(deadline: str, evaluation: int | None) -> str:
    return "step" if deadline == "step" else f"evaluation:{evaluation}"


def _extend_count(s: m.AgreementState, p: ev.DeadlineExtended, due: datetime, at: datetime) -> None:
    """The extension joins the count of the date it extends: `extend_deadline` counted its
    days of service in the initiator's calendar from the old date or from `at`, whichever
    was later (`Calendar.extended`); those days are counted back from the new date."""
    key = _count_key(p.deadline, p.evaluation)
    count = s.due_counts.get(key)
    recorded = s.deadlines.get("step") if p.deadline == "step" else _evaluation_due(s, p.evaluation)
    if count is None or count.due != recorded:
        return
    calendar = initiator_calendar(s, at)
    start = t.local_day(max(count.due, at), calendar.zone)
    days = calendar.office_days_between(start, t.local_day(due, calendar.zone))
    extension = m.DueExtension(at=at, days=days)
    extended = count.model_copy(update={"due": due, "extensions": [*count.extensions, extension]})
    s.due_counts = {**s.due_counts, key: extended}


def _evaluation_due(s: m.AgreementState, number: int | None) -> datetime | None:
    return next((x.due_at for x in s.evaluations if x.number == number), None)


def _apply_recounted(s: m.AgreementState, e: m.Event, p: ev.DeadlineRecounted) -> None:
    due = datetime.fromisoformat(p.due_at)
    key = _count_key(p.deadline, p.evaluation)
    if p.deadline == "evaluation_report":
        evaluation = next(x for x in s.evaluations if x.number == p.evaluation)
        evaluation.due_at = due
        if evaluation is open_evaluations(s)[-1]:
            s.deadlines["evaluation_report"] = due
    else:
        s.deadlines["step"] = due
    count = s.due_counts[key]
    # A new national edition counted the whole date: later counts (a party's new days off)
    # count it with that edition too.
    edition = {"edition": p.edition} if p.edition is not None else {}
    s.due_counts = {**s.due_counts, key: count.model_copy(update={"due": due, **edition})}
    # As after an extension: reminders of the new date that would fall before now are moot.
    s.timeline_from = max(s.timeline_from, e.at) if s.timeline_from else e.at


def _noop(s: m.AgreementState, e: m.Event, p: object) -> None:
    """Events that change nothing but the notices sent (reminders) or only tell (skips)."""
    return


def _apply_comment(s: m.AgreementState, e: m.Event, p: ev.CommentAdded) -> None:
    s.comments.append(m.CommentEntry(by=e.actor.sub, org=p.org, text=p.text, at=e.at))


# ---------------------------------------------------------------- implementation (#13)


def _apply_plan_edited(s: m.AgreementState, e: m.Event, p: ev.PlanEdited) -> None:
    changes = p.changes
    if changes.goals is not None:
        s.goals = [g.model_copy() for g in changes.goals]
    if changes.obligations is not None:
        s.obligations = merged_obligations(s, changes.obligations)
    if changes.activities is not None:
        s.activities = merged_activities(s, changes.activities)
    step = current_step(s)
    if step is not None and step.kind == "negotiation" and step.document is not None:
        # The latest version bound the plan before this edit: it is agreed anew.
        latest = latest_draft(s, step.document)
        if latest is not None:
            latest.accepted_by = []


def _apply_progress(s: m.AgreementState, e: m.Event, p: ev.ProgressReported) -> None:
    activity = next(a for a in s.activities if a.id == p.activity)
    activity.progress.append(
        m.ProgressReport(
            org=p.org,
            percent=p.percent,
            milestone=p.milestone,
            note=p.note,
            evidence=list(p.evidence),
            reported_by=e.actor.sub,
            at=e.at,
        )
    )
    activity.progress = bounds.kept_progress(activity.progress)


def _apply_measured(s: m.AgreementState, e: m.Event, p: ev.IndicatorMeasured) -> None:
    s.measurements.append(
        m.Measurement(
            indicator=p.indicator,
            value=p.value,
            measured_on=p.measured_on,
            source=p.source,
            note=p.note,
            org=p.org,
            recorded_by=e.actor.sub,
            at=e.at,
        )
    )
    s.measurements = bounds.kept_measurements(s)


def _apply_obligation_settled(s: m.AgreementState, e: m.Event, p: ev.ObligationSettled) -> None:
    obligation = next(o for o in s.obligations if o.id == p.obligation)
    obligation.status = "fulfilled" if p.outcome == "fulfilled" else "missed"
    obligation.note, obligation.evidence = p.note, list(p.evidence)
    obligation.settled_by, obligation.settled_at = e.actor.sub, e.at
    if p.settled_on is not None:  # imported: settled on paper, on that day
        obligation.settled_at = t.office_time(p.settled_on, zone(s))


def _revision(s: m.AgreementState, number: int) -> m.PlanRevision:
    return next(r for r in s.plan_revisions if r.number == number)


def _apply_revision_proposed(s: m.AgreementState, e: m.Event, p: ev.PlanRevisionProposed) -> None:
    s.plan_revisions.append(
        m.PlanRevision(
            number=p.number,
            summary=p.summary,
            activities=[a.model_copy() for a in p.activities],
            org=p.org,
            proposed_by=e.actor.sub,
            at=e.at,
            accepted_by=[p.org],  # proposing is the proposing party's acceptance
        )
    )
    s.plan_revisions = bounds.kept_revisions(s.plan_revisions)


def _apply_revision_accepted(s: m.AgreementState, e: m.Event, p: ev.PlanRevisionAccepted) -> None:
    _revision(s, p.number).accepted_by.append(p.org)


def _apply_revision_adopted(s: m.AgreementState, e: m.Event, p: ev.PlanRevisionAdopted) -> None:
    revision = _revision(s, p.number)
    revision.status, revision.closed_at = "adopted", e.at
    s.activities = merged_activities(s, revision.activities)


def _apply_revision_withdrawn(s: m.AgreementState, e: m.Event, p: ev.PlanRevisionWithdrawn) -> None:
    revision = _revision(s, p.number)
    revision.status, revision.closed_at, revision.reason = "withdrawn", e.at, p.reason


def _apply_meeting_scheduled(s: m.AgreementState, e: m.Event, p: ev.MeetingScheduled) -> None:
    s.meetings.append(
        m.Meeting(
            number=p.number,
            title=p.title,
            at=datetime.fromisoformat(p.at),
            place=p.place,
            participants=list(p.participants),
            agenda=list(p.agenda),
            scheduled_by=e.actor.sub,
            org=p.org,
        )
    )
    s.meetings = bounds.kept_meetings(s)


def _apply_minutes(s: m.AgreementState, e: m.Event, p: ev.MinutesRecorded) -> None:
    meeting = next(x for x in s.meetings if x.number == p.meeting)
    meeting.minutes, meeting.minutes_by, meeting.minutes_at = p.document, e.actor.sub, e.at
    s.action_items = bounds.kept_action_items(s.action_items + [item.model_copy() for item in p.action_items])


def _apply_item_completed(s: m.AgreementState, e: m.Event, p: ev.ActionItemCompleted) -> None:
    item = next(x for x in s.action_items if x.id == p.item)
    item.done_at, item.done_by, item.note, item.evidence = e.at, e.actor.sub, p.note, list(p.evidence)


_APPLY_IMPLEMENTATION: dict[str, Callable[[m.AgreementState, m.Event, Any], None]] = {
    "plan_edited": _apply_plan_edited,
    "progress_reported": _apply_progress,
    "indicator_measured": _apply_measured,
    "obligation_settled": _apply_obligation_settled,
    "plan_revision_proposed": _apply_revision_proposed,
    "plan_revision_accepted": _apply_revision_accepted,
    "plan_revision_adopted": _apply_revision_adopted,
    "plan_revision_withdrawn": _apply_revision_withdrawn,
    "meeting_scheduled": _apply_meeting_scheduled,
    "minutes_recorded": _apply_minutes,
    "action_item_completed": _apply_item_completed,
    "implementation_reminder": _noop,
    "implementation_escalated": _noop,
}
# ---- publishing on the public portal (#12)


def _apply_published(s: m.AgreementState, e: m.Event, p: ev.AgreementPublished) -> None:
    publication = m.Publication(org=p.org, documents=list(p.documents), by=e.actor.sub, at=e.at)
    earlier = next((i for i, x in enumerate(s.publications) if x.org == p.org), None)
    if earlier is None:
        s.publications.append(publication)
    else:
        s.publications[earlier] = publication


def _apply_unpublished(s: m.AgreementState, e: m.Event, p: ev.AgreementUnpublished) -> None:
    s.publications = [x for x in s.publications if x.org != p.org]


# ---- end of publishing


def _apply_party_settings(s: m.AgreementState, e: m.Event, p: ev.PartySettingsChanged) -> None:
    party = next(x for x in s.parties if x.org == p.org)
    party.days_off, party.time_zone = list(p.days_off), p.time_zone
    if p.as_of is not None:
        s.party_settings_as_of[p.org] = p.as_of


# Every event type but `agreement_created` (which `evolve` handles: there is no state yet).
# Each applier receives the payload of its own type's model (`events.EVENT_PAYLOADS`).
_APPLY: dict[str, Callable[[m.AgreementState, m.Event, Any], None]] = {
    "proposal_edited": _apply_edited,
    "agreement_submitted": _apply_submitted,
    "step_entered": _apply_step_entered,
    "step_skipped": _noop,
    "step_completed": _apply_step_completed,
    "gate_decided": _apply_gate_decided,
    "returned_for_changes": _apply_returned_for_changes,
    "returned_to_draft": _apply_returned_to_draft,
    "draft_submitted": _apply_draft_submitted,
    "draft_accepted": _apply_draft_accepted,
    "document_signed": _apply_signed,
    "implementation_started": _apply_implementation,
    "agreement_imported": _apply_imported,
    "comment_added": _apply_comment,
    "termination_requested": _apply_termination_requested,
    "termination_declined": _apply_termination_declined,
    "agreement_terminated": _close("terminated"),
    "agreement_withdrawn": _close("withdrawn"),
    "agreement_rejected": _close("rejected"),
    "agreement_expired": _close("expired"),
    "change_opened": _apply_change_opened,
    "change_completed": _apply_change_completed,
    "change_rejected": _apply_change_rejected,
    "evaluation_opened": _apply_evaluation_opened,
    "evaluation_report_submitted": _apply_report,
    "evaluation_concluded": _apply_concluded,
    "evaluation_reminder": _noop,
    "evaluation_escalated": _apply_escalated,
    "deadline_reminder": _noop,
    "deadline_escalated": _noop,
    "deadline_extended": _apply_extended,
    "expiry_reminder": _noop,
    "notice_due": _noop,
    "change_edited": _apply_change_edited,
    "change_withdrawn": _apply_change_rejected,
    "change_open_at_end_date": _noop,
    "recommendation_deferred": _apply_recommendation_deferred,
    "dprd_requirement_set": _apply_dprd_set,
    **_APPLY_IMPLEMENTATION,
    # publishing (#12)
    "agreement_published": _apply_published,
    "agreement_unpublished": _apply_unpublished,
    "party_settings_changed": _apply_party_settings,
    "deadline_recounted": _apply_recounted,
}
# The fields of the state (lists, dicts, nested models) each applier changes in place:
# appends to, pops from, or sets an attribute of an item of. `evolve` copies only these and
# shares the rest; replacing a field whole (`s.stage = …`, `s.gates = [...]`) needs no
# entry. An applier that starts changing another field in place must list it here
# (tests/decider/test_evolve.py shows no event changes the state it was applied to).
_CHANGES_IN_PLACE: dict[str, tuple[str, ...]] = {
    "proposal_edited": (),
    "agreement_submitted": (),
    "step_entered": ("change", "deadlines", "gates", "drafts"),
    "step_skipped": (),
    "step_completed": ("deadlines",),
    "gate_decided": ("gates",),
    "returned_for_changes": ("gates",),
    "returned_to_draft": ("gates",),
    "draft_submitted": ("drafts",),
    "draft_accepted": ("drafts",),
    "document_signed": ("signatures",),
    "implementation_started": (),
    "agreement_imported": (),
    "comment_added": ("comments",),
    "termination_requested": ("deadlines",),
    "termination_declined": ("declined_terminations", "deadlines", "gates"),
    "agreement_terminated": ("gates",),
    "agreement_withdrawn": ("gates",),
    "agreement_rejected": ("gates",),
    "agreement_expired": ("gates",),
    "change_opened": (),
    "change_completed": ("amendments", "evaluations", "deadlines"),
    "change_rejected": ("deadlines", "gates"),
    "evaluation_opened": ("evaluations", "deadlines"),
    "evaluation_report_submitted": ("evaluations",),
    "evaluation_concluded": ("evaluations", "deadlines"),
    "evaluation_reminder": (),
    "evaluation_escalated": ("evaluations",),
    "deadline_reminder": (),
    "deadline_escalated": (),
    "deadline_extended": ("evaluations", "deadlines"),
    "expiry_reminder": (),
    "notice_due": (),
    "change_edited": ("change", "drafts"),
    "change_withdrawn": ("deadlines", "gates"),
    "change_open_at_end_date": (),
    "recommendation_deferred": ("deferred_recommendations",),
    "dprd_requirement_set": ("parties",),
    # implementation (#13)
    "plan_edited": ("drafts",),  # goals, obligations and activities are replaced whole
    "progress_reported": ("activities",),
    "indicator_measured": ("measurements",),
    "obligation_settled": ("obligations",),
    "plan_revision_proposed": ("plan_revisions",),
    "plan_revision_accepted": ("plan_revisions",),
    "plan_revision_adopted": ("plan_revisions",),
    "plan_revision_withdrawn": ("plan_revisions",),
    "meeting_scheduled": ("meetings",),
    "minutes_recorded": ("meetings", "action_items"),
    "action_item_completed": ("action_items",),
    "implementation_reminder": (),
    "implementation_escalated": (),
    # publishing (#12)
    "agreement_published": ("publications",),
    "agreement_unpublished": (),
    "party_settings_changed": ("parties", "party_settings_as_of"),
    "deadline_recounted": ("evaluations", "deadlines"),
}
assert set(_CHANGES_IN_PLACE) <= set(_APPLY), "in-place changes are declared for known event types"
APPLIED_EVENT_TYPES: frozenset[str] = frozenset(_APPLY) | {"agreement_created"}
# Events that change nothing but the notices sent: after one, time brings what it brought
# before but for that notice (`schedule.tick` need not work out what is due again).
NOTICE_ONLY_EVENT_TYPES: frozenset[str] = frozenset(t for t, apply in _APPLY.items() if apply is _noop)
assert set(ev.EVENT_PAYLOADS) == APPLIED_EVENT_TYPES, "every event type has an applier and a payload model"
