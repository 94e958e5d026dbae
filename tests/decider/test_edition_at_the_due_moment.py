"""A newer national edition that takes effect shortly before a running due date lapses, with
no decision in between (an asleep agreement: its next timer is the date itself): the decision
at the date — its own tick, a command racing the timer, the night's prompt after an outage —
counts the date again with the edition in force, as any decision after `effective_from`
does, instead of escalating a step the calendar in force still allows. A date that lapsed
before the edition took effect, or that a decision already saw lapse, stays. Issue #11,
branch attack18; docs/lifecycle.md, "Days of service".

Pure: no database, no Temporal."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests import builders as b
from tests.decider.test_edition_recount import FIRST, LEAD, WIB, decided, local, submitted
from workflows import lifecycle as L
from workflows import messages as m
from workflows import national_days
from workflows.national_days import Edition

DUE = datetime(2027, 1, 19, 16, tzinfo=WIB)  # a KSDD's review submitted at `b.NOW`, edition 1
MOVED = datetime(2027, 1, 20, 16, tzinfo=WIB)  # with the 12th off too


def asleep_until_its_date(monkeypatch: pytest.MonkeyPatch, effective: timedelta) -> m.AgreementState:
    """A submitted review, its reminders sent, and an edition 2 taking the 12th off from
    `effective` after the review's date (negative: before it) — after the last reminder."""
    state = submitted()
    assert local(state.deadlines["step"]) == DUE
    takes_effect = DUE + effective
    days = dict(FIRST.days)
    days[2027] = FIRST.days[2027].replace("1:1,5", "1:1,5,12")
    monkeypatch.setattr(national_days, "EDITIONS", (FIRST, Edition(2, takes_effect, days)))
    while (wake := L.next_wakeup(state)) is not None and wake < min(takes_effect, DUE):
        state, events = decided(state, m.SYSTEM, m.Tick(), wake)
        assert b.types(events) == ["deadline_reminder"]
    assert state.updated_at < takes_effect
    return state


@pytest.mark.parametrize(
    "effective",
    [timedelta(days=-1), timedelta(seconds=-1), timedelta(0)],
    ids=["a day before", "a second before", "at the date"],
)
def test_the_tick_at_a_date_a_newer_edition_lengthened_just_before_counts_it_again_instead_of_escalating(
    monkeypatch: pytest.MonkeyPatch, effective: timedelta
) -> None:
    state = asleep_until_its_date(monkeypatch, effective)
    assert L.next_wakeup(state) == DUE

    after, events = decided(state, m.SYSTEM, m.Tick(), DUE)

    assert "deadline_escalated" not in b.types(events)
    assert b.types(events)[0] == "deadline_recounted"
    assert events[0].data["reason"] == "national_calendar" and events[0].data["edition"] == 2
    assert local(after.deadlines["step"]) == MOVED
    # The escalation comes at the date as the edition in force counts it.
    assert L.next_wakeup(after) == MOVED
    _, events = decided(after, m.SYSTEM, m.Tick(), MOVED)
    assert [datetime.fromisoformat(e.data["due_at"]) for e in events if e.type == "deadline_escalated"] == [MOVED]


@pytest.mark.parametrize(
    "decision",
    [
        pytest.param((b.staff(), m.Comment(text="Masih dibahas."), timedelta(0)), id="a command racing the timer"),
        pytest.param((m.SYSTEM, m.RefreshPartySettings(org=LEAD), timedelta(seconds=1)), id="the night's prompt"),
    ],
)
def test_any_first_decision_at_or_after_such_a_date_counts_it_again_and_the_tick_then_escalates_nothing(
    monkeypatch: pytest.MonkeyPatch, decision: tuple[m.Actor, m.Command, timedelta]
) -> None:
    actor, command, late = decision
    state = asleep_until_its_date(monkeypatch, timedelta(seconds=-1))

    after, events = decided(state, actor, command, DUE + late)

    assert b.types(events)[0] == "deadline_recounted"
    assert local(after.deadlines["step"]) == MOVED
    try:
        _, events = decided(after, m.SYSTEM, m.Tick(), DUE + late)
    except L.NothingDue:
        events = []
    assert "deadline_escalated" not in b.types(events)


def test_a_date_that_lapsed_a_second_before_the_edition_took_effect_is_escalated_and_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = asleep_until_its_date(monkeypatch, timedelta(seconds=1))

    escalated, events = decided(state, m.SYSTEM, m.Tick(), DUE)
    assert b.types(events) == ["deadline_escalated"]
    after, events = decided(escalated, b.staff(), m.Comment(text="Terlambat."), DUE + timedelta(seconds=2))

    assert b.types(events) == ["comment_added"]
    assert after.deadlines["step"] == state.deadlines["step"]


def test_an_evaluations_reports_whose_date_a_newer_edition_lengthened_just_before_it_are_not_escalated_the_next_morning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reports' escalation waits for the next office morning after their date: the
    first decision after an edition effective a second before that date is that morning's
    tick, which counts the date again and escalates nothing yet."""
    state = b.advance(b.created(legacy=False), "implementation")
    state, _ = b.run(state, b.staff(), m.StartEvaluation())
    due = state.evaluations[-1].due_at
    days = dict(FIRST.days)
    decreed = local(due).date() - timedelta(days=1)  # a Monday inside the window
    assert decreed.weekday() < 5
    days[decreed.year] = days[decreed.year].replace("2:", f"{decreed.month}:{decreed.day},", 1)
    assert decreed.month == 2 and f"2:{decreed.day}," in days[decreed.year]
    monkeypatch.setattr(national_days, "EDITIONS", (FIRST, Edition(2, due - timedelta(seconds=1), days)))

    escalated = []
    while (wake := L.next_wakeup(state)) is not None and not escalated:
        state, events = decided(state, m.SYSTEM, m.Tick(), wake)
        escalated = [e for e in events if e.type == "evaluation_escalated"]
        if wake > due and not escalated:
            assert b.types(events)[0] == "deadline_recounted"
    assert escalated and state.evaluations[-1].due_at > due
    assert escalated[0].at > state.evaluations[-1].due_at
