"""The decider: every rule of an agreement's lifecycle, pure.

    create(proposal, actor, now, agreement_id) -> [Event]
    decide(state, command, actor, now)         -> [Event]   (raises DomainError)
    evolve(state, event)                       -> state
    allowed_actions(state, actor, now)         -> [command type]
    snapshot(state, actor, now)                -> Snapshot
    can_see(state, actor)                      -> bool

No I/O, no clock, no randomness: time and actor are arguments, event ids derive from the
agreement id and sequence number. `TRANSITIONS` says which commands each phase accepts;
`_HANDLERS` say who may send them and what follows.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, Callable

from workflows import messages as m
from workflows.procedures import TERMINATION_STEP, Procedure, Step, current_procedure, get_procedure

# Default service levels per step kind (days); reminders and escalation hang off these.
STEP_DEADLINE_DAYS = {"negotiation": 90, "gate": 14, "signing": 30}
EVENT_NAMESPACE = uuid.UUID("7d1c1f4e-4a51-4c1e-9a55-5d2f0a3b6c10")


class DomainError(Exception):
    """A command the lifecycle refuses. `status` follows the API's contract."""

    status = 409
    code = "invalid_transition"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidTransition(DomainError):
    status, code = 409, "invalid_transition"


class NotAllowed(DomainError):
    status, code = 403, "forbidden"


class StaleVersion(DomainError):
    status, code = 412, "stale_version"


class InvalidProposal(DomainError):
    status, code = 422, "invalid_proposal"


# Which commands each phase accepts. A phase is the stage, except that a gate step and a
# pending termination are phases of their own.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"edit", "submit", "withdraw", "comment"}),
    "gate": frozenset({"decide", "withdraw", "comment"}),
    "negotiation": frozenset({"submit_draft", "accept_draft", "withdraw", "comment"}),
    "signing": frozenset({"sign", "withdraw", "comment"}),
    "implementation": frozenset({"terminate", "comment"}),
    "termination": frozenset({"decide", "comment"}),
    "closed": frozenset(),
}


# ---------------------------------------------------------------- reading the state


def procedure_of(state: m.AgreementState) -> Procedure:
    return get_procedure(state.procedure.key, state.procedure.version)


def current_step(state: m.AgreementState) -> Step | None:
    if state.termination is not None:
        return TERMINATION_STEP
    if state.step_index is None:
        return None
    return procedure_of(state).step(state.step_index)


def phase(state: m.AgreementState) -> str:
    if state.stage in m.TERMINAL_STAGES:
        return "closed"
    if state.termination is not None:
        return "termination"
    if state.stage in ("draft", "implementation"):
        return state.stage
    step = current_step(state)
    assert step is not None
    return step.kind


def stage_for(step: Step) -> str:
    if step.kind == "gate":
        return "review" if step.gate == "review" else "approval"
    return step.kind


def initiator(state: m.AgreementState) -> m.Party:
    return next(p for p in state.parties if p.role == "initiator")


def party_orgs(state: m.AgreementState) -> list[str]:
    return [p.org for p in state.parties]


def latest_draft(state: m.AgreementState, kind: str) -> m.Draft | None:
    drafts = [d for d in state.drafts if d.kind == kind]
    return drafts[-1] if drafts else None


def agreed_draft(state: m.AgreementState, kind: str) -> m.Draft | None:
    """The latest version of `kind` if every party has accepted it."""
    draft = latest_draft(state, kind)
    if draft and set(party_orgs(state)) <= set(draft.accepted_by):
        return draft
    return None


def gate_slots_for(state: m.AgreementState, step: Step) -> list[m.GateSlot]:
    assert step.gate is not None
    if step.scope == "once":
        return [m.GateSlot(step=step.key, gate=step.gate, org=None)]
    if step.scope == "initiator":
        parties = [initiator(state)]
    else:
        parties = [p for p in state.parties if p.sector == "government" and not p.foreign]
    if step.condition == "requires_dprd_approval":
        parties = [p for p in parties if p.requires_dprd_approval]
    return [m.GateSlot(step=step.key, gate=step.gate, org=p.org) for p in parties]


