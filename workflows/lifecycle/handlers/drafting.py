"""Handlers of the proposal in draft (edit, submit, withdraw) and of comments, which every
open phase accepts. Who may send them is declared in `workflows.lifecycle.access`."""

from __future__ import annotations

from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle.create import check_proposal
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal
from workflows.lifecycle.reading import gate_slots_for, initiator, procedure_of


def edit(e: Emitter, cmd: m.Edit) -> None:
    changes = cmd.changes()
    if not changes:
        raise InvalidProposal("An edit changes at least one field.")
    if cmd.parties is not None:
        check_proposal(e.state.kind, cmd.parties)
        if next(p for p in cmd.parties if p.role == "initiator").org != initiator(e.state).org:
            raise InvalidProposal("The initiating organisation of an agreement cannot change.")
    e.emit(ev.ProposalEdited(changes=ev.ProposalChanges.model_validate(changes)))


def submit(e: Emitter, cmd: m.Submit) -> None:
    """Submit the proposal: every gate slot of its procedure is known now, and the first
    step opens."""
    procedure = procedure_of(e.state)
    slots = [slot for step in procedure.steps if step.kind == "gate"
             for slot in gate_slots_for(e.state, step)]
    e.emit(ev.AgreementSubmitted.model_validate({"gates": [s.model_dump(mode="json") for s in slots]}))
    e.enter_from(0)


def withdraw(e: Emitter, cmd: m.Withdraw) -> None:
    e.emit(ev.AgreementWithdrawn(reason=cmd.reason))


def comment(e: Emitter, cmd: m.Comment) -> None:
    e.emit(ev.CommentAdded(text=cmd.text, org=e.actor.org))
