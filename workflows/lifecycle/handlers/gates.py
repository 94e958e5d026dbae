"""Handlers of gate decisions: approving, requesting changes, rejecting — for the
agreement's own procedure, an amendment or renewal, or a pending termination — and
proposing a termination, which opens the head's gate."""

from __future__ import annotations

from workflows import messages as m
from workflows.lifecycle import events as ev
from workflows.lifecycle.access import check_permission
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition, NotAllowed
from workflows.lifecycle.reading import (
    active_index,
    active_procedure,
    current_step,
    gate_slots_for,
    open_slots,
    step_due,
)
from workflows.procedures import TERMINATION_BY_EACH_HEAD


def _slot_for(e: Emitter, cmd: m.Decide) -> m.GateSlot:
    """The open slot the caller decides. Whether such a decision is awaited at all comes
    before who is asking: a caller learns the gate is not open (409) before being told
    they do not hold it (403)."""
    gate = cmd.gate
    slots = [s for s in open_slots(e.state) if s.gate == gate]
    step = current_step(e.state)
    decided = [
        s
        for s in e.state.gates
        if step is not None
        and s.step == step.key
        and s.gate == gate
        and s.status in ("approved", "changes_requested", "rejected")
    ]
    if any(s.org is None or s.org == e.actor.org for s in decided) and not any(
        s.org is None or s.org == e.actor.org for s in slots
    ):
        # The loser of a race on this decision: told it was taken (409), never 403.
        raise InvalidTransition(
            f"The '{gate}' decision{'' if decided[0].org is None else ' for ' + e.actor.org} is already decided.",
            stage=e.state.stage,
        )
    if not slots:
        waiting = sorted({s.gate for s in open_slots(e.state)})
        raise InvalidTransition(f"No '{gate}' decision is awaited now.", stage=e.state.stage, awaited_gates=waiting)
    check_permission(e.state, e.actor, cmd)  # GATE_APPROVER
    for slot in slots:
        if slot.org is None or slot.org == e.actor.org:
            return slot
    raise NotAllowed(
        f"The '{gate}' gate awaits the decision of {', '.join(s.org or '' for s in slots)}, not {e.actor.org}."
    )


def decide_gate(e: Emitter, cmd: m.Decide) -> None:
    slot = _slot_for(e, cmd)
    if cmd.outcome != "approve" and not cmd.comment:
        raise InvalidProposal("Requesting changes or rejecting needs a comment saying why.")
    e.emit(ev.GateDecided(step=slot.step, gate=slot.gate, org=slot.org, outcome=cmd.outcome, comment=cmd.comment))
    if e.state.termination is not None:
        # Every government party's head decides; one refusal declines it, with its reason.
        if cmd.outcome != "approve":
            e.emit(ev.TerminationDeclined(comment=cmd.comment))
        elif not open_slots(e.state):
            e.emit(ev.AgreementTerminated(reason=e.state.termination.reason))
        return
    if cmd.outcome == "reject":
        if e.state.change is not None:  # a refused amendment or renewal; the agreement stays
            e.emit(ev.ChangeRejected(kind=e.state.change.kind, number=e.state.change.number, comment=cmd.comment))
        else:
            e.emit(ev.AgreementRejected(step=slot.step, gate=slot.gate, org=slot.org, comment=cmd.comment))
    elif cmd.outcome == "request_changes":
        _return_for_changes(e, slot)
    elif not open_slots(e.state):
        e.complete_step_and_enter_next(slot.step)


def _return_for_changes(e: Emitter, slot: m.GateSlot) -> None:
    """Back to the last negotiation before this gate, or to draft if there is none."""
    procedure, index = active_procedure(e.state), active_index(e.state)
    assert index is not None
    back = next((i for i in range(index - 1, -1, -1) if procedure.step(i).kind == "negotiation"), None)
    if back is None:
        e.emit(ev.ReturnedToDraft(step=slot.step))
        return
    document = procedure.step(back).document
    e.emit(ev.ReturnedForChanges(step=slot.step, to_step=procedure.step(back).key, document=document))  # type: ignore[arg-type]
    e.enter_from(back)


def terminate(e: Emitter, cmd: m.Terminate) -> None:
    request_termination(e, cmd.reason, origin=None, org=e.actor.org or None)


def request_termination(e: Emitter, reason: str, origin: str | None, org: str | None = None) -> None:
    """Open the termination gate: each government party's head decides. Any government
    party may ask (`org`); an evaluation recommending to stop opens it too, with that
    evaluation as `origin`."""
    slots = gate_slots_for(e.state, TERMINATION_BY_EACH_HEAD)
    data: dict[str, object] = dict(
        reason=reason,
        origin=origin,
        due_at=step_due(e.state, TERMINATION_BY_EACH_HEAD, e.now, slots).isoformat(),
        gates=[s.model_dump(mode="json") for s in slots],
    )
    if org is not None:
        data["org"] = org
    e.emit(ev.TerminationRequested.model_validate(data))
