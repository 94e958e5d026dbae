"""The decider: every rule of an agreement's lifecycle, pure.

    create(proposal, actor, now, agreement_id) -> [Event]
    decide(state, command, actor, now)         -> [Event]   (raises DomainError)
    evolve(state, event)                       -> state
    next_wakeup(state)                         -> when time next makes something happen
    allowed_actions(state, actor, now)         -> [command type]
    snapshot(state, actor, now)                -> Snapshot
    can_see(state, actor)                      -> bool

No I/O, no clock, no randomness: time and actor are arguments, event ids derive from the
agreement id and sequence number. `TRANSITIONS` says which commands each phase accepts;
`_HANDLERS` say who may send them and what follows; `notices` says what time brings (the
workflow's timer sends a system `tick`, decided here like any other command). Date
arithmetic lives in `workflows.timeline`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, Callable

from workflows import messages as m
from workflows import timeline as t
from workflows.procedures import (
    CHANGE_PROCEDURES, TERMINATION_STEP, Procedure, Step, current_procedure, get_procedure,
)

EVENT_NAMESPACE = uuid.UUID("7d1c1f4e-4a51-4c1e-9a55-5d2f0a3b6c10")
STEP_DEADLINE_DAYS = t.STEP_DEADLINE_DAYS


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


class NothingDue(InvalidTransition):
    code = "nothing_due"


_EVALUATION = frozenset({"start_evaluation", "submit_evaluation_report", "conclude_evaluation"})
_TIMED = frozenset({"extend_deadline", "tick"})

# Which commands each phase accepts. A phase is the stage, except that a gate step, a step
# of an amendment or renewal, and a pending termination are phases of their own.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"edit", "submit", "withdraw", "comment"}),
    "gate": frozenset({"decide", "withdraw", "comment"}) | _TIMED,
    "negotiation": frozenset({"submit_draft", "accept_draft", "withdraw", "comment"}) | _TIMED,
    "signing": frozenset({"sign", "withdraw", "comment"}) | _TIMED,
    "implementation": frozenset({"terminate", "propose_amendment", "renew", "comment"}) | _EVALUATION | _TIMED,
    "change_gate": frozenset({"decide", "comment"}) | _EVALUATION | _TIMED,
    "change_negotiation": frozenset({"submit_draft", "accept_draft", "comment"}) | _EVALUATION | _TIMED,
    "change_signing": frozenset({"sign", "comment"}) | _EVALUATION | _TIMED,
    "termination": frozenset({"decide", "comment"}) | _EVALUATION | _TIMED,
    "closed": frozenset(),
}


# ---------------------------------------------------------------- reading the state


def procedure_of(state: m.AgreementState) -> Procedure:
    return get_procedure(state.procedure.key, state.procedure.version)


def active_procedure(state: m.AgreementState) -> Procedure:
    """The procedure whose steps run now: the agreement's own, or its amendment/renewal."""
    if state.change is not None:
        return get_procedure(state.change.procedure.key, state.change.procedure.version)
    return procedure_of(state)


def active_index(state: m.AgreementState) -> int | None:
    return state.change.step_index if state.change is not None else state.step_index


def current_step(state: m.AgreementState) -> Step | None:
    if state.termination is not None:
        return TERMINATION_STEP
    index = active_index(state)
    return None if index is None else active_procedure(state).step(index)


def scope_of(state: m.AgreementState) -> str:
    """Which negotiation drafts and signatures belong to: the agreement's own procedure
    (""), or one amendment or renewal ("renewal-2"), so a renewal negotiates a new PKS
    without touching the acceptances and signatures of the original one."""
    return f"{state.change.kind}-{state.change.number}" if state.change else ""


def phase(state: m.AgreementState) -> str:
    if state.stage in m.TERMINAL_STAGES:
        return "closed"
    if state.termination is not None:
        return "termination"
    if state.stage == "draft":
        return "draft"
    if state.stage == "implementation":
        step = current_step(state)
        return "implementation" if step is None else f"change_{step.kind}"
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


def zone(state: m.AgreementState) -> str:
    """Deadlines are kept in the initiating region's time zone."""
    return initiator(state).time_zone


def latest_draft(state: m.AgreementState, kind: str) -> m.Draft | None:
    """The latest version of document `kind` in the current procedure or change."""
    scope = scope_of(state)
    drafts = [d for d in state.drafts if d.kind == kind and d.scope == scope]
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


def open_evaluation(state: m.AgreementState) -> m.Evaluation | None:
    return next((e for e in state.evaluations if e.concluded_at is None), None)


