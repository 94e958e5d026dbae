"""Handlers of the action plan: editing it while it is negotiated, and during
implementation — progress on activities, indicator measurements, obligations fulfilled or
missed, and revisions of the plan that every party accepts. The rules are in
docs/implementation.md; what makes a plan valid is `workflows.lifecycle.plan`."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle import plan as p
from workflows.lifecycle.access import acting_party, is_initiator_staff
from workflows.lifecycle.bounds import next_number
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition, NotAllowed
from workflows.lifecycle.reading import local_today, party_orgs


def check_plan_after(state: m.AgreementState, changes: dict[str, Any]) -> m.AgreementState:
    """The plan's rules on the state as `changes` (JSON form of proposal fields) would
    leave it: an edit of the parties, indicators or term may invalidate the plan too.
    Returns that state, validated once (`edit_plan` hashes its plan)."""
    if _unchanged(state, changes):
        # Every GET asks this of `allowed_actions`' `edit` and `edit_plan`, which resend
        # what is there: the whole state dumped and validated again was most of its cost (#11).
        after = state
    else:
        after = m.AgreementState.model_validate({**state.model_dump(mode="json"), **changes})
    p.check_plan(after)
    return after


def _unchanged(state: m.AgreementState, changes: dict[str, Any]) -> bool:
    """Whether each changed field, validated as the state declares it, is what the state
    holds already — then validating the state with `changes` gives the state itself."""
    try:
        return all(
            name in m.AgreementState.model_fields and _field_type(name).validate_python(value) == getattr(state, name)
            for name, value in changes.items()
        )
    except ValidationError:  # not even the field's type: the state's validation says why
        return False


@cache
def _field_type(name: str) -> TypeAdapter[Any]:
    declared = m.AgreementState.model_fields[name].annotation
    assert declared is not None  # every field of the state is annotated
    return TypeAdapter(declared)


def edit_plan(e: Emitter, cmd: m.EditPlan) -> None:
    changes = cmd.changes()
    if not changes:
        raise InvalidProposal("An edit of the plan changes goals, obligations or activities.")
    # The state after the edit, dumped and validated once: `allowed_actions` asks this of
    # every GET of an agreement whose plan may be edited (#11).
    after = check_plan_after(e.state, changes)
    e.emit(ev.PlanEdited(changes=ev.PlanChanges.model_validate(changes), plan_hash=p.state_plan_hash(after)))


def _activity(state: m.AgreementState, ref: str) -> m.ActivityRecord:
    activity = next((a for a in state.activities if a.id == ref), None)
    if activity is None:
        raise InvalidProposal(
            f"The action plan has no activity {ref}.", field="activity", activities=[a.id for a in state.activities]
        )
    return activity


def _owner_only(party: m.Party, owner: str, what: str) -> None:
    if party.org != owner:
        raise NotAllowed(f"Only staff or partners of {owner}, the owner of {what}, do this.", owner=owner)


def report_progress(e: Emitter, cmd: m.ReportProgress) -> None:
    """The owner party reports a percentage, a milestone reached, or both; a lower
    percentage than the last one is a correction and says why (`note`)."""
    party = acting_party(e.state, e.actor)
    activity = _activity(e.state, cmd.activity)
    _owner_only(party, activity.party, f"activity {activity.id}")
    if cmd.percent is None and cmd.milestone is None:
        raise InvalidProposal("Progress is a percentage, a milestone reached, or both.", field="percent")
    if cmd.milestone is not None and cmd.milestone not in activity.milestones:
        raise InvalidProposal(
            f"Activity {activity.id} has no milestone '{cmd.milestone}'.",
            field="milestone",
            milestones=activity.milestones,
        )
    if cmd.percent is not None and cmd.percent < activity.percent and not cmd.note:
        raise InvalidProposal(
            f"Activity {activity.id} was reported {activity.percent}% done: a lower figure is a correction "
            "and says why (note).",
            field="note",
        )
    e.emit(
        ev.ProgressReported(
            activity=activity.id,
            org=party.org,
            percent=cmd.percent,
            milestone=cmd.milestone,
            note=cmd.note,
            evidence=list(cmd.evidence),
        )
    )


def record_measurement(e: Emitter, cmd: m.RecordMeasurement) -> None:
    party = acting_party(e.state, e.actor)
    known = [i.name for i in e.state.indicators]
    if cmd.indicator not in known:
        raise InvalidProposal(
            f"The agreement has no indicator '{cmd.indicator}'.", field="indicator", indicators=sorted(known)
        )
    if cmd.measured_on > local_today(e.state, e.now):
        raise InvalidProposal("A measurement is of a day that has come.", field="measured_on")
    e.emit(
        ev.IndicatorMeasured(
            indicator=cmd.indicator,
            value=cmd.value,
            measured_on=cmd.measured_on,
            source=cmd.source,
            note=cmd.note,
            org=party.org,
        )
    )


def settle_obligation(e: Emitter, cmd: m.SettleObligation) -> None:
    """The owner party records its obligation fulfilled (with evidence) or missed (saying
    why); the coordinators — the initiator's staff — may also record one missed."""
    party = acting_party(e.state, e.actor)
    obligation = next((o for o in e.state.obligations if o.id == cmd.obligation), None)
    if obligation is None:
        raise InvalidProposal(f"There is no obligation {cmd.obligation}.", field="obligation")
    coordinating = cmd.outcome == "missed" and is_initiator_staff(e.state, e.actor)
    if not coordinating:
        _owner_only(party, obligation.party, f"obligation {obligation.id}")
    if obligation.status != "open":
        raise InvalidTransition(f"Obligation {obligation.id} is already {obligation.status}.", status=obligation.status)
    if cmd.outcome == "fulfilled" and not cmd.evidence:
        raise InvalidProposal("A fulfilled obligation shows its evidence (uploaded documents).", field="evidence")
    if cmd.outcome == "missed" and not cmd.note:
        raise InvalidProposal("A missed obligation says why (note).", field="note")
    e.emit(
        ev.ObligationSettled(
            obligation=obligation.id, outcome=cmd.outcome, note=cmd.note, evidence=list(cmd.evidence), org=party.org
        )
    )