def open_slots(state: m.AgreementState) -> list[m.GateSlot]:
    step = current_step(state)
    if step is None or step.kind != "gate" or phase(state) == "closed":
        return []
    return [s for s in state.gates if s.step == step.key and s.status == "pending"]


def _add_months(d: date, months: int) -> date:
    month_index = d.month - 1 + months
    year, month = d.year + month_index // 12, month_index % 12 + 1
    days_in_month = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28,
                     31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return date(year, month, min(d.day, days_in_month))


# ---------------------------------------------------------------- who may act


def _is_initiator_staff(state: m.AgreementState, actor: m.Actor) -> bool:
    return actor.has("admin") or (actor.has("staff") and actor.org == initiator(state).org)


def _negotiating_party(state: m.AgreementState, actor: m.Actor) -> m.Party:
    party = next((p for p in state.parties if p.org == actor.org), None)
    if party is None or not (actor.has("staff") or actor.has("partner") or actor.has("admin")):
        raise NotAllowed("Only staff or partners of a party's organisation negotiate drafts.")
    return party


def can_see(state: m.AgreementState, actor: m.Actor) -> bool:
    if actor.has("admin") or actor.has("auditor") or actor.has("system"):
        return True
    if actor.org in party_orgs(state):
        return True
    return "ministry" in actor.gates and actor.has("approver") and ministry_can_see(state)


def ministry_can_see(state: m.AgreementState) -> bool:
    """Ministry approvers see the agreements awaiting or past their gate."""
    return any(s.gate == "ministry" and s.status != "waiting" for s in state.gates)


# ---------------------------------------------------------------- the emitter


class _Emitter:
    """Builds a command's events and applies each at once, so later rules see earlier facts."""

    def __init__(self, state: m.AgreementState, actor: m.Actor, now: datetime) -> None:
        self.state, self.actor, self.now = state, actor, now
        self.version = state.version + 1
        self.events: list[m.Event] = []

    def emit(self, type_: str, **data: Any) -> None:
        seq = self.state.seq + 1
        event = m.Event(
            id=str(uuid.uuid5(EVENT_NAMESPACE, f"{self.state.id}/{seq}")),
            agreement_id=self.state.id, seq=seq, version=self.version, type=type_,
            at=self.now, actor=self.actor, data=data,
        )
        self.events.append(event)
        self.state = evolve(self.state, event)

    def enter_from(self, index: int) -> None:
        """Enter the first step at or after `index` that applies, or start implementation."""
        procedure = procedure_of(self.state)
        while index < len(procedure.steps):
            step = procedure.step(index)
            if step.kind == "gate" and not gate_slots_for(self.state, step):
                self.emit("step_skipped", step=step.key,
                          reason="no party needs this gate" if step.condition else "no gate holder")
                index += 1
                continue
            due = self.now + timedelta(days=STEP_DEADLINE_DAYS[step.kind])
            self.emit("step_entered", step=step.key, index=index, stage=stage_for(step),
                      due_at=due.isoformat())
            return
        effective = max(self.state.start_date, self.now.date())
        end = _add_months(effective, self.state.duration_months)
        self.emit("implementation_started", effective_date=effective.isoformat(),
                  end_date=end.isoformat())


# ---------------------------------------------------------------- create


def create(proposal: m.Proposal, actor: m.Actor, now: datetime, agreement_id: str,
           fingerprint: str | None = None) -> list[m.Event]:
    check_proposal(proposal.kind, proposal.parties)
    initiating = next(p for p in proposal.parties if p.role == "initiator")
    if not (actor.has("admin") or (actor.has("staff") and actor.org == initiating.org)):
        raise NotAllowed("Only staff of the initiating organisation create its agreements.",
                         initiator=initiating.org)
    procedure = current_procedure(proposal.kind)
    event = m.Event(
        id=str(uuid.uuid5(EVENT_NAMESPACE, f"{agreement_id}/1")), agreement_id=agreement_id,
        seq=1, version=1, type="agreement_created", at=now, actor=actor,
        data={**proposal.model_dump(mode="json"),
              "procedure": {"key": procedure.key, "version": procedure.version},
              "fingerprint": fingerprint},
    )
    return [event]