def awaited(state: m.AgreementState) -> list[tuple[str | None, str, str | None]]:
    """Who the agreement waits for now, as (organisation, role, gate): the approvers of the
    open gate slots (organisation None: any holder of the gate), the parties that have not
    accepted the latest version, the signatories still to sign, the parties during
    implementation, the initiator's staff on a draft. Reminders go to them."""
    current = phase(state)
    if current == "closed":
        return []
    if current in ("gate", "change_gate", "termination"):
        return [(slot.org, "approver", slot.gate) for slot in open_slots(state)]
    if current == "draft":
        return [(initiator(state).org, "staff", None)]
    working = [(org, role, None) for org in party_orgs(state) for role in ("staff", "partner")]
    if current == "implementation":
        return working
    step = current_step(state)
    assert step is not None and step.document is not None
    if current in ("negotiation", "change_negotiation"):
        latest = latest_draft(state, step.document)
        return [w for w in working if latest is None or w[0] not in latest.accepted_by]
    agreed = agreed_draft(state, step.document)
    signed = {s.org for s in state.signatures if agreed is not None and s.version == agreed.version}
    return [(org, "signatory", None) for org in party_orgs(state) if org not in signed]


def _local_today(state: m.AgreementState, now: datetime) -> date:
    return t.local_day(now, zone(state))


# ---------------------------------------------------------------- who may act


def _is_initiator_staff(state: m.AgreementState, actor: m.Actor) -> bool:
    return actor.has("admin") or (actor.has("staff") and actor.org == initiator(state).org)


def _party_member(state: m.AgreementState, actor: m.Actor, what: str) -> m.Party:
    party = next((p for p in state.parties if p.org == actor.org), None)
    if party is None or not (actor.has("staff") or actor.has("partner") or actor.has("admin")):
        raise NotAllowed(f"Only staff or partners of a party's organisation {what}.")
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
        """Enter the first step at or after `index` of the active procedure that applies;
        past the last step, start implementation or complete the change."""
        procedure, change = active_procedure(self.state), self.state.change
        while index < len(procedure.steps):
            step = procedure.step(index)
            if step.kind == "gate" and not gate_slots_for(self.state, step):
                self.emit("step_skipped", step=step.key, reason="no party needs this gate")
                index += 1
                continue
            due = t.due_after(self.now, STEP_DEADLINE_DAYS[step.kind], zone(self.state))
            self.emit("step_entered", step=step.key, index=index,
                      stage="implementation" if change else stage_for(step),
                      change=change.number if change else None, due_at=due.isoformat())
            if step.kind == "signing" and self._already_signed(step):
                # Changes were requested after signing, and the parties kept the very
                # version they had signed: those signatures stand.
                self.emit("step_completed", step=step.key, reason="already signed")
                index += 1
                continue
            return
        if change is not None:
            self._complete_change(change)
            return
        effective = max(self.state.start_date, _local_today(self.state, self.now))
        end = t.add_months(effective, self.state.duration_months)
        first_evaluation = t.add_months(effective, self.state.evaluation_interval_months)
        self.emit("implementation_started", effective_date=effective.isoformat(), end_date=end.isoformat(),
                  next_evaluation_on=first_evaluation.isoformat())

    def _already_signed(self, step: Step) -> bool:
        assert step.document is not None
        draft = agreed_draft(self.state, step.document)
        if draft is None:
            return False
        signed = {s.org for s in self.state.signatures if s.version == draft.version}
        return set(party_orgs(self.state)) <= signed

    def _complete_change(self, change: m.ChangeProcess) -> None:
        document = CHANGE_PROCEDURES[change.kind].steps[-1].document
        assert document is not None
        draft = agreed_draft(self.state, document)
        assert draft is not None
        changes = dict(change.changes)
        if change.kind == "renewal":
            assert self.state.end_date is not None
            changes = {"end_date": t.add_months(self.state.end_date, change.changes["duration_months"]).isoformat()}
        self.emit("change_completed", kind=change.kind, number=change.number, summary=change.summary,
                  changes=changes, document=draft.document, version=draft.version)

    def open_change(self, kind: str, summary: str, changes: dict[str, Any], origin: str | None) -> None:
        procedure = CHANGE_PROCEDURES[kind]
        number = self.state.changes_opened + 1
        slots = [slot for step in procedure.steps if step.kind == "gate"
                 for slot in gate_slots_for(self.state, step)]
        self.emit("change_opened", kind=kind, number=number, summary=summary, changes=changes,
                  origin=origin, procedure={"key": procedure.key, "version": procedure.version},
                  gates=[s.model_dump(mode="json") for s in slots])
        self.enter_from(0)

    def open_evaluation(self, *, final: bool, origin: str) -> None:
        number = self.state.evaluations_opened + 1
        due = t.due_after(self.now, t.REPORT_DUE_DAYS, zone(self.state))
        following = self.state.next_evaluation_on
        if not final and following is not None:
            # An early evaluation takes the place of the next scheduled one.
            following = t.add_months(following, self.state.evaluation_interval_months)
        self.emit("evaluation_opened", number=number, final=final, origin=origin,
                  due_at=due.isoformat(),
                  next_evaluation_on=following.isoformat() if following else None)


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


