"""A tick with hundreds of plan items falling due at once stays light (#13): it decides the
very events handling one notice at a time did (recorded in `expected/heavy_ticks.json`
from the code of before), and it works out what is due once per tick — again only after a
notice that changes more than the notices sent — not once per notice. Work is counted, not
timed: a tick must stay far below Temporal's workflow task timeout on any machine.

Refresh the expected events on purpose only: PAKTA_CAPTURE_HISTORY=1."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m
from workflows.lifecycle import schedule

EXPECTED = Path(__file__).parent / "expected" / "heavy_ticks.json"
JABAR, JATENG = b.INITIATOR, b.REGION


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T03:00:00+00:00")  # 10:00 WIB


def plan_in_force(items: int, *, ends_on: str, start_spread: int = 1) -> m.AgreementState:
    """An agreement in force with `items` activities and `items` obligations, half of each
    per party, all falling due on `ends_on` (activities starting on one of `start_spread`
    days in February 2027)."""
    activities = [
        b.activity(f"A{i}", JABAR if i % 2 else JATENG, f"2027-02-{1 + i % start_spread:02d}", ends_on)
        for i in range(items)
    ]
    obligations = [b.obligation(f"O{i}", JABAR if i % 2 else JATENG, ends_on) for i in range(items)]
    return b.implemented(b.planned_proposal(activities=activities, obligations=obligations))


def ticks_until_nothing_due(state: m.AgreementState, now: datetime) -> tuple[list[m.Event], int]:
    """Every event time brings by `now`, tick after tick (as the workflow ticks again at
    once while something is still due); and how many ticks it took."""
    events: list[m.Event] = []
    ticks = 0
    while state.stage not in m.TERMINAL_STAGES:
        try:
            batch = L.decide(state, m.Tick(), m.SYSTEM, now)
        except L.NothingDue:
            return events, ticks
        ticks += 1
        assert len(batch) <= schedule.TICK_LIMIT + 1  # a notice opening an evaluation is two events
        state = b.replay(batch, state)
        events += batch
    return events, ticks


def fingerprint(events: list[m.Event]) -> dict[str, Any]:
    recorded = [e.model_dump(mode="json") for e in events]
    canonical = json.dumps(recorded, sort_keys=True, separators=(",", ":"))
    return {
        "count": len(events),
        "sha256": hashlib.sha256(canonical.encode()).hexdigest(),
        "notices": [e.data.get("notice", e.type) for e in events],
    }


def expect_same_events(scenario: str, events: list[m.Event]) -> None:
    found = fingerprint(events)
    saved = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    if os.environ.get("PAKTA_CAPTURE_HISTORY"):  # refresh the expected events on purpose only
        EXPECTED.parent.mkdir(exist_ok=True)
        EXPECTED.write_text(json.dumps({**saved, scenario: found}, indent=1, sort_keys=True) + "\n")
        return
    expected = saved[scenario]
    assert found["notices"] == expected["notices"]
    assert found == expected


@pytest.fixture
def due_set_computations(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How often the decider works out every notice of a state (the costly part of a
    tick): the real `schedule.notices`, counted."""
    calls = 0
    real = schedule.notices

    def counted(state: m.AgreementState) -> list[Any]:
        nonlocal calls
        calls += 1
        return real(state)

    monkeypatch.setattr(schedule, "notices", counted)
    return lambda: calls


def test_a_tick_with_hundreds_of_items_due_at_once_works_out_what_is_due_once(
    due_set_computations: Callable[[], int],
) -> None:
    state = plan_in_force(200, ends_on="2027-06-30")
    before = due_set_computations()
    events = L.decide(state, m.Tick(), m.SYSTEM, at("2027-09-30"))
    assert len(events) == schedule.TICK_LIMIT
    assert {e.type for e in events} == {"implementation_reminder"}
    expect_same_events("two_hundred_activities_and_obligations_one_tick", events)
    assert due_set_computations() - before == 1


def test_ticks_through_a_plan_due_around_an_evaluation_decide_the_events_of_one_notice_at_a_time(
    due_set_computations: Callable[[], int],
) -> None:
    # Reminders, escalations, evaluations opening and escalating, expiry reminders, the
    # final evaluation and expiry: every kind of notice, interleaved, weeks of them at once
    # (as if the worker came back every 45 days), until the agreement expires.
    state = plan_in_force(40, ends_on="2027-07-02", start_spread=20)
    before = due_set_computations()
    events: list[m.Event] = []
    ticks = 0
    for now in [b.NOW + timedelta(days=45 * n) for n in range(1, 28)]:
        batch, taken = ticks_until_nothing_due(state, now)
        state, events, ticks = b.replay(batch, state), events + batch, ticks + taken
    assert state.stage == "expired"
    expect_same_events("forty_activities_and_obligations_until_nothing_due", events)
    changing = sum(1 for e in events if e.type in ("evaluation_opened", "evaluation_escalated", "agreement_expired"))
    assert changing >= 8
    # Once per tick, once more after each notice that changes the state, and twice for
    # each of the 27 moments' last tick, which finds nothing due and says when something
    # will be: never once per notice.
    assert due_set_computations() - before <= ticks + changing + 2 * 27
    assert len(events) > 300


def test_evaluations_piled_up_while_the_worker_was_down_open_ten_a_tick_and_all_in_order() -> None:
    # A monthly evaluation and two years without a tick: 24 openings, each moves the schedule.
    state = b.implemented(b.ksdd_proposal(evaluation_interval_months=1))
    now = at("2029-02-15")
    first = L.decide(state, m.Tick(), m.SYSTEM, now)
    assert b.types(first).count("evaluation_opened") == schedule.TICK_CHANGES_LIMIT
    events, _ticks = ticks_until_nothing_due(b.replay(first, state), now)
    opened = [e.data["number"] for e in first + events if e.type == "evaluation_opened"]
    assert opened == list(range(1, len(opened) + 1)) and len(opened) > 2 * schedule.TICK_CHANGES_LIMIT