def check_proposal(kind: str, parties: list[m.Party]) -> None:
    """Party rules per kind of agreement (PP 28/2018)."""
    initiators = [p for p in parties if p.role == "initiator"]
    if len(initiators) != 1:
        raise InvalidProposal("An agreement has exactly one initiating party.")
    orgs = [p.org for p in parties]
    if len(set(orgs)) != len(orgs):
        raise InvalidProposal("Each organisation is party to an agreement once.")
    lead = initiators[0]
    if lead.sector != "government" or lead.foreign:
        raise InvalidProposal("The initiator of a kerja sama daerah is an Indonesian region.")
    others = [p for p in parties if p.role == "counterparty"]
    rules = {
        "ksdd": (lambda p: p.sector == "government" and not p.foreign,
                 "A KSDD is between Indonesian regions: every counterparty is a domestic government."),
        "ksdpk": (lambda p: p.sector != "government" and not p.foreign,
                  "A KSDPK is with a domestic third party (industry, academia, community or media)."),
        "ksdpl": (lambda p: p.sector == "government" and p.foreign,
                  "A KSDPL is with a regional government abroad: the counterparty is foreign and governmental."),
        "ksdll": (lambda p: p.sector != "government" and p.foreign,
                  "A KSDLL is with a foreign institution: the counterparty is foreign and not a government."),
    }
    rule, message = rules[kind]
    if not all(rule(p) for p in others):
        raise InvalidProposal(message, kind=kind)
    if any(p.requires_dprd_approval and (p.foreign or p.sector != "government") for p in parties):
        raise InvalidProposal("Only Indonesian government parties have a DPRD to approve.")


# ---------------------------------------------------------------- decide


def decide(state: m.AgreementState, command: Any, actor: m.Actor, now: datetime,
           expected_version: int | None = None) -> list[m.Event]:
    if expected_version is not None and expected_version != state.version:
        raise StaleVersion(f"The agreement is at version {state.version}, not {expected_version}.",
                           version=state.version, stage=state.stage,
                           allowed_actions=allowed_actions(state, actor, now))
    current = phase(state)
    if command.type not in TRANSITIONS[current]:
        raise InvalidTransition(
            f"'{command.type}' is not possible while the agreement is in {state.stage}.",
            stage=state.stage, allowed_actions=allowed_actions(state, actor, now))
    emitter = _Emitter(state, actor, now)
    try:
        _HANDLERS[command.type](emitter, command)
    except DomainError as error:
        # Every refusal says where the agreement stands and what the caller may do instead.
        error.details.setdefault("stage", state.stage)
        error.details.setdefault("allowed_actions", allowed_actions(state, actor, now))
        raise
    return emitter.events


def _edit(e: _Emitter, cmd: m.Edit) -> None:
    if not _is_initiator_staff(e.state, e.actor):
        raise NotAllowed("Only staff of the initiating organisation edit the proposal.")
    changes = cmd.changes()
    if not changes:
        raise InvalidProposal("An edit changes at least one field.")
    if cmd.parties is not None:
        check_proposal(e.state.kind, cmd.parties)
        if next(p for p in cmd.parties if p.role == "initiator").org != initiator(e.state).org:
            raise InvalidProposal("The initiating organisation of an agreement cannot change.")
    e.emit("proposal_edited", changes=changes)


def _submit(e: _Emitter, cmd: m.Submit) -> None:
    if not _is_initiator_staff(e.state, e.actor):
        raise NotAllowed("Only staff of the initiating organisation submit the proposal.")
    procedure = procedure_of(e.state)
    slots = [slot for step in procedure.steps if step.kind == "gate"
             for slot in gate_slots_for(e.state, step)]
    e.emit("agreement_submitted", gates=[s.model_dump(mode="json") for s in slots])
    e.enter_from(0)