def import_agreement(record: m.ImportRecord, actor: m.Actor, now: datetime, agreement_id: str,
                     fingerprint: str | None = None) -> list[m.Event]:
    """An agreement signed on paper before Pakta, brought in already in force. Its
    evaluation schedule, reminders and expiry follow from its historical dates: the next
    evaluation is the first one still ahead, reminders already past are moot, and one past
    its end date arrives expired."""
    if not actor.has("admin"):
        raise NotAllowed("Only administrators import existing agreements.")
    proposal = record.proposal
    if record.signed_on > t.local_day(now, "Asia/Jakarta"):
        raise InvalidProposal("An imported agreement was signed in the past.", ref=record.ref)
    events = create(proposal, actor, now, agreement_id, fingerprint)
    state = evolve(None, events[0])
    emitter = _Emitter(state, actor, now)
    emitter.version = 1  # one command: the import
    effective = max(proposal.start_date, record.signed_on)
    end = t.add_months(effective, proposal.duration_months)
    today = t.local_day(now, zone(state))
    following = t.add_months(effective, proposal.evaluation_interval_months)
    while following <= today:
        following = t.add_months(following, proposal.evaluation_interval_months)
    emitter.emit("agreement_imported", ref=record.ref, signed_on=record.signed_on.isoformat(),
                 document=record.document, method=record.method,
                 effective_date=effective.isoformat(), end_date=end.isoformat(),
                 next_evaluation_on=following.isoformat())
    if end <= today:
        emitter.emit("agreement_expired", end_date=end.isoformat(), imported=True)
    return events + emitter.events


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
        if e.state.change is not None:  # a refused amendment or renewal; the agreement stays
            e.emit("change_rejected", kind=e.state.change.kind, number=e.state.change.number,
                   comment=cmd.comment)
        else:
            e.emit("agreement_rejected", step=slot.step, gate=slot.gate, org=slot.org, comment=cmd.comment)
    elif cmd.outcome == "request_changes":
        _return_for_changes(e, slot)
    elif not open_slots(e.state):
        e.emit("step_completed", step=slot.step)
        index = active_index(e.state)
        assert index is not None
        e.enter_from(index + 1)


def _return_for_changes(e: _Emitter, slot: m.GateSlot) -> None:
    """Back to the last negotiation before this gate, or to draft if there is none."""
    procedure, index = active_procedure(e.state), active_index(e.state)
    assert index is not None
    back = next((i for i in range(index - 1, -1, -1) if procedure.step(i).kind == "negotiation"), None)
    if back is None:
        e.emit("returned_to_draft", step=slot.step)
        return
    e.emit("returned_for_changes", step=slot.step, to_step=procedure.step(back).key,
           document=procedure.step(back).document)
    e.enter_from(back)


def _submit_draft(e: _Emitter, cmd: m.SubmitDraft) -> None:
    party = _party_member(e.state, e.actor, "negotiate drafts")
    step = current_step(e.state)
    assert step is not None and step.document is not None
    scope = scope_of(e.state)
    latest = latest_draft(e.state, step.document)
    if latest is not None and latest.document == cmd.document:
        raise InvalidTransition(f"Version {latest.version} already holds this document.",
                                stage=e.state.stage, version=latest.version)
    version = max((d.version for d in e.state.drafts), default=0) + 1
    # Submitting a version is the submitting party's acceptance of it.
    e.emit("draft_submitted", version=version, kind=step.document, document=cmd.document,
           note=cmd.note, org=party.org, scope=scope)
    _complete_negotiation_if_agreed(e, step)


def _accept_draft(e: _Emitter, cmd: m.AcceptDraft) -> None:
    party = _party_member(e.state, e.actor, "accept drafts")
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
        index = active_index(e.state)
        assert index is not None
        e.enter_from(index + 1)


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
    if any(s.org == party.org and s.version == draft.version and s.scope == draft.scope
           for s in e.state.signatures):
        raise InvalidTransition(f"{party.org} has already signed version {draft.version}.",
                                stage=e.state.stage)
    if cmd.method == "wet_ink" and not cmd.evidence:
        raise InvalidProposal("A wet-ink signature needs the scanned copy as evidence (its sha256).")
    e.emit("document_signed", org=party.org, version=draft.version, kind=draft.kind,
           document=draft.document, signed_by=cmd.signed_by or party.signatory,
           method=cmd.method, evidence=cmd.evidence, scope=scope_of(e.state))
    signed = {s.org for s in e.state.signatures if s.version == draft.version}
    if set(party_orgs(e.state)) <= signed:
        e.emit("step_completed", step=step.key, version=draft.version)
        index = active_index(e.state)
        assert index is not None
        e.enter_from(index + 1)


