"""Handlers of gate decisions: approving, requesting changes, rejecting — for the
agreement's own procedure, an amendment or renewal, or a pending termination — and
proposing a termination, which opens the head's gate."""

from __future__ import annotations

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle import events as ev
from workflows.lifecycle.access import check_permission
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import InvalidProposal, InvalidTransition, NotAllowed
from workflows.lifecycle.reading import active_index, active_procedure, gate_slots_for, open_slots, zone
from workflows.procedures import TERMINATION_STEP


def _slot_for(e: Emitter, cmd: m.Decide) -> m.GateSlot:
    """The open slot the caller decides. Whether such a decision is awaited at all comes
    before who is asking: a caller learns the gate is not open (409) before being told
    they do not hold it (403)."""
    gate = cmd.gate
    slots = [s for s in open_slots(e.state) if s.gate == gate]
    if not slots:
        waiting = sorted({s.gate for s in open_slots(e.state)})
        raise InvalidTransition(f"No '{gate}' decision is awaited now.", stage=e.state.stage,
                                awaited_gates=waiting)
    check_permission(e.state, e.actor, cmd)  # GATE_APPROVER
    for slot in slots:
        if slot.org is None or slot.org == e.actor.org:
            return slot
    raise NotAllowed(f"The '{gate}' gate awaits the decision of "
                     f"{', '.join(s.org or '' for s in slots)}, not {e.actor.org}.")


def decide_gate(e: Emitter, cmd: m.Decide) -> None:
    slot = _slot_for(e, cmd)
    if cmd.outcome != "approve" and not cmd.comment:
        raise InvalidProposal("Requesting changes or rejecting needs a comment saying why.")
    e.emit(ev.GateDecided(step=slot.step, gate=slot.gate, org=slot.org, outcome=cmd.outcome, comment=cmd.comment))
    if e.state.termination is not None:
        if cmd.outcome == "approve":
            e.emit(ev.AgreementTerminated(reason=e.state.termination.reason))
        else:
            e.emit(ev.TerminationDeclined(comment=cmd.comment))
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
    e.emit(ev.ReturnedForChanges(step=slot.step, to_step=procedure.step(back).key,
                                 document=procedure.step(back).document))  # type: ignore[arg-type]
    e.enter_from(back)


def terminate(e: Emitter, cmd: m.Terminate) -> None:
    request_termination(e, cmd.reason, origin=None)


def request_termination(e: Emitter, reason: str, origin: str | None) -> None:
    """Open the termination gate (the head decides); an evaluation recommending to stop
    opens it too, with that evaluation as `origin`."""
    e.emit(ev.TerminationRequested.model_validate(dict(
        reason=reason, origin=origin,
        due_at=t.due_after(e.now, t.STEP_DEADLINE_DAYS["gate"], zone(e.state)).isoformat(),
        gates=[s.model_dump(mode="json") for s in gate_slots_for(e.state, TERMINATION_STEP)])))