def _withdraw(e: _Emitter, cmd: m.Withdraw) -> None:
    if not _is_initiator_staff(e.state, e.actor):
        raise NotAllowed("Only staff of the initiating organisation withdraw the agreement.")
    e.emit("agreement_withdrawn", reason=cmd.reason)


def _comment(e: _Emitter, cmd: m.Comment) -> None:
    if e.actor.org not in party_orgs(e.state) and not e.actor.has("admin"):
        raise NotAllowed("Only the parties comment on an agreement.")
    e.emit("comment_added", text=cmd.text, org=e.actor.org)


def _slot_for(e: _Emitter, gate: str) -> m.GateSlot:
    slots = [s for s in open_slots(e.state) if s.gate == gate]
    if not slots:
        waiting = sorted({s.gate for s in open_slots(e.state)})
        raise InvalidTransition(f"No '{gate}' decision is awaited now.", stage=e.state.stage,
                                awaited_gates=waiting)
    if not (e.actor.has("approver") and gate in e.actor.gates):
        raise NotAllowed(f"Deciding the '{gate}' gate needs an approver holding that gate.")
    for slot in slots:
        if slot.org is None or slot.org == e.actor.org:
            return slot
    raise NotAllowed(f"The '{gate}' gate awaits the decision of "
                     f"{', '.join(s.org or '' for s in slots)}, not {e.actor.org}.")


def _decide(e: _Emitter, cmd: m.Decide) -> None:
    slot = _slot_for(e, cmd.gate)
    if cmd.outcome != "approve" and not cmd.comment:
        raise InvalidProposal("Requesting changes or rejecting needs a comment saying why.")
    e.emit("gate_decided", step=slot.step, gate=slot.gate, org=slot.org, outcome=cmd.outcome,
           comment=cmd.comment)
    if e.state.termination is not None:
        if cmd.outcome == "approve":
            e.emit("agreement_terminated", reason=e.state.termination.reason)
        else:
            e.emit("termination_declined", comment=cmd.comment)
        return
    if cmd.outcome == "reject":
        e.emit("agreement_rejected", step=slot.step, gate=slot.gate, org=slot.org, comment=cmd.comment)
    elif cmd.outcome == "request_changes":
        _return_for_changes(e, slot)
    elif not open_slots(e.state):
        e.emit("step_completed", step=slot.step)
        assert e.state.step_index is not None
        e.enter_from(e.state.step_index + 1)


def _return_for_changes(e: _Emitter, slot: m.GateSlot) -> None:
    """Back to the last negotiation before this gate, or to draft if there is none."""
    procedure = procedure_of(e.state)
    assert e.state.step_index is not None
    back = next((i for i in range(e.state.step_index - 1, -1, -1)
                 if procedure.step(i).kind == "negotiation"), None)
    if back is None:
        e.emit("returned_to_draft", step=slot.step)
        return
    e.emit("returned_for_changes", step=slot.step, to_step=procedure.step(back).key,
           document=procedure.step(back).document)
    e.enter_from(back)


def _submit_draft(e: _Emitter, cmd: m.SubmitDraft) -> None:
    party = _negotiating_party(e.state, e.actor)
    step = current_step(e.state)
    assert step is not None and step.document is not None
    latest = latest_draft(e.state, step.document)
    if latest is not None and latest.document == cmd.document:
        raise InvalidTransition(f"Version {latest.version} already holds this document.",
                                stage=e.state.stage, version=latest.version)
    version = max((d.version for d in e.state.drafts), default=0) + 1
    # Submitting a version is the submitting party's acceptance of it.
    e.emit("draft_submitted", version=version, kind=step.document, document=cmd.document,
           note=cmd.note, org=party.org)
    _complete_negotiation_if_agreed(e, step)


def _accept_draft(e: _Emitter, cmd: m.AcceptDraft) -> None:
    party = _negotiating_party(e.state, e.actor)
    step = current_step(e.state)
    assert step is not None and step.document is not None
    latest = latest_draft(e.state, step.document)
    if latest is None or latest.version != cmd.version:
        raise InvalidTransition(
            f"Only the latest {step.document.upper()} version can be accepted"
            + (f" (version {latest.version})." if latest else "; none was submitted yet."),
            stage=e.state.stage, latest_version=latest.version if latest else None)
    if party.org in latest.accepted_by:
        raise InvalidTransition(f"{party.org} has already accepted version {latest.version}.",
                                stage=e.state.stage)
    e.emit("draft_accepted", version=latest.version, org=party.org)
    _complete_negotiation_if_agreed(e, step)


