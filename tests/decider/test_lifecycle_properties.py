"""Property-based tests of the decider: random command sequences from random actors, one
state machine per kind of agreement. No sequence reaches an impossible state, terminal
stages stay terminal, refusals change nothing, and `allowed_actions` tells the truth.

Moves are biased toward progress (the current step's natural command from the right actor)
so runs get deep into the lifecycle, mixed with random actors sending any representative
command (`lifecycle.candidate_commands`) and garbage (wrong versions, gates, documents,
stale `expected_version`). In implementation the natural moves are evaluations (open,
report, conclude with any recommendation), amendments and renewals (which then run their
own negotiation, gates and signing) and deadline extensions; and time passes: a rule jumps
to `next_wakeup` and ticks as the system, so runs reach reminders, escalations, the final
evaluation and expiry.
"""

from __future__ import annotations

import os
import uuid
import warnings
from datetime import date, timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m
from workflows.procedures import CHANGE_PROCEDURES

STAGES = set(m.Stage.__args__)  # type: ignore[attr-defined]
AGREEMENT_ID = "agr-prop"
EDITED_IN = ["x-academia", "x-gov"]  # organisations a random edit may bring in
DOCS = [b.doc(f"g{i}") for i in range(3)] + ["0" * 64, "1" * 64]
# 60 runs of 40 steps per kind keep this file around half a minute (every replayed event
# also checks that the state it was applied to stayed as it was); raise it for a deeper
# search, e.g. PAKTA_PROPERTY_EXAMPLES=1000.
EXAMPLES = int(os.environ.get("PAKTA_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def actor_pool(orgs: list[str]) -> list[m.Actor]:
    """Everyone who might send a command: each party's people with various gates, an
    outsider with every gate, the ministry, admin, auditor and the system."""
    pool: list[m.Actor] = []
    for org in [*orgs, *EDITED_IN, b.OUTSIDER]:
        pool += [
            b.staff(org),
            b.partner(org),
            b.signatory(org),
            b.approver(org, *m.GATES),
            m.Actor(sub=f"staff-signatory@{org}", org=org, roles=["staff", "signatory"]),
        ]
        pool += [b.approver(org, gate) for gate in m.GATES if gate != "ministry"]
        pool.append(scheduler(org))
    pool += [
        b.ministry_approver(),
        b.approver(b.MINISTRY, "review"),
        b.staff(b.MINISTRY),
        b.admin(),
        b.admin(b.INITIATOR),
        b.operator(),
        b.auditor(),
        m.SYSTEM,
    ]
    return pool


def scheduler(org: str) -> m.Actor:
    return m.Actor(sub=f"cron@{org}", org=org, roles=["scheduler"])


OUTCOMES = ("approve", "request_changes", "reject")
RECOMMENDATIONS = ("continue", "expand", "stop")
CHANGE_STEP_KEYS = {s.key for p in CHANGE_PROCEDURES.values() for s in p.steps}
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
    pick = data.draw(st.integers(0, 9), label="garbage")
    if pick <= 1:
        return data.draw(st.sampled_from(L.candidate_commands(state)))
    if pick == 2:
        return m.SubmitDraft(document=data.draw(st.sampled_from(DOCS)))
    if pick == 3:
        return m.AcceptDraft(version=data.draw(st.integers(1, top)))
    if pick == 4:
        return m.Sign(
            version=data.draw(st.integers(1, top)),
            method=data.draw(st.sampled_from(METHODS)),
            evidence=data.draw(st.sampled_from([None, DOCS[0]])),
        )
    if pick == 5:
        return m.Decide(
            gate=data.draw(st.sampled_from(m.GATES)),
            outcome=data.draw(st.sampled_from(OUTCOMES)),
            comment=data.draw(st.sampled_from([None, "Alasan"])),
        )
    if pick == 6:
        return m.Edit(parties=data.draw(st.sampled_from(party_sets(orgs[0], orgs))))
    if pick == 8:
        return m.Tick()
    if pick == 9:
        return data.draw(
            st.sampled_from(
                [
                    m.SubmitEvaluationReport(
                        evaluation=data.draw(st.integers(1, state.evaluations_opened + 2)),
                        narrative="x",
                        results=[m.IndicatorResult(indicator="Tidak ada", achieved=1)],
                    ),
                    m.ConcludeEvaluation(
                        evaluation=data.draw(st.integers(1, state.evaluations_opened + 2)),
                        score=1,
                        recommendation=data.draw(st.sampled_from(RECOMMENDATIONS)),
                    ),
                    m.ExtendDeadline(
                        deadline=data.draw(st.sampled_from(["step", "evaluation_report"])), days=3, reason="x"
                    ),
                    m.ProposeAmendment(summary="x", end_date=date(2027, 1, 1)),
                ]
            )
        )
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
        if data.draw(st.booleans(), label="start in force?"):
            # half the runs start signed, so that the life after signing gets the steps
            while self.state.stage != "implementation":
                self.state, events = b.happy_step(self.state, self.now)
                self.log += events
            self.accepted = self.state.version  # (a happy step may be several commands)
        event(f"{self.kind}: dprd for {sorted(p.org for p in prop.parties if p.requires_dprd_approval)}")

    # ---------------------------------------------------------------- moves

    def guided(self, data: st.DataObject) -> tuple[m.Actor, Any]:
        """The current step's natural command, from someone entitled to send it."""
        state = self.state
        assert state is not None
        lead = L.initiator(state).org
        current = L.phase(state)
        if current == "implementation" or (
            (current.startswith("change_") or current == "termination")
            and data.draw(st.integers(0, 2), label="evaluation meanwhile?") == 0
        ):
            return self.in_force(data)
        current = current.removeprefix("change_")  # an amendment or renewal runs the same steps
        if current == "draft":
            return data.draw(
                st.sampled_from(
                    [(b.staff(lead), m.Submit())] * 4 + [(b.staff(lead), m.Edit(title="Judul yang diperbarui"))]
                )
            )
        if current == "negotiation":
            step = L.current_step(state)
            latest = L.latest_draft(state, step.document)
            orgs = L.party_orgs(state)
            waiting = [o for o in orgs if latest is not None and o not in latest.accepted_by]
            if waiting and data.draw(st.integers(0, 9), label="accept?"):
                org = data.draw(st.sampled_from(waiting))
                return data.draw(st.sampled_from([b.staff(org), b.partner(org)])), m.AcceptDraft(version=latest.version)
            org = data.draw(st.sampled_from(orgs))
            actor = data.draw(st.sampled_from([b.staff(org), b.partner(org)]))
            return actor, m.SubmitDraft(document=data.draw(st.sampled_from(DOCS)))
        if current in ("gate", "termination"):
            slots = L.open_slots(state)
            if not slots:
                return b.staff(lead), m.Comment(text="?")
            slot = data.draw(st.sampled_from(slots))
            actor = (
                b.gate_actor(slot)
                if slot.org
                else data.draw(st.sampled_from([b.ministry_approver(), b.approver(b.OUTSIDER, *m.GATES)]))
            )
            outcome = data.draw(st.sampled_from(["approve"] * 10 + ["request_changes"] * 2 + ["reject"]))
            return actor, m.Decide(
                gate=slot.gate, outcome=outcome, comment=None if outcome == "approve" else "Perlu perbaikan"
            )
        if current == "signing":
            agreed = L.agreed_draft(state, L.current_step(state).document)
            signed = {s.org for s in state.signatures if agreed and s.version == agreed.version}
            org = data.draw(st.sampled_from([o for o in L.party_orgs(state) if o not in signed] or L.party_orgs(state)))
            method = data.draw(st.sampled_from(["electronic", "wet_ink"]))
            evidence = b.doc("scan") if method == "wet_ink" and data.draw(st.integers(0, 9)) else None
            return b.signatory(org), m.Sign(version=agreed.version if agreed else 1, method=method, evidence=evidence)
        return data.draw(st.sampled_from(self.pool)), m.Comment(text="?")

    def in_force(self, data: st.DataObject) -> tuple[m.Actor, Any]:
        """Life after signing: evaluations, amendments, renewals, extensions, termination."""
        state = self.state
        assert state is not None and state.effective_date is not None
        lead = L.initiator(state).org
        evaluation = L.open_evaluation(state)
        if evaluation is not None and data.draw(st.integers(0, 3), label="evaluation move?"):
            missing = [o for o in L.party_orgs(state) if not any(r.org == o for r in evaluation.reports)]
            if missing and data.draw(st.integers(0, 2), label="report?"):
                org = data.draw(st.sampled_from(missing))
                names = [i.name for i in state.indicators] + ["Bukan indikator"]
                results = [
                    m.IndicatorResult(indicator=name, achieved=data.draw(st.integers(0, 200)))
                    for name in data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
                ]
                return (
                    data.draw(st.sampled_from([b.staff(org), b.partner(org)])),
                    m.SubmitEvaluationReport(evaluation=evaluation.number, narrative="Laporan", results=results),
                )
            if data.draw(st.integers(0, 5), label="extend report?") == 0:
                return b.staff(lead), m.ExtendDeadline(
                    deadline="evaluation_report", reason="Libur", days=data.draw(st.integers(1, 60))
                )
            recommendation = data.draw(st.sampled_from(["continue"] * 4 + ["expand"] * 2 + ["stop"]))
            return b.staff(lead), m.ConcludeEvaluation(
                evaluation=evaluation.number, recommendation=recommendation, score=data.draw(st.integers(0, 100))
            )
        pick = data.draw(st.integers(0, 9), label="in force")
        if pick <= 2:
            return data.draw(st.sampled_from([b.staff(lead), scheduler(lead)])), m.StartEvaluation()
        if pick <= 4:
            end = state.effective_date + timedelta(days=data.draw(st.integers(-30, 3000), label="end"))
            terms = data.draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "end_date": st.just(end),
                        "evaluation_interval_months": st.integers(1, 12),
                        "indicators": st.sampled_from(
                            [[], [m.Indicator(name="Desa terlayani", target=50, unit="desa")]]
                        ),
                    },
                ),
                label="terms",
            )
            return b.staff(lead), m.ProposeAmendment(summary="Adendum", **terms)
        if pick <= 6:
            return b.staff(lead), m.Renew(duration_months=data.draw(st.integers(1, 60)))
        if pick == 7:
            return b.staff(lead), m.ExtendDeadline(deadline="step", days=data.draw(st.integers(1, 30)), reason="x")
        if pick == 8:
            return b.staff(lead), m.Terminate(reason="Tidak bermanfaat")
        return b.staff(lead), m.Comment(text="Laporan")

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        before = self.state
        assert before is not None
        if data.draw(st.integers(0, 3), label="guided?"):
            actor, command = self.guided(data)
        else:
            actor = data.draw(st.sampled_from(self.pool), label="actor")
            command = garbage(data, before, self.orgs)
        expected = data.draw(
            st.sampled_from([None] * 14 + [before.version] * 3 + [before.version - 1, before.version + 1]),
            label="expected",
        )
        self.now += timedelta(days=data.draw(st.integers(0, 30), label="days"))
        dump = before.model_dump()
        check = data.draw(st.integers(0, 5), label="check offer?") == 0
        if check:
            self.check_offered(before, actor, L.allowed_actions(before, actor, self.now))
        try:
            decision = L.decided(before, command, actor, self.now, expected)
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
            if command.type == "tick" and actor.has("system") and not isinstance(error, L.StaleVersion):
                wake = L.next_wakeup(before)
                assert wake is None or wake > self.now, f"a tick at {self.now} refused though {wake} was due"
            event(f"refused {command.type}: {error.code}")
            return
        # accepted: it was offered, and it moved the agreement by one version
        assert before.model_dump() == dump, "decide must not touch the state it is given"
        assert expected in (None, before.version)
        offered = L.allowed_actions(before, actor, self.now)
        if command.type == "tick":
            assert actor.has("system") and "tick" not in offered
        else:
            assert command.type in offered, f"{command.type} accepted but allowed_actions said {offered}"
        self.accept(before, actor, command, decision)

    def accept(self, before: m.AgreementState, actor: m.Actor, command: Any, decision: L.Decision) -> None:
        """Checks every accepted command passes, then the move."""
        events = decision.events
        assert before.stage not in m.TERMINAL_STAGES, "a terminal stage accepted a command"
        assert events, "an accepted command yields events"
        assert [e.seq for e in events] == list(range(before.seq + 1, before.seq + 1 + len(events)))
        assert {e.version for e in events} == {before.version + 1}
        assert all(e.at == self.now and e.actor == actor and e.agreement_id == AGREEMENT_ID for e in events)
        assert [e.id for e in events] == [str(uuid.uuid5(L.EVENT_NAMESPACE, f"{AGREEMENT_ID}/{e.seq}")) for e in events]
        self.state = b.replay(events, before)
        # The workflow records the decider's own state after the events: it is theirs, applied in turn.
        assert decision.state == self.state
        self.log += events
        self.accepted += 1
        assert self.state.version == before.version + 1 and self.state.updated_at == self.now
        if command.type == "tick":
            # everything due now was handled: the next wake-up is later (or there is none)
            assert all(e.actor == m.SYSTEM for e in events)
            after = L.next_wakeup(self.state)
            assert after is None or after > self.now, f"next_wakeup {after} not after a tick at {self.now}"
            assert L.due_notices(self.state, self.now) == []
        if (self.state.step_index, self.state.stage, L.active_index(self.state)) != (
            before.step_index,
            before.stage,
            L.active_index(before),
        ):
            snap = L.snapshot(self.state, actor, self.now)  # on every move to another step
            assert (snap.stage, snap.version) == (self.state.stage, self.state.version)
            _assert_a_valid_snapshot(snap)
        event(f"{self.kind}: reached {self.state.stage}")
        for e in events:
            if e.type in ("change_completed", "change_rejected", "evaluation_escalated", "deadline_extended"):
                event(f"{self.kind}: {e.type}" + (f" ({e.data['kind']})" if "kind" in e.data else ""))
        event(
            f"accepted {command.type}"
            + (f" {command.outcome} at {events[0].data['step']}" if command.type == "decide" else "")
        )

    @rule(data=st.data())
    def a_party_stays_silent(self, data: st.DataObject) -> None:
        """Issue #10: a party never answers again. Someone else with the power to can still
        close the agreement or move it on (withdraw it, withdraw an open change, ask to
        terminate it) — or, when only the silent party could act, time still runs: its
        deadlines escalate and its term ends. The move is made, by someone not silent."""
        before = self.state
        assert before is not None
        if before.stage in m.TERMINAL_STAGES:
            return
        silent = data.draw(st.sampled_from(self.orgs), label="silent party")
        closing = {
            "withdraw": m.Withdraw(reason="Mitra tidak menanggapi"),
            "withdraw_change": m.WithdrawChange(reason="Mitra tidak menanggapi"),
            "terminate": m.Terminate(reason="Mitra tidak menanggapi"),
        }
        movers = [
            (a, type_)
            for a in self.pool
            if a.org != silent and not a.has("system")
            for type_ in L.allowed_actions(before, a, self.now)
            if type_ in closing
        ]
        if not movers:
            lead = L.initiator(before).org
            # only the initiator's own draft, or an agreement whose every other party is
            # silent too, waits on it; even then time does not stop once it is submitted
            assert silent == lead or L.phase(before) == "termination", (
                f"{silent} silent freezes {before.stage}/{b.step_key(before)}"
            )
            if before.stage != "draft" and L.next_wakeup(before) is None:
                # A step's deadline escalates once, at the deadline (docs/lifecycle.md): with
                # nothing left to schedule, time has already run — the escalation went out.
                sent = set(before.notices_sent)
                escalations = [n for n in L.notices(before) if n.kind == "deadline_escalated"]
                assert escalations and all(n.key in sent for n in escalations), (
                    f"{silent} silent and time stopped in {before.stage}/{b.step_key(before)} without an escalation"
                )
            event(f"{self.kind}: silent {'initiator' if silent == lead else 'party'} in {L.phase(before)}: time only")
            return
        actor, type_ = data.draw(st.sampled_from(movers), label="mover")
        self.accept(before, actor, closing[type_], L.decided(before, closing[type_], actor, self.now))
        event(f"{self.kind}: silent party, {type_} by another")

    @rule(days=st.integers(0, 3))
    def time_passes(self, days: int) -> None:
        """The workflow's timer: at `next_wakeup` (or now, when that is past) the system ticks,
        and the tick is never refused; with nothing scheduled a tick is."""
        before = self.state
        assert before is not None
        wake = L.next_wakeup(before)
        if wake is None:
            if days == 0:  # nothing will happen: a tick now is refused, changing nothing
                dump = before.model_dump()
                try:
                    L.decide(before, m.Tick(), m.SYSTEM, self.now + timedelta(days=400))
                    raise AssertionError("a tick with nothing scheduled was accepted")
                except L.DomainError as error:
                    assert isinstance(error, L.InvalidTransition)
                    assert before.model_dump() == dump
            return
        # sometimes a little past the wake-up, as a busy worker would
        self.now = max(self.now, wake + timedelta(hours=days * days))
        assert L.due_notices(before, self.now), "next_wakeup has come but nothing is due"
        decision = L.decided(before, m.Tick(), m.SYSTEM, self.now)
        events = decision.events
        self.accept(before, m.SYSTEM, m.Tick(), decision)
        event(f"{self.kind}: tick -> {sorted({e.type for e in events})}")

    def check_offered(self, state: m.AgreementState, actor: m.Actor, offered: list[str]) -> None:
        """The offer is exactly what `decide` itself accepts, asked of every candidate
        command: nothing offered is refused, nothing accepted is left out. (A command too
        large to record is refused only after its events are made: `allowed_actions` does
        not foresee that, so it counts as accepted here.)"""
        accepted: set[str] = set()
        for command in L.candidate_commands(state):
            if command.type in accepted:
                continue
            try:
                L.decide(state, command, actor, self.now, state.version)
            except L.DomainError as error:
                if error.code != "agreement_too_large":
                    continue
            accepted.add(command.type)
        assert offered == [t for t in m.COMMAND_TYPES if t in accepted], f"offered {offered} to {actor.sub}"
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
        self.time()

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
        if state.change is not None:
            assert state.stage == "implementation", "a change process outside implementation"
            assert current in ("termination", "change_gate", "change_negotiation", "change_signing")
            assert state.change.number == state.changes_opened
        if state.stage in m.TERMINAL_STAGES:
            assert current == "closed" and state.deadlines == {}
            assert state.closed_reason or state.stage == "expired"  # (the term ran out: no reason given)
            assert L.step_view(state) is None and L.open_slots(state) == []
        else:
            assert L.step_view(state) is not None or state.stage in ("draft", "implementation")

    def gates_pending_only_in_the_current_gate_step(self) -> None:
        state = self.state
        if state is None:
            return
        step = L.current_step(state)
        pending = [g for g in state.gates if g.status == "pending"]
        if L.phase(state) == "termination" and state.change is not None:
            # an amendment or renewal paused at its gate keeps its slots pending for later
            paused = L.active_procedure(state).step(state.change.step_index).key
            assert all(g.step in (step.key, paused) for g in pending), pending
            assert L.open_slots(state) == [g for g in pending if g.step == step.key] != []
        elif L.phase(state) in ("gate", "change_gate", "termination"):
            assert step is not None and step.kind == "gate"
            assert pending and all(g.step == step.key for g in pending), pending
            assert L.open_slots(state) == pending
        else:
            assert pending == [], f"pending slots outside a gate step: {pending}"
        keys = {s.key for s in L.procedure_of(state).steps} | CHANGE_STEP_KEYS | {"pengakhiran"}
        assert all(g.step in keys for g in state.gates)
        for g in state.gates:
            decided = g.status in ("approved", "changes_requested", "rejected")
            assert decided == (g.decided_by is not None), g
        if state.stage != "draft":  # (back in draft, an edit may drop a party; submit recomputes)
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
        if state.stage == "implementation" or state.termination is not None or state.stage in ("terminated", "expired"):
            own = [d for d in state.drafts if d.kind == "pks" and d.scope == ""]
            assert own and set(own[-1].accepted_by) == orgs, "in implementation without an agreed final text"
            assert {s.org for s in state.signatures if s.version == own[-1].version} == orgs
        for d in state.drafts:  # drafts of an amendment or renewal belong to it
            assert d.scope == "" or d.scope.split("-")[0] in ("amendment", "renewal")
        for amendment in state.amendments:
            draft = next(d for d in state.drafts if d.version == amendment.version)
            assert draft.scope == f"{amendment.kind}-{amendment.number}" and draft.document == amendment.document
            assert {s.org for s in state.signatures if s.version == amendment.version} == orgs

    def someone_can_move_it_on(self) -> None:
        """Liveness: outside terminal stages, someone can take the agreement a step further.
        (Checked whenever the agreement enters a step: that is where it could get stuck.)"""
        state = self.state
        if state is None or state.stage in m.TERMINAL_STAGES:
            return
        position = (state.stage, state.step_index, state.termination is not None, L.active_index(state))
        if position == self.position:
            return
        self.position = position
        current = L.phase(state)
        if current == "implementation":
            assert "terminate" in L.allowed_actions(state, b.staff(L.initiator(state).org), self.now)
            return
        moved, _ = b.happy_step(state, self.now, label="liveness")
        assert moved.version > state.version, f"stuck in {state.stage}/{b.step_key(state)}"

    def time(self) -> None:
        """At most one evaluation open, notices sent once, and no notices once closed."""
        state = self.state
        if state is None:
            return
        assert [e.number for e in state.evaluations] == list(range(1, state.evaluations_opened + 1))
        assert len(state.notices_sent) == len(set(state.notices_sent)), "a notice went out twice"
        assert len([e for e in state.evaluations if e.final]) <= 1
        if state.stage in m.TERMINAL_STAGES or state.stage == "draft":
            assert L.notices(state) == [] and L.next_wakeup(state) is None
        if state.stage != "implementation":
            assert state.change is None and state.termination is None
        open_ = L.open_evaluation(state)
        if state.stage in m.TERMINAL_STAGES:
            pass  # an evaluation left open when the agreement closed stays as it was, moot
        elif open_ is not None:  # the latest open evaluation's (each interval opens its own)
            assert state.deadlines.get("evaluation_report") == open_.due_at
        else:
            assert "evaluation_report" not in state.deadlines
        assert ("step" in state.deadlines) == (
            L.current_step(state) is not None and state.stage not in m.TERMINAL_STAGES
        )
        wake = L.next_wakeup(state)
        end_set = L.end_date_set_at(state)  # expiry reminders before a change set the end are moot
        if wake is not None:
            assert wake == min(
                n.at
                for n in L.notices(state)
                if n.key not in state.notices_sent
                and not (state.timeline_from and n.at < state.timeline_from and n.kind.endswith("_reminder"))
                and not (end_set and n.kind == "expiry_reminder" and n.at < end_set)
            )
        for evaluation in state.evaluations:
            assert len({r.org for r in evaluation.reports}) == len(evaluation.reports)

    def visibility(self) -> None:
        state = self.state
        if state is None:
            return
        for org in L.party_orgs(state):
            assert L.can_see(state, b.partner(org))
        assert not L.can_see(state, b.staff(b.OUTSIDER))
        assert L.can_see(state, b.auditor()) and L.can_see(state, b.operator())
        assert not L.can_see(state, b.admin()), "an admin administers its own organisation only"
        ministry = any(g.gate == "ministry" and g.status != "waiting" for g in state.gates)
        assert L.can_see(state, b.ministry_approver()) == ministry
        if self.kind in ("ksdd", "ksdpk"):
            assert not ministry

    def teardown(self) -> None:
        if self.state is not None:
            # the log alone rebuilds the state, and every snapshot of it is valid
            assert b.replay(self.log) == self.state
            for actor in (b.staff(L.initiator(self.state).org), b.auditor()):
                _assert_a_valid_snapshot(L.snapshot(self.state, actor, self.now))


def _assert_a_valid_snapshot(snap: m.Snapshot) -> None:
    """The snapshot, built from the state's fields without validating them again, is what
    validating it would make: every value of its declared type, the same JSON."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a value not of its field's type warns as it is written
        written = snap.model_dump_json()
    assert m.Snapshot.model_validate_json(written).model_dump_json() == written


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