def _check_revision(state: m.AgreementState, activities: list[m.Activity], *, field: str) -> None:
    """The activity rules and what a revision may change, against the plan in force now."""
    term = p.term_of(state)
    p.check_activities(activities, party_orgs(state), [i.name for i in state.indicators], term, field=field)
    reasons = p.addendum_reasons(state, activities)
    if reasons:
        raise InvalidProposal(
            "This change of the plan needs an addendum (propose_amendment with the new activities): "
            + "; ".join(reasons)
            + ".",
            field=field,
            needs_addendum=reasons,
        )


def _open_revision(state: m.AgreementState) -> m.PlanRevision | None:
    return next((r for r in state.plan_revisions if r.status == "open"), None)


def propose_plan_revision(e: Emitter, cmd: m.ProposePlanRevision) -> None:
    party = acting_party(e.state, e.actor)
    running = _open_revision(e.state)
    if running is not None:
        raise InvalidTransition(f"Revision {running.number} of the plan is still open.", revision=running.number)
    _check_revision(e.state, cmd.activities, field="activities")
    e.emit(
        ev.PlanRevisionProposed(
            number=next_number(e.state.plan_revisions), summary=cmd.summary, activities=cmd.activities, org=party.org
        )
    )


def _revision(e: Emitter, number: int) -> m.PlanRevision:
    running = _open_revision(e.state)
    if running is None or running.number != number:
        raise InvalidTransition(
            f"Revision {number} of the plan is not open" + (f"; revision {running.number} is." if running else "."),
            open_revision=running.number if running else None,
        )
    return running


def accept_plan_revision(e: Emitter, cmd: m.AcceptPlanRevision) -> None:
    party = acting_party(e.state, e.actor)
    revision = _revision(e, cmd.revision)
    if party.org in revision.accepted_by:
        raise InvalidTransition(f"{party.org} has already accepted revision {revision.number}.")
    # The plan may have moved since the revision was proposed (progress reported on an
    # activity it drops, an addendum signed): adopting it then would silently drop that
    # progress or undo the addendum. It is checked again against the plan in force; the
    # proposer withdraws it and proposes anew.
    _check_revision(e.state, revision.activities, field="revision")
    e.emit(ev.PlanRevisionAccepted(number=revision.number, org=party.org))
    accepted = next(r for r in e.state.plan_revisions if r.number == revision.number)
    if set(party_orgs(e.state)) <= set(accepted.accepted_by):
        e.emit(
            ev.PlanRevisionAdopted(
                number=revision.number, plan_hash=p.plan_hash(e.state.goals, e.state.obligations, revision.activities)
            )
        )


def withdraw_plan_revision(e: Emitter, cmd: m.WithdrawPlanRevision) -> None:
    """The proposing party withdraws its revision, or another party declines it."""
    party = acting_party(e.state, e.actor)
    revision = _revision(e, cmd.revision)
    e.emit(ev.PlanRevisionWithdrawn(number=revision.number, org=party.org, reason=cmd.reason))