def _complete_negotiation_if_agreed(e: _Emitter, step: Step) -> None:
    assert step.document is not None
    draft = agreed_draft(e.state, step.document)
    if draft is not None:
        e.emit("step_completed", step=step.key, version=draft.version)
        assert e.state.step_index is not None
        e.enter_from(e.state.step_index + 1)


def _sign(e: _Emitter, cmd: m.Sign) -> None:
    party = next((p for p in e.state.parties if p.org == e.actor.org), None)
    if party is None or not e.actor.has("signatory"):
        raise NotAllowed("Only a signatory of a party's organisation signs for it.")
    step = current_step(e.state)
    assert step is not None and step.document is not None
    draft = agreed_draft(e.state, step.document)
    if draft is None or draft.version != cmd.version:
        raise InvalidTransition(
            f"Version {cmd.version} is not the agreed {step.document.upper()}"
            + (f"; sign version {draft.version}." if draft else "."),
            stage=e.state.stage, agreed_version=draft.version if draft else None)
    if any(s.org == party.org and s.version == draft.version for s in e.state.signatures):
        raise InvalidTransition(f"{party.org} has already signed version {draft.version}.",
                                stage=e.state.stage)
    if cmd.method == "wet_ink" and not cmd.evidence:
        raise InvalidProposal("A wet-ink signature needs the scanned copy as evidence (its sha256).")
    e.emit("document_signed", org=party.org, version=draft.version, kind=draft.kind,
           document=draft.document, signed_by=cmd.signed_by or party.signatory,
           method=cmd.method, evidence=cmd.evidence)
    signed = {s.org for s in e.state.signatures if s.version == draft.version}
    if set(party_orgs(e.state)) <= signed:
        e.emit("step_completed", step=step.key, version=draft.version)
        assert e.state.step_index is not None
        e.enter_from(e.state.step_index + 1)


def _terminate(e: _Emitter, cmd: m.Terminate) -> None:
    if not _is_initiator_staff(e.state, e.actor):
        raise NotAllowed("Only staff of the initiating organisation propose a termination.")
    e.emit("termination_requested", reason=cmd.reason,
           gates=[s.model_dump(mode="json") for s in gate_slots_for(e.state, TERMINATION_STEP)])


_HANDLERS: dict[str, Callable[[_Emitter, Any], None]] = {
    "edit": _edit, "submit": _submit, "withdraw": _withdraw, "comment": _comment,
    "decide": _decide, "submit_draft": _submit_draft, "accept_draft": _accept_draft,
    "sign": _sign, "terminate": _terminate,
}
assert set(_HANDLERS) == set(m.COMMAND_TYPES)


# ---------------------------------------------------------------- evolve


def evolve(state: m.AgreementState | None, event: m.Event) -> m.AgreementState:
    if event.type == "agreement_created":
        assert state is None
        d = event.data
        return m.AgreementState(
            id=event.agreement_id, title=d["title"], kind=d["kind"], objectives=d["objectives"],
            sector=d["sector"], parties=d["parties"], start_date=d["start_date"],
            duration_months=d["duration_months"],
            evaluation_interval_months=d["evaluation_interval_months"],
            indicators=d["indicators"], value=d.get("value"), procedure=d["procedure"],
            created_by=event.actor.sub, created_at=event.at, updated_at=event.at,
            request_fingerprint=d.get("fingerprint"), seq=event.seq, version=event.version,
        )
    assert state is not None and event.seq == state.seq + 1, "events apply in sequence"
    new = state.model_copy(deep=True)
    _APPLY[event.type](new, event)
    new.seq, new.version, new.updated_at = event.seq, event.version, event.at
    return new