def _terminate(e: _Emitter, cmd: m.Terminate) -> None:
    if not _is_initiator_staff(e.state, e.actor):
        raise NotAllowed("Only staff of the initiating organisation propose a termination.")
    _request_termination(e, cmd.reason, origin=None)


def _request_termination(e: _Emitter, reason: str, origin: str | None) -> None:
    e.emit("termination_requested", reason=reason, origin=origin,
           due_at=t.due_after(e.now, STEP_DEADLINE_DAYS["gate"], zone(e.state)).isoformat(),
           gates=[s.model_dump(mode="json") for s in gate_slots_for(e.state, TERMINATION_STEP)])


# ---------------------------------------------------------------- implementation


def _start_evaluation(e: _Emitter, cmd: m.StartEvaluation) -> None:
    actor = e.actor
    scheduler = actor.has("scheduler") and actor.org == initiator(e.state).org
    if not (_is_initiator_staff(e.state, actor) or scheduler):
        raise NotAllowed("Only staff of the initiating organisation or its scheduler open an evaluation.")
    running = open_evaluation(e.state)
    if running is not None:
        raise InvalidTransition(f"Evaluation {running.number} is still open.", evaluation=running.number)
    e.open_evaluation(final=False, origin="requested")


def _evaluation(e: _Emitter, number: int) -> m.Evaluation:
    evaluation = open_evaluation(e.state)
    if evaluation is None or evaluation.number != number:
        raise InvalidTransition(f"Evaluation {number} is not open"
                                + (f"; evaluation {evaluation.number} is." if evaluation else "."),
                                open_evaluation=evaluation.number if evaluation else None)
    return evaluation


def _submit_evaluation_report(e: _Emitter, cmd: m.SubmitEvaluationReport) -> None:
    party = _party_member(e.state, e.actor, "report on an evaluation")
    evaluation = _evaluation(e, cmd.evaluation)
    if any(r.org == party.org for r in evaluation.reports):
        raise InvalidTransition(f"{party.org} has already reported on evaluation {evaluation.number}.")
    known = {i.name for i in e.state.indicators}
    unknown = sorted({r.indicator for r in cmd.results} - known)
    if unknown:
        raise InvalidProposal("Report only against the agreement's indicators.", unknown=unknown,
                              indicators=sorted(known))
    e.emit("evaluation_report_submitted", evaluation=evaluation.number, org=party.org,
           narrative=cmd.narrative, results=[r.model_dump(mode="json") for r in cmd.results],
           late=e.now > evaluation.due_at)


def _conclude_evaluation(e: _Emitter, cmd: m.ConcludeEvaluation) -> None:
    if not _is_initiator_staff(e.state, e.actor):
        raise NotAllowed("Only staff of the initiating organisation conclude an evaluation.")
    evaluation = _evaluation(e, cmd.evaluation)
    missing = sorted(set(party_orgs(e.state)) - {r.org for r in evaluation.reports})
    if missing and e.now < evaluation.due_at:
        raise InvalidTransition("Every party reports before the due date; conclude after it otherwise.",
                                missing_reports=missing, due_at=evaluation.due_at.isoformat())
    e.emit("evaluation_concluded", evaluation=evaluation.number, score=cmd.score,
           recommendation=cmd.recommendation, summary=cmd.summary, missing_reports=missing)
    _follow_recommendation(e, evaluation, cmd.recommendation)


def _follow_recommendation(e: _Emitter, evaluation: m.Evaluation, recommendation: str) -> None:
    """The recommendation drives what follows: continue schedules the next period (already
    scheduled), expand opens an amendment, stop opens a termination for the head gate."""
    if evaluation.final and e.state.end_date is not None and e.state.end_date <= _local_today(e.state, e.now):
        e.emit("agreement_expired", end_date=e.state.end_date.isoformat(), evaluation=evaluation.number)
        return
    origin = f"evaluation:{evaluation.number}"
    if recommendation == "expand" and e.state.change is None and e.state.termination is None:
        e.open_change("amendment", f"Perluasan kerja sama menurut evaluasi {evaluation.number}", {}, origin)
    elif recommendation == "stop" and e.state.termination is None:
        _request_termination(e, f"Evaluasi {evaluation.number} merekomendasikan penghentian (dihentikan).", origin)


def _propose_amendment(e: _Emitter, cmd: m.ProposeAmendment) -> None:
    if not _is_initiator_staff(e.state, e.actor):
        raise NotAllowed("Only staff of the initiating organisation propose an amendment.")
    changes = cmd.model_dump(mode="json", exclude={"type", "summary"}, exclude_none=True)
    if cmd.end_date is not None and e.state.effective_date is not None and cmd.end_date <= e.state.effective_date:
        raise InvalidProposal("The new end date is after the effective date.")
    e.open_change("amendment", cmd.summary, changes, origin=None)


