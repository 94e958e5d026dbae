"""`evolve` copies only what an event changes and shares the rest of the state with the
state it was given: that state must stay exactly as it was, whatever follows — the state a
command was decided on is asked again (by `allowed_actions`, by the next command) and a
running workflow keeps it between commands."""

from __future__ import annotations

from datetime import timedelta

from tests import builders as b
from tests.decider.test_event_payloads import builder_runs
from workflows import lifecycle as L
from workflows import messages as m


def test_evolving_never_changes_the_state_it_was_given() -> None:
    # builder_runs drives the decider through every event type; `b.replay`, which applies
    # each command's events, compares the state it was given before and after each event.
    seen: set[str] = set()
    for events in builder_runs():
        seen |= {e.type for e in events}
    assert seen == set(L.EVENT_PAYLOADS), f"not exercised: {set(L.EVENT_PAYLOADS) - seen}"


def test_every_state_of_a_life_stays_as_it_was_after_the_states_that_follow() -> None:
    kept: list[tuple[m.AgreementState, dict[str, object]]] = []

    def keep(state: m.AgreementState) -> m.AgreementState:
        kept.append((state, state.model_dump()))
        return state

    state = keep(b.created(b.ksdd_proposal(dprd=True), legacy=False))
    while state.stage != "implementation":
        state = keep(b.happy_step(state)[0])
    state = keep(b.run(state, b.staff(), m.StartEvaluation())[0])
    for org in L.party_orgs(state):
        state = keep(b.run(state, b.partner(org), m.SubmitEvaluationReport(evaluation=1, narrative="Baik"))[0])
    state = keep(b.run(state, b.staff(), m.ConcludeEvaluation(evaluation=1, score=80, recommendation="expand"))[0])
    state = keep(b.run(state, b.staff(), m.EditChange(value=10))[0])
    for _ in range(20):
        if state.change is None:
            break
        state = keep(b.happy_step(state)[0])
    state = keep(b.run(state, b.staff(), m.Terminate(reason="Anggaran"))[0])
    for slot in L.open_slots(state):
        state = keep(b.run(state, b.gate_actor(slot), m.Decide(gate="head", outcome="reject", comment="Lanjut"))[0])
        break
    now = b.NOW
    for _ in range(100):
        wake = L.next_wakeup(state)
        if wake is None or state.stage in m.TERMINAL_STAGES:
            break
        now = max(now, wake) + timedelta(minutes=1)
        state = keep(b.run(state, m.SYSTEM, m.Tick(), now)[0])
    assert state.stage == "expired" and len(kept) > 30
    for earlier, dump in kept:
        assert earlier.model_dump() == dump