def _apply_edited(s: m.AgreementState, e: m.Event) -> None:
    updated = m.AgreementState.model_validate({**s.model_dump(mode="json"), **e.data["changes"]})
    for field in e.data["changes"]:
        setattr(s, field, getattr(updated, field))


def _apply_submitted(s: m.AgreementState, e: m.Event) -> None:
    s.gates = [m.GateSlot.model_validate(g) for g in e.data["gates"]]
    s.drafts, s.signatures = [], []


def _apply_step_entered(s: m.AgreementState, e: m.Event) -> None:
    s.step_index, s.stage = e.data["index"], e.data["stage"]
    s.deadlines = {"step": datetime.fromisoformat(e.data["due_at"])}
    key = e.data["step"]
    for slot in s.gates:
        if slot.step == key:
            slot.status, slot.decided_by, slot.comment, slot.at = "pending", None, None, None
    if e.data["stage"] == "negotiation":
        # Re-entering a negotiation (changes requested) reopens acceptance of its document.
        doc = procedure_of(s).step(e.data["index"]).document
        latest = latest_draft(s, doc) if doc else None
        if latest is not None:
            latest.accepted_by = []
        # ... and voids the signatures of that document (a KSB signed before the DPRD asked
        # for changes is signed again), else its signing step could never complete.
        s.signatures = [sig for sig in s.signatures if sig.kind != doc]


def _apply_gate_decided(s: m.AgreementState, e: m.Event) -> None:
    status = {"approve": "approved", "request_changes": "changes_requested",
              "reject": "rejected"}[e.data["outcome"]]
    for slot in s.gates:
        if slot.step == e.data["step"] and slot.org == e.data["org"] and slot.status == "pending":
            slot.status, slot.decided_by, slot.comment, slot.at = status, e.actor.sub, e.data["comment"], e.at


def _apply_returned(s: m.AgreementState, e: m.Event) -> None:
    # Gates after the step returned to wait again; decisions are kept in the audit trail.
    procedure = procedure_of(s)
    to = e.data.get("to_step")
    start = next((i for i, st in enumerate(procedure.steps) if st.key == to), -1)
    later = {st.key for st in procedure.steps[start + 1:]}
    for slot in s.gates:
        if slot.step in later and slot.status != "changes_requested":
            slot.status, slot.decided_by, slot.comment, slot.at = "waiting", None, None, None
    if to is None:
        s.stage, s.step_index, s.deadlines = "draft", None, {}


def _apply_draft_submitted(s: m.AgreementState, e: m.Event) -> None:
    d = e.data
    s.drafts.append(m.Draft(version=d["version"], kind=d["kind"], document=d["document"],
                            note=d["note"], submitted_by=e.actor.sub, org=d["org"], at=e.at,
                            accepted_by=[d["org"]]))


def _apply_draft_accepted(s: m.AgreementState, e: m.Event) -> None:
    draft = next(d for d in s.drafts if d.version == e.data["version"])
    draft.accepted_by.append(e.data["org"])


def _apply_signed(s: m.AgreementState, e: m.Event) -> None:
    d = e.data
    s.signatures.append(m.Signature(org=d["org"], version=d["version"], kind=d["kind"],
                                    document=d["document"], signed_by=d["signed_by"],
                                    method=d["method"], evidence=d["evidence"], at=e.at))


def _apply_implementation(s: m.AgreementState, e: m.Event) -> None:
    s.stage, s.step_index, s.deadlines = "implementation", None, {}
    s.effective_date = date.fromisoformat(e.data["effective_date"])
    s.end_date = date.fromisoformat(e.data["end_date"])


def _apply_termination_requested(s: m.AgreementState, e: m.Event) -> None:
    s.termination = m.Termination(reason=e.data["reason"], requested_by=e.actor.sub, at=e.at)
    s.gates = [g for g in s.gates if g.step != TERMINATION_STEP.key]
    for g in e.data["gates"]:
        s.gates.append(m.GateSlot.model_validate({**g, "status": "pending"}))
    s.deadlines = {"step": e.at + timedelta(days=STEP_DEADLINE_DAYS["gate"])}