def _renew(e: _Emitter, cmd: m.Renew) -> None:
    if not _is_initiator_staff(e.state, e.actor):
        raise NotAllowed("Only staff of the initiating organisation renew an agreement.")
    e.open_change("renewal", cmd.note or f"Perpanjangan {cmd.duration_months} bulan",
                  {"duration_months": cmd.duration_months}, origin=None)


def _extend_deadline(e: _Emitter, cmd: m.ExtendDeadline) -> None:
    if not _is_initiator_staff(e.state, e.actor):
        raise NotAllowed("Only staff of the initiating organisation extend deadlines.")
    if cmd.deadline == "evaluation_report":
        evaluation = open_evaluation(e.state)
        if evaluation is None:
            raise InvalidTransition("No evaluation is open.")
        e.emit("deadline_extended", deadline="evaluation_report", evaluation=evaluation.number,
               due_at=(evaluation.due_at + timedelta(days=cmd.days)).isoformat(), reason=cmd.reason)
        return
    due = e.state.deadlines.get("step")
    if due is None:
        raise InvalidTransition("No step deadline is running.")
    e.emit("deadline_extended", deadline="step", due_at=(due + timedelta(days=cmd.days)).isoformat(),
           reason=cmd.reason)


# ---------------------------------------------------------------- time


def notices(state: m.AgreementState) -> list[t.Notice]:
    """Everything time will make happen in this state, sent or not (see `due_notices`)."""
    if phase(state) in ("closed", "draft"):
        return []
    out: list[t.Notice] = []
    step, due = current_step(state), state.deadlines.get("step")
    if step is not None and due is not None:
        tag = f"{scope_of(state)}/{step.key}@{due.isoformat()}"
        for days in t.STEP_REMINDER_DAYS:
            out.append(t.Notice(f"step-reminder:{tag}:{days}", due - timedelta(days=days), "deadline_reminder",
                                {"step": step.key, "due_at": due.isoformat(), "days_before": days}))
        out.append(t.Notice(f"step-escalation:{tag}", due, "deadline_escalated",
                            {"step": step.key, "due_at": due.isoformat()}))
    if state.stage != "implementation" or state.end_date is None:
        return out
    evaluation, place = open_evaluation(state), zone(state)
    if evaluation is not None:
        tag = f"{evaluation.number}@{evaluation.due_at.isoformat()}"
        # Every party has reported: nobody to remind or escalate, only the conclusion waits.
        all_reported = set(party_orgs(state)) <= {r.org for r in evaluation.reports}
        for days in () if all_reported else t.REPORT_REMINDER_DAYS:
            out.append(t.Notice(f"report-reminder:{tag}:{days}", evaluation.due_at - timedelta(days=days),
                                "evaluation_reminder", {"evaluation": evaluation.number, "days_before": days,
                                                        "due_at": evaluation.due_at.isoformat()}))
        after = evaluation.due_at + timedelta(days=1)
        if evaluation.final:  # reports or not, a term that ended expires after its due date
            out.append(t.Notice(f"expire:{state.end_date.isoformat()}", after, "agreement_expired",
                                {"end_date": state.end_date.isoformat(), "evaluation": evaluation.number}))
        elif not evaluation.escalated and not all_reported:
            out.append(t.Notice(f"report-escalation:{tag}", after, "evaluation_escalated",
                                {"evaluation": evaluation.number}))
    elif state.next_evaluation_on is not None and state.next_evaluation_on < state.end_date:
        opens = state.next_evaluation_on
        out.append(t.Notice(f"evaluation:{opens.isoformat()}", t.office_time(opens, place), "evaluation_opened",
                            {"final": False, "origin": "schedule"}))
    end = state.end_date
    for days in state.expiry_reminder_days:
        out.append(t.Notice(f"expiry-reminder:{end.isoformat()}:{days}",
                            t.office_time(end - timedelta(days=days), place), "expiry_reminder",
                            {"end_date": end.isoformat(), "days_before": days}))
    if not any(e.final for e in state.evaluations) and (evaluation is None or not evaluation.final):
        out.append(t.Notice(f"end-of-term:{end.isoformat()}", t.office_time(end, place), "evaluation_opened",
                            {"final": True, "origin": "end_of_term"}))
    return out


def due_notices(state: m.AgreementState, now: datetime) -> list[t.Notice]:
    sent = set(state.notices_sent)
    pending = [n for n in notices(state) if n.key not in sent and n.at <= now]
    # Reminders that fell before the timeline started (an import, a late start) are moot.
    start = state.timeline_from
    pending = [n for n in pending if not (start and n.at < start and n.kind.endswith("_reminder"))]
    return sorted(pending, key=lambda n: (n.at, n.key))


def next_wakeup(state: m.AgreementState) -> datetime | None:
    """When the workflow's timer should next send a `tick` (None: nothing is scheduled)."""
    sent, start = set(state.notices_sent), state.timeline_from
    times = [n.at for n in notices(state) if n.key not in sent
             and not (start and n.at < start and n.kind.endswith("_reminder"))]
    return min(times, default=None)


