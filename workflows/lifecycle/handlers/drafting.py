"""Handlers of the proposal in draft (edit, submit, withdraw) and of comments, which every
open phase accepts. Who may send them is declared in `workflows.lifecycle.access`."""

from __future__ import annotations

from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle.create import check_proposal, check_term
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition
from workflows.lifecycle.handlers.action_plan import check_plan_after
from workflows.lifecycle.reading import gate_slots_for, initiator, procedure_of


def edit(e: Emitter, cmd: m.Edit) -> None:
    changes = cmd.changes()
    if not changes:
        raise InvalidProposal("An edit changes at least one field.")
    if cmd.parties is not None:
        check_proposal(e.state.kind, cmd.parties)
        if next(p for p in cmd.parties if p.role == "initiator").org != initiator(e.state).org:
            raise InvalidProposal("The initiating organisation of an agreement cannot change.")
    check_term(cmd.start_date or e.state.start_date, cmd.duration_months or e.state.duration_months)
    check_plan_after(e.state, changes)  # new parties, indicators or term may leave the plan invalid (#13)
    e.emit(ev.ProposalEdited(changes=ev.ProposalChanges.model_validate(changes)))


def submit(e: Emitter, cmd: m.Submit) -> None:
    """Submit the proposal: every gate slot of its procedure is known now, and the first
    step opens."""
    procedure = procedure_of(e.state)
    slots = [slot for step in procedure.steps if step.kind == "gate" for slot in gate_slots_for(e.state, step)]
    e.emit(ev.AgreementSubmitted.model_validate({"gates": [s.model_dump(mode="json") for s in slots]}))
    e.enter_from(0)


def withdraw(e: Emitter, cmd: m.Withdraw) -> None:
    e.emit(ev.AgreementWithdrawn(reason=cmd.reason))


def comment(e: Emitter, cmd: m.Comment) -> None:
    e.emit(ev.CommentAdded(text=cmd.text, org=e.actor.org))


def set_dprd_requirement(e: Emitter, cmd: m.SetDprdRequirement) -> None:
    """A government party's own staff state whether the cooperation burdens the public and
    whether it is budgeted in its APBD; DPRD approval is required when it burdens the public
    or is not budgeted. In draft, or before the agreement's DPRD gate has opened."""
    org = e.actor.org
    facts = m.DprdFacts(burdens_public=cmd.burdens_public, budgeted_in_apbd=cmd.budgeted_in_apbd, request=cmd.request)
    procedure = procedure_of(e.state)
    dprd_steps = [i for i, step in enumerate(procedure.steps) if step.gate == "dprd"]
    index = e.state.step_index
    if e.state.stage != "draft" and (index is None or any(i <= index for i in dprd_steps)):
        raise InvalidTransition(
            "The DPRD gate has already opened: its requirement is set before it.", stage=e.state.stage
        )
    if facts.required and facts.request is None:
        raise InvalidProposal(
            "A DPRD approval needs the request's content on record (aims, object, rights "
            "and duties, APBD contribution, benefits, duration, burden).",
            field="request",
        )
    slots = (
        []
        if e.state.stage == "draft"
        else [m.GateSlot(step=procedure.step(i).key, gate="dprd", org=org) for i in dprd_steps if facts.required]
    )
    e.emit(
        ev.DprdRequirementSet.model_validate(
            dict(
                org=org,
                facts=facts.model_dump(mode="json"),
                required=facts.required,
                gates=[s.model_dump(mode="json") for s in slots],
            )
        )
    )