def _close(stage: str) -> Callable[[m.AgreementState, m.Event], None]:
    def apply(s: m.AgreementState, e: m.Event) -> None:
        s.stage, s.deadlines = stage, {}
        s.closed_reason = e.data.get("reason") or e.data.get("comment")
        s.termination = None
        # A closed agreement awaits no one: slots still pending (the other region's, when
        # one rejects; any, on withdrawal) are no longer open.
        for slot in s.gates:
            if slot.status == "pending":
                slot.status = "waiting"
    return apply


def _apply_termination_declined(s: m.AgreementState, e: m.Event) -> None:
    s.termination, s.deadlines = None, {}


def _noop(s: m.AgreementState, e: m.Event) -> None:
    return None


def _apply_comment(s: m.AgreementState, e: m.Event) -> None:
    s.comments.append(m.CommentEntry(by=e.actor.sub, org=e.data["org"], text=e.data["text"], at=e.at))


_APPLY: dict[str, Callable[[m.AgreementState, m.Event], None]] = {
    "proposal_edited": _apply_edited,
    "agreement_submitted": _apply_submitted,
    "step_entered": _apply_step_entered,
    "step_skipped": _noop,
    "step_completed": _noop,
    "gate_decided": _apply_gate_decided,
    "returned_for_changes": _apply_returned,
    "returned_to_draft": _apply_returned,
    "draft_submitted": _apply_draft_submitted,
    "draft_accepted": _apply_draft_accepted,
    "document_signed": _apply_signed,
    "implementation_started": _apply_implementation,
    "comment_added": _apply_comment,
    "termination_requested": _apply_termination_requested,
    "termination_declined": _apply_termination_declined,
    "agreement_terminated": _close("terminated"),
    "agreement_withdrawn": _close("withdrawn"),
    "agreement_rejected": _close("rejected"),
}


# ---------------------------------------------------------------- what the caller may do


def candidate_commands(state: m.AgreementState) -> list[Any]:
    """One representative of every command the decider could accept in this state; the
    decider itself says which of them this actor may send."""
    filler, sha = "-", "0" * 64
    out: list[Any] = [m.Edit(title=state.title), m.Submit(), m.Withdraw(reason=filler),
                      m.Comment(text=filler), m.SubmitDraft(document=sha), m.Terminate(reason=filler)]
    # A second document, so `submit_draft` shows even when the latest version holds `sha`.
    out.append(m.SubmitDraft(document="1" * 64))
    out += [m.Decide(gate=g, outcome=o, comment=filler)
            for g in m.GATES for o in ("approve", "request_changes", "reject")]
    for d in state.drafts:
        out.append(m.AcceptDraft(version=d.version))
        out += [m.Sign(version=d.version, method=meth, evidence=sha)
                for meth in ("electronic", "wet_ink")]
    return out


def allowed_actions(state: m.AgreementState, actor: m.Actor, now: datetime) -> list[str]:
    allowed: set[str] = set()
    accepted_in_phase = TRANSITIONS[phase(state)]
    for command in candidate_commands(state):
        if command.type in allowed or command.type not in accepted_in_phase:
            continue
        try:
            emitter = _Emitter(state, actor, now)
            _HANDLERS[command.type](emitter, command)
        except DomainError:
            continue
        allowed.add(command.type)
    return [t for t in m.COMMAND_TYPES if t in allowed]


def step_view(state: m.AgreementState) -> m.StepView | None:
    step = current_step(state)
    if step is None or state.stage in m.TERMINAL_STAGES:
        return None
    total = len(procedure_of(state).steps)
    index = state.step_index if state.termination is None and state.step_index is not None else total
    return m.StepView(key=step.key, kind=step.kind, name=m.LocalizedName(id=step.name_id, en=step.name_en),
                      basis=step.basis, document=step.document, gate=step.gate, index=index, of=total)


def snapshot(state: m.AgreementState, actor: m.Actor, now: datetime) -> m.Snapshot:
    return m.Snapshot.model_validate({
        **state.model_dump(), "step": step_view(state),
        "allowed_actions": allowed_actions(state, actor, now),
    })