def _tick(e: _Emitter, cmd: m.Tick) -> None:
    if not e.actor.has("system"):
        raise NotAllowed("Only the agreement's own timer sends ticks.")
    handled = 0
    while handled < 100:  # each notice changes the state; recompute what is due after each
        pending = due_notices(e.state, e.now)
        if not pending:
            break
        notice = pending[0]
        handled += 1
        if notice.kind == "evaluation_opened":
            e.emit("notice_due", notice=notice.key, kind=notice.kind)
            e.open_evaluation(final=notice.data["final"], origin=notice.data["origin"])
        else:
            e.emit(notice.kind, notice=notice.key, **notice.data)
    if not handled:
        raise NothingDue("Nothing is due yet.", next_wakeup=(w.isoformat() if (w := next_wakeup(e.state)) else None))


_HANDLERS: dict[str, Callable[[_Emitter, Any], None]] = {
    "edit": _edit, "submit": _submit, "withdraw": _withdraw, "comment": _comment,
    "decide": _decide, "submit_draft": _submit_draft, "accept_draft": _accept_draft,
    "sign": _sign, "terminate": _terminate, "start_evaluation": _start_evaluation,
    "submit_evaluation_report": _submit_evaluation_report, "conclude_evaluation": _conclude_evaluation,
    "propose_amendment": _propose_amendment, "renew": _renew, "extend_deadline": _extend_deadline,
    "tick": _tick,
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
            expiry_reminder_days=d.get("expiry_reminder_days", list(m.DEFAULT_EXPIRY_REMINDER_DAYS)),
            created_by=event.actor.sub, created_at=event.at, updated_at=event.at,
            request_fingerprint=d.get("fingerprint"), seq=event.seq, version=event.version,
        )
    assert state is not None and event.seq == state.seq + 1, "events apply in sequence"
    new = state.model_copy(deep=True)
    _APPLY[event.type](new, event)
    if "notice" in event.data:
        new.notices_sent.append(event.data["notice"])
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
    if e.data.get("change") is not None:
        assert s.change is not None
        s.change.step_index = e.data["index"]
    else:
        s.step_index, s.stage = e.data["index"], e.data["stage"]
    s.deadlines["step"] = datetime.fromisoformat(e.data["due_at"])
    key = e.data["step"]
    for slot in s.gates:
        if slot.step == key:
            slot.status, slot.decided_by, slot.comment, slot.at = "pending", None, None, None
    step = active_procedure(s).step(e.data["index"])
    if step.kind == "negotiation" and step.document is not None:
        # Re-entering a negotiation (changes requested) reopens acceptance of its document.
        latest = latest_draft(s, step.document)
        if latest is not None:
            latest.accepted_by = []


def _apply_step_completed(s: m.AgreementState, e: m.Event) -> None:
    s.deadlines.pop("step", None)


def _apply_gate_decided(s: m.AgreementState, e: m.Event) -> None:
    status = {"approve": "approved", "request_changes": "changes_requested",
              "reject": "rejected"}[e.data["outcome"]]
    for slot in s.gates:
        if slot.step == e.data["step"] and slot.org == e.data["org"] and slot.status == "pending":
            slot.status, slot.decided_by, slot.comment, slot.at = status, e.actor.sub, e.data["comment"], e.at


def _apply_returned(s: m.AgreementState, e: m.Event) -> None:
    # Gates after the step returned to wait again; decisions are kept in the audit trail.
    procedure = active_procedure(s)
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
    s.drafts.append(m.Draft(version=d["version"], scope=d["scope"], kind=d["kind"], document=d["document"],
                            note=d["note"], submitted_by=e.actor.sub, org=d["org"], at=e.at,
                            accepted_by=[d["org"]]))


def _apply_draft_accepted(s: m.AgreementState, e: m.Event) -> None:
    draft = next(d for d in s.drafts if d.version == e.data["version"])
    draft.accepted_by.append(e.data["org"])


def _apply_signed(s: m.AgreementState, e: m.Event) -> None:
    d = e.data
    s.signatures.append(m.Signature(org=d["org"], scope=d["scope"], version=d["version"], kind=d["kind"],
                                    document=d["document"], signed_by=d["signed_by"],
                                    method=d["method"], evidence=d["evidence"], at=e.at))


def _apply_implementation(s: m.AgreementState, e: m.Event) -> None:
    s.stage, s.step_index, s.deadlines = "implementation", None, {}
    s.effective_date = date.fromisoformat(e.data["effective_date"])
    s.end_date = date.fromisoformat(e.data["end_date"])
    s.next_evaluation_on = date.fromisoformat(e.data["next_evaluation_on"])
    s.timeline_from = e.at


