"""Property-based tests of the decider: random command sequences from random actors, one
state machine per kind of agreement. No sequence reaches an impossible state, terminal
stages stay terminal, refusals change nothing, and `allowed_actions` tells the truth.

Moves are biased toward progress (the current step's natural command from the right actor)
so runs get deep into the lifecycle, mixed with random actors sending any representative
command (`lifecycle.candidate_commands`) and garbage (wrong versions, gates, documents,
stale `expected_version`).
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m

STAGES = set(m.Stage.__args__)  # type: ignore[attr-defined]
AGREEMENT_ID = "agr-prop"
EDITED_IN = ["x-academia", "x-gov"]   # organisations a random edit may bring in
DOCS = [b.doc(f"g{i}") for i in range(3)] + ["0" * 64, "1" * 64]
# 60 runs of 40 steps per kind keep this file around half a minute (the decider deep-copies
# the state on every event, ~0.2 ms, and allowed_actions runs every handler); raise it for a
# deeper search, e.g. PAKTA_PROPERTY_EXAMPLES=1000.
EXAMPLES = int(os.environ.get("PAKTA_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, stateful_step_count=40, deadline=None,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def actor_pool(orgs: list[str]) -> list[m.Actor]:
    """Everyone who might send a command: each party's people with various gates, an
    outsider with every gate, the ministry, admin, auditor and the system."""
    pool: list[m.Actor] = []
    for org in [*orgs, *EDITED_IN, b.OUTSIDER]:
        pool += [b.staff(org), b.partner(org), b.signatory(org), b.approver(org, *m.GATES),
                 m.Actor(sub=f"staff-signatory@{org}", org=org, roles=["staff", "signatory"])]
        pool += [b.approver(org, gate) for gate in m.GATES if gate != "ministry"]
    pool += [b.ministry_approver(), b.approver(b.MINISTRY, "review"), b.staff(b.MINISTRY),
             b.admin(), b.auditor(), m.SYSTEM]
    return pool


OUTCOMES = ("approve", "request_changes", "reject")
METHODS = ("electronic", "wet_ink")


def party_sets(lead: str, orgs: list[str]) -> list[list[m.Party]]:
    """Parties a random edit may propose: valid for some kinds, invalid for others."""
    return [
        [b.party(lead, "initiator"), b.party("x-academia", sector="academia")],
        [b.party(lead, "initiator"), b.party("x-gov", foreign=True)],
        [b.party(lead, "initiator"), b.party("x-gov")],
        [b.party(lead, "initiator", dprd=True), *[b.party(o) for o in orgs[1:]]],
        [b.party(orgs[-1], "initiator"), b.party(lead)],
    ]


def garbage(data: st.DataObject, state: m.AgreementState, orgs: list[str]) -> Any:
    """Any representative command, or one with random (mostly wrong) versions, gates,
    documents, comments or parties."""
    top = max((d.version for d in state.drafts), default=0) + 2
    pick = data.draw(st.integers(0, 7), label="garbage")
    if pick <= 1:
        return data.draw(st.sampled_from(L.candidate_commands(state)))
    if pick == 2:
        return m.SubmitDraft(document=data.draw(st.sampled_from(DOCS)))
    if pick == 3:
        return m.AcceptDraft(version=data.draw(st.integers(1, top)))
    if pick == 4:
        return m.Sign(version=data.draw(st.integers(1, top)), method=data.draw(st.sampled_from(METHODS)),
                      evidence=data.draw(st.sampled_from([None, DOCS[0]])))
    if pick == 5:
        return m.Decide(gate=data.draw(st.sampled_from(m.GATES)), outcome=data.draw(st.sampled_from(OUTCOMES)),
                        comment=data.draw(st.sampled_from([None, "Alasan"])))
    if pick == 6:
        return m.Edit(parties=data.draw(st.sampled_from(party_sets(orgs[0], orgs))))
    return m.Edit(title="Judul baru", duration_months=data.draw(st.integers(1, 120)))


class LifecycleMachine(RuleBasedStateMachine):
    kind: str = "ksdd"

    def __init__(self) -> None:
        super().__init__()
        self.state: m.AgreementState | None = None
        self.log: list[m.Event] = []
        self.accepted = 0
        self.now = b.NOW
        self.pool: list[m.Actor] = []
        self.checked: int | None = None
        self.position: tuple[Any, ...] | None = None

    # ---------------------------------------------------------------- setup

    def proposal(self, data: st.DataObject) -> m.Proposal:
        return b.proposal_for(self.kind, data.draw(st.booleans(), label="dprd"))

    @initialize(data=st.data())
    def create(self, data: st.DataObject) -> None:
        prop = self.proposal(data)
        events = L.create(prop, b.staff(), self.now, AGREEMENT_ID)
        self.log = list(events)
        self.accepted = 1
        self.state = b.replay(events)
        self.orgs = L.party_orgs(self.state)
        self.pool = actor_pool(self.orgs)
        event(f"{self.kind}: dprd for {sorted(p.org for p in prop.parties if p.requires_dprd_approval)}")

    # ---------------------------------------------------------------- moves

    def guided(self, data: st.DataObject) -> tuple[m.Actor, Any]:
        """The current step's natural command, from someone entitled to send it."""
        state = self.state
        assert state is not None
        lead = L.initiator(state).org
        current = L.phase(state)
        if current == "draft":
            return data.draw(st.sampled_from([(b.staff(lead), m.Submit())] * 4 + [
                (b.staff(lead), m.Edit(title="Judul yang diperbarui"))]))
        if current == "negotiation":
            step = L.current_step(state)
            latest = L.latest_draft(state, step.document)
            orgs = L.party_orgs(state)
            waiting = [o for o in orgs if latest is not None and o not in latest.accepted_by]
            if waiting and data.draw(st.integers(0, 9), label="accept?"):
                org = data.draw(st.sampled_from(waiting))
                return data.draw(st.sampled_from([b.staff(org), b.partner(org)])), m.AcceptDraft(
                    version=latest.version)
            org = data.draw(st.sampled_from(orgs))
            actor = data.draw(st.sampled_from([b.staff(org), b.partner(org)]))
            return actor, m.SubmitDraft(document=data.draw(st.sampled_from(DOCS)))
        if current in ("gate", "termination"):
            slots = L.open_slots(state)
            if not slots:
                return b.staff(lead), m.Comment(text="?")
            slot = data.draw(st.sampled_from(slots))
            actor = b.gate_actor(slot) if slot.org else data.draw(st.sampled_from(
                [b.ministry_approver(), b.approver(b.OUTSIDER, *m.GATES)]))
            outcome = data.draw(st.sampled_from(["approve"] * 10 + ["request_changes"] * 2 + ["reject"]))
            return actor, m.Decide(gate=slot.gate, outcome=outcome,
                                   comment=None if outcome == "approve" else "Perlu perbaikan")
        if current == "signing":
            agreed = L.agreed_draft(state, L.current_step(state).document)
            signed = {s.org for s in state.signatures if agreed and s.version == agreed.version}
            org = data.draw(st.sampled_from([o for o in L.party_orgs(state) if o not in signed]
                                            or L.party_orgs(state)))
            method = data.draw(st.sampled_from(["electronic", "wet_ink"]))
            evidence = b.doc("scan") if method == "wet_ink" and data.draw(st.integers(0, 9)) else None
            return b.signatory(org), m.Sign(version=agreed.version if agreed else 1, method=method,
                                            evidence=evidence)
        if current == "implementation":
            return b.staff(lead), data.draw(st.sampled_from([
                m.Terminate(reason="Tidak bermanfaat"), m.Comment(text="Laporan")]))
        return data.draw(st.sampled_from(self.pool)), m.Comment(text="?")

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        before = self.state
        assert before is not None
        if data.draw(st.integers(0, 3), label="guided?"):
            actor, command = self.guided(data)
        else:
            actor = data.draw(st.sampled_from(self.pool), label="actor")
            command = garbage(data, before, self.orgs)
        expected = data.draw(st.sampled_from([None] * 14 + [before.version] * 3 + [
            before.version - 1, before.version + 1]), label="expected")
        self.now += timedelta(days=data.draw(st.integers(0, 30), label="days"))
        dump = before.model_dump()
        check = data.draw(st.integers(0, 5), label="check offer?") == 0
        if check:
            self.check_offered(before, actor, L.allowed_actions(before, actor, self.now))
        try:
            events = L.decide(before, command, actor, self.now, expected)
        except L.DomainError as error:
            # a refusal changes nothing and says where the agreement stands
            assert before.model_dump() == dump
            assert error.details["stage"] == before.stage
            assert isinstance(error.details["allowed_actions"], list)
            if check:
                assert error.details["allowed_actions"] == L.allowed_actions(before, actor, self.now)
            assert error.status in (403, 409, 412, 422)
            if expected is not None and expected != before.version:
                assert isinstance(error, L.StaleVersion)
            elif before.stage in m.TERMINAL_STAGES:
                assert isinstance(error, L.InvalidTransition)
            if command.type not in L.TRANSITIONS[L.phase(before)] and not isinstance(error, L.StaleVersion):
                assert isinstance(error, L.InvalidTransition)
            event(f"refused {command.type}: {error.code}")
            return
        # accepted: it was offered, and it moved the agreement by one version
        assert before.model_dump() == dump, "decide must not touch the state it is given"
        assert before.stage not in m.TERMINAL_STAGES, "a terminal stage accepted a command"
        assert expected in (None, before.version)
        offered = L.allowed_actions(before, actor, self.now)
        assert command.type in offered, f"{command.type} accepted but allowed_actions said {offered}"
        assert events, "an accepted command yields events"
        assert [e.seq for e in events] == list(range(before.seq + 1, before.seq + 1 + len(events)))
        assert {e.version for e in events} == {before.version + 1}
        assert all(e.at == self.now and e.actor == actor and e.agreement_id == AGREEMENT_ID for e in events)
        assert [e.id for e in events] == [str(uuid.uuid5(L.EVENT_NAMESPACE, f"{AGREEMENT_ID}/{e.seq}"))
                                          for e in events]
        self.state = b.replay(events, before)
        self.log += events
        self.accepted += 1
        assert self.state.version == before.version + 1 and self.state.updated_at == self.now
        if self.state.step_index != before.step_index or self.state.stage != before.stage:
            snap = L.snapshot(self.state, actor, self.now)   # on every move to another step
            assert (snap.stage, snap.version) == (self.state.stage, self.state.version)
            m.Snapshot.model_validate(snap.model_dump(mode="json"))
        event(f"{self.kind}: reached {self.state.stage}")
        event(f"accepted {command.type}" + (f" {command.outcome} at {events[0].data['step']}"
                                            if command.type == "decide" else ""))

    def check_offered(self, state: m.AgreementState, actor: m.Actor, offered: list[str]) -> None:
        """Every command type offered to an actor is accepted for some candidate of it."""
        candidates = L.candidate_commands(state)
        for type_ in offered:
            ok = False
            for command in (c for c in candidates if c.type == type_):
                try:
                    L.decide(state, command, actor, self.now, state.version)
                    ok = True
                    break
                except L.DomainError:
                    continue
            assert ok, f"{type_} offered to {actor.sub} but every candidate is refused"
        if state.stage in m.TERMINAL_STAGES:
            assert offered == []

    # ---------------------------------------------------------------- invariants

    @invariant()
    def invariants(self) -> None:
        """The state after every accepted command (a refusal leaves it as it was)."""
        if self.state is None or self.checked == self.state.seq:
            return
        self.checked = self.state.seq
        self.consistent()
        self.gates_pending_only_in_the_current_gate_step()
        self.drafts_and_signatures()
        self.someone_can_move_it_on()
        self.visibility()

    def consistent(self) -> None:
        state = self.state
        assert state is not None
        assert state.stage in STAGES
        assert state.version == self.accepted
        assert state.seq == len(self.log) and [e.seq for e in self.log] == list(range(1, len(self.log) + 1))
        procedure = L.procedure_of(state)
        current = L.phase(state)
        if state.stage == "draft":
            assert state.step_index is None and state.termination is None
        elif state.stage == "implementation":
            assert state.step_index is None
            assert state.effective_date is not None and state.end_date is not None
            assert state.end_date > state.effective_date >= state.start_date
        elif state.stage not in m.TERMINAL_STAGES:
            assert state.step_index is not None and state.termination is None
            assert state.stage == L.stage_for(procedure.step(state.step_index))
        if state.termination is not None:
            assert state.stage == "implementation" and current == "termination"
        if state.stage in m.TERMINAL_STAGES:
            assert current == "closed" and state.deadlines == {} and state.closed_reason
            assert L.step_view(state) is None and L.open_slots(state) == []
        else:
            assert L.step_view(state) is not None or state.stage in ("draft", "implementation")

    def gates_pending_only_in_the_current_gate_step(self) -> None:
        state = self.state
        if state is None:
            return
        step = L.current_step(state)
        pending = [g for g in state.gates if g.status == "pending"]
        if L.phase(state) in ("gate", "termination"):
            assert step is not None and step.kind == "gate"
            assert pending and all(g.step == step.key for g in pending), pending
            assert L.open_slots(state) == pending
        else:
            assert pending == [], f"pending slots outside a gate step: {pending}"
        keys = {s.key for s in L.procedure_of(state).steps} | {"pengakhiran"}
        assert all(g.step in keys for g in state.gates)
        for g in state.gates:
            decided = g.status in ("approved", "changes_requested", "rejected")
            assert decided == (g.decided_by is not None), g
        if state.stage != "draft":   # (back in draft, an edit may drop a party; submit recomputes)
            orgs = set(L.party_orgs(state))
            assert all(g.org is None or g.org in orgs for g in state.gates)

    def drafts_and_signatures(self) -> None:
        state = self.state
        if state is None:
            return
        orgs = set(L.party_orgs(state))
        versions = [d.version for d in state.drafts]
        assert versions == sorted(set(versions))
        for d in state.drafts:
            assert len(set(d.accepted_by)) == len(d.accepted_by) and set(d.accepted_by) <= orgs
        seen = set()
        for s in state.signatures:
            assert s.org in orgs and (s.org, s.version) not in seen
            seen.add((s.org, s.version))
            draft = next(d for d in state.drafts if d.version == s.version)
            assert (draft.kind, draft.document) == (s.kind, s.document)
            assert s.method == "electronic" or s.evidence
        if state.stage == "implementation" or state.termination is not None or state.stage == "terminated":
            final = L.agreed_draft(state, "pks")
            assert final is not None, "in implementation without an agreed final text"
            assert {s.org for s in state.signatures if s.version == final.version} == orgs

    def someone_can_move_it_on(self) -> None:
        """Liveness: outside terminal stages, someone can take the agreement a step further.
        (Checked whenever the agreement enters a step: that is where it could get stuck.)"""
        state = self.state
        if state is None or state.stage in m.TERMINAL_STAGES:
            return
        position = (state.stage, state.step_index, state.termination is not None)
        if position == self.position:
            return
        self.position = position
        current = L.phase(state)
        if current == "implementation":
            assert "terminate" in L.allowed_actions(state, b.staff(L.initiator(state).org), self.now)
            return
        moved, _ = b.happy_step(state, self.now, label="liveness")
        assert moved.version > state.version, f"stuck in {state.stage}/{b.step_key(state)}"

    def visibility(self) -> None:
        state = self.state
        if state is None:
            return
        for org in L.party_orgs(state):
            assert L.can_see(state, b.partner(org))
        assert not L.can_see(state, b.staff(b.OUTSIDER))
        assert L.can_see(state, b.auditor()) and L.can_see(state, b.admin())
        ministry = any(g.gate == "ministry" and g.status != "waiting" for g in state.gates)
        assert L.can_see(state, b.ministry_approver()) == ministry
        if self.kind in ("ksdd", "ksdpk"):
            assert not ministry

    def teardown(self) -> None:
        if self.state is not None:
            # the log alone rebuilds the state, and every snapshot of it is valid
            assert b.replay(self.log) == self.state
            for actor in (b.staff(L.initiator(self.state).org), b.auditor()):
                snap = L.snapshot(self.state, actor, self.now)
                m.Snapshot.model_validate(snap.model_dump(mode="json"))


class KsddMachine(LifecycleMachine):
    kind = "ksdd"

    def proposal(self, data: st.DataObject) -> m.Proposal:
        counterparties = data.draw(st.sampled_from([(b.REGION,), (b.REGION, "jatim")]), label="regions")
        orgs = [b.INITIATOR, *counterparties]
        dprd = data.draw(st.sets(st.sampled_from(orgs)), label="dprd")
        return b.ksdd_proposal(dprd, counterparties=counterparties)


class KsdpkMachine(LifecycleMachine):
    kind = "ksdpk"


class KsdplMachine(LifecycleMachine):
    kind = "ksdpl"


class KsdllMachine(LifecycleMachine):
    kind = "ksdll"


TestKsdd = KsddMachine.TestCase
TestKsdpk = KsdpkMachine.TestCase
TestKsdpl = KsdplMachine.TestCase
TestKsdll = KsdllMachine.TestCase
TestKsdd.settings = TestKsdpk.settings = TestKsdpl.settings = TestKsdll.settings = SETTINGS