def _apply_imported(s: m.AgreementState, e: m.Event) -> None:
    d = e.data
    _apply_implementation(s, e)
    s.imported = True
    s.drafts = [m.Draft(version=1, kind="pks", document=d["document"], note=f"Impor {d['ref']}",
                        submitted_by=e.actor.sub, org=initiator(s).org, at=e.at,
                        accepted_by=party_orgs(s))]
    signed_at = t.office_time(date.fromisoformat(d["signed_on"]), zone(s))
    s.signatures = [m.Signature(org=p.org, version=1, kind="pks", document=d["document"],
                                signed_by=p.signatory, method=d["method"],
                                evidence=d["document"] if d["method"] == "wet_ink" else None, at=signed_at)
                    for p in s.parties]


def _apply_termination_requested(s: m.AgreementState, e: m.Event) -> None:
    s.termination = m.Termination(reason=e.data["reason"], requested_by=e.actor.sub, at=e.at)
    s.gates = [g for g in s.gates if g.step != TERMINATION_STEP.key]
    for g in e.data["gates"]:
        s.gates.append(m.GateSlot.model_validate({**g, "status": "pending"}))
    s.deadlines["step"] = datetime.fromisoformat(e.data["due_at"])


def _close(stage: str) -> Callable[[m.AgreementState, m.Event], None]:
    def apply(s: m.AgreementState, e: m.Event) -> None:
        s.stage, s.deadlines = stage, {}
        s.closed_reason = e.data.get("reason") or e.data.get("comment")
        s.termination, s.change = None, None
        # A closed agreement awaits no one: slots still pending are no longer open.
        for slot in s.gates:
            if slot.status == "pending":
                slot.status = "waiting"
    return apply


def _apply_termination_declined(s: m.AgreementState, e: m.Event) -> None:
    s.termination = None
    s.deadlines.pop("step", None)
    if s.change is not None:  # a paused amendment or renewal resumes its step's clock
        s.deadlines["step"] = t.due_after(e.at, STEP_DEADLINE_DAYS[current_step(s).kind], zone(s))  # type: ignore[union-attr]


def _apply_change_opened(s: m.AgreementState, e: m.Event) -> None:
    d = e.data
    s.changes_opened = d["number"]
    s.change = m.ChangeProcess(kind=d["kind"], number=d["number"], procedure=d["procedure"], summary=d["summary"],
                               changes=d["changes"], origin=d["origin"], opened_at=e.at)
    keys = {g["step"] for g in d["gates"]}
    s.gates = [g for g in s.gates if g.step not in keys] + [m.GateSlot.model_validate(g) for g in d["gates"]]


def _apply_change_completed(s: m.AgreementState, e: m.Event) -> None:
    d = e.data
    s.amendments.append(m.Amendment(number=d["number"], kind=d["kind"], summary=d["summary"], changes=d["changes"],
                                    document=d["document"], version=d["version"], signed_at=e.at))
    changes = d["changes"]
    if "end_date" in changes:
        s.end_date = date.fromisoformat(changes["end_date"])
        for evaluation in s.evaluations:  # a renewed term has no final evaluation yet
            if evaluation.concluded_at is None and evaluation.final:
                evaluation.final = False
                # It stands in for the periodic evaluation due the day it opened.
                opened = t.local_day(evaluation.opened_at, zone(s))
                while s.next_evaluation_on is not None and s.next_evaluation_on <= opened:
                    s.next_evaluation_on = t.add_months(s.next_evaluation_on, s.evaluation_interval_months)
    if "indicators" in changes:
        s.indicators = [m.Indicator.model_validate(i) for i in changes["indicators"]]
    if "evaluation_interval_months" in changes:
        s.evaluation_interval_months = changes["evaluation_interval_months"]
    s.change = None
    s.deadlines.pop("step", None)


def _apply_change_rejected(s: m.AgreementState, e: m.Event) -> None:
    s.change = None
    s.deadlines.pop("step", None)
    for slot in s.gates:  # the other parties' slots at the refusing gate are no longer open
        if slot.status == "pending":
            slot.status = "waiting"


def _apply_evaluation_opened(s: m.AgreementState, e: m.Event) -> None:
    d = e.data
    s.evaluations_opened = d["number"]
    if d["final"]:  # the final evaluation supersedes any earlier one left unconcluded
        for earlier in s.evaluations:
            if earlier.concluded_at is None:
                earlier.concluded_at, earlier.concluded_by = e.at, e.actor.sub
                earlier.summary = "Digantikan oleh evaluasi akhir (superseded by the final evaluation)."
    s.evaluations.append(m.Evaluation(number=d["number"], final=d["final"], opened_at=e.at,
                                      opened_by=e.actor.sub, due_at=datetime.fromisoformat(d["due_at"])))
    if not d["final"] and d.get("next_evaluation_on"):
        s.next_evaluation_on = date.fromisoformat(d["next_evaluation_on"])
    s.deadlines["evaluation_report"] = datetime.fromisoformat(d["due_at"])


def _apply_report(s: m.AgreementState, e: m.Event) -> None:
    d = e.data
    evaluation = next(x for x in s.evaluations if x.number == d["evaluation"])
    evaluation.reports.append(m.EvaluationReport(org=d["org"], narrative=d["narrative"], results=d["results"],
                                                 submitted_by=e.actor.sub, at=e.at, late=d["late"]))


def _apply_concluded(s: m.AgreementState, e: m.Event) -> None:
    d = e.data
    evaluation = next(x for x in s.evaluations if x.number == d["evaluation"])
    evaluation.score, evaluation.recommendation, evaluation.summary = d["score"], d["recommendation"], d["summary"]
    evaluation.concluded_at, evaluation.concluded_by = e.at, e.actor.sub
    s.deadlines.pop("evaluation_report", None)


def _apply_escalated(s: m.AgreementState, e: m.Event) -> None:
    evaluation = next(x for x in s.evaluations if x.number == e.data["evaluation"])
    evaluation.escalated = True


def _apply_extended(s: m.AgreementState, e: m.Event) -> None:
    due = datetime.fromisoformat(e.data["due_at"])
    if e.data["deadline"] == "evaluation_report":
        evaluation = next(x for x in s.evaluations if x.number == e.data["evaluation"])
        evaluation.due_at = due
        evaluation.escalated = False  # the new due date has not lapsed: it escalates again
        s.deadlines["evaluation_report"] = due
    else:
        s.deadlines["step"] = due
    # Reminders that would fall before now, on the new date, are moot: do not send them late.
    s.timeline_from = max(s.timeline_from, e.at) if s.timeline_from else e.at


def _noop(s: m.AgreementState, e: m.Event) -> None:
    return None


def _apply_comment(s: m.AgreementState, e: m.Event) -> None:
    s.comments.append(m.CommentEntry(by=e.actor.sub, org=e.data["org"], text=e.data["text"], at=e.at))


_APPLY: dict[str, Callable[[m.AgreementState, m.Event], None]] = {
    "proposal_edited": _apply_edited,
    "agreement_submitted": _apply_submitted,
    "step_entered": _apply_step_entered,
    "step_skipped": _noop,
    "step_completed": _apply_step_completed,
    "gate_decided": _apply_gate_decided,
    "returned_for_changes": _apply_returned,
    "returned_to_draft": _apply_returned,
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
    out += [m.StartEvaluation(), m.ProposeAmendment(summary=filler), m.Renew(duration_months=12),
            m.ExtendDeadline(deadline="step", days=1, reason=filler),
            m.ExtendDeadline(deadline="evaluation_report", days=1, reason=filler)]
    for evaluation in state.evaluations:
        out.append(m.SubmitEvaluationReport(evaluation=evaluation.number, narrative=filler))
        out += [m.ConcludeEvaluation(evaluation=evaluation.number, score=50, recommendation=r)
                for r in ("continue", "expand", "stop")]
    return out


def allowed_actions(state: m.AgreementState, actor: m.Actor, now: datetime) -> list[str]:
    """The command types the caller may send now (never `tick`, which only time sends)."""
    allowed: set[str] = set()
    accepted_in_phase = TRANSITIONS[phase(state)] - {"tick"}
    for command in candidate_commands(state):
        if command.type in allowed or command.type not in accepted_in_phase:
            continue
        try:
            emitter = _Emitter(state, actor, now)
            _HANDLERS[command.type](emitter, command)
        except DomainError:
            continue
        allowed.add(command.type)
    return [t_ for t_ in m.COMMAND_TYPES if t_ in allowed]


def step_view(state: m.AgreementState) -> m.StepView | None:
    step = current_step(state)
    if step is None or state.stage in m.TERMINAL_STAGES:
        return None
    procedure = active_procedure(state)
    total = len(procedure.steps)
    index = active_index(state)
    if state.termination is not None or index is None:
        index = total
    return m.StepView(key=step.key, kind=step.kind, name=m.LocalizedName(id=step.name_id, en=step.name_en),
                      basis=step.basis, document=step.document, gate=step.gate, index=index, of=total)


def snapshot(state: m.AgreementState, actor: m.Actor, now: datetime) -> m.Snapshot:
    upcoming = None
    if (state.stage == "implementation" and state.next_evaluation_on is not None and open_evaluation(state) is None
            and (state.end_date is None or state.next_evaluation_on < state.end_date)):
        upcoming = t.office_time(state.next_evaluation_on, zone(state))
    return m.Snapshot.model_validate({
        **state.model_dump(), "step": step_view(state), "next_evaluation_at": upcoming,
        "allowed_actions": allowed_actions(state, actor, now),
    })
