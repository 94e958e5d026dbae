"""How many extensions one running due date keeps: each is kept in its count
(`state.due_counts`, what a recount of the date needs), so their number is bounded
(`bounds.EXTENSIONS_PER_DUE_DATE`) and one more is refused, not dropped.

Pure: no database, no Temporal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m
from workflows.lifecycle.bounds import EXTENSIONS_PER_DUE_DATE
from workflows.lifecycle.reading import recounted_due

LEAD = b.INITIATOR


def extended(state: m.AgreementState, times: int, **which: object) -> m.AgreementState:
    for i in range(times):
        command = m.ExtendDeadline(days=1, reason=f"Perpanjangan {i + 1}", **which)  # type: ignore[arg-type]
        state, _ = b.run(state, b.staff(), command, b.NOW + timedelta(minutes=i + 1))
    return state


def test_a_step_extended_the_most_times_refuses_one_more_and_still_counts_every_extension_again() -> None:
    submitted, _ = b.run(b.created(legacy=False), b.staff(), m.Submit())
    state = extended(submitted, EXTENSIONS_PER_DUE_DATE)
    assert len(state.due_counts["step"].extensions) == EXTENSIONS_PER_DUE_DATE

    with pytest.raises(L.DomainError) as refused:
        L.decide(state, m.ExtendDeadline(days=1, reason="Sekali lagi"), b.staff(), b.NOW + timedelta(hours=2))
    assert refused.value.status == 422 and refused.value.code == "too_many_extensions"
    assert refused.value.details["limit"] == EXTENSIONS_PER_DUE_DATE

    # The kept count still gives the recorded date, and a day off inside it moves it later.
    assert recounted_due(state, "step") == state.deadlines["step"]
    calendar = L.calendar_of(state, LEAD, b.NOW)
    inside = calendar.subtract_office_days(state.deadlines["step"].date(), 3)
    refresh = m.RefreshPartySettings(org=LEAD, days_off=[inside], recount=True)
    after, events = b.run(state, m.SYSTEM, refresh, b.NOW + timedelta(hours=2))
    assert b.types(events) == ["party_settings_changed", "deadline_recounted"]
    assert after.deadlines["step"] > state.deadlines["step"]


def test_an_evaluations_report_due_date_is_bounded_on_its_own() -> None:
    state = b.advance(b.created(legacy=False), "implementation")
    state, _ = b.run(state, b.staff(), m.StartEvaluation())
    state = extended(state, EXTENSIONS_PER_DUE_DATE, deadline="evaluation_report")
    command = m.ExtendDeadline(deadline="evaluation_report", days=1, reason="Sekali lagi")
    with pytest.raises(L.DomainError) as refused:
        L.decide(state, command, b.staff(), b.NOW + timedelta(hours=2))
    assert refused.value.code == "too_many_extensions"


def test_an_agreement_counting_calendar_days_keeps_nothing_per_extension_and_is_not_bounded() -> None:
    submitted, _ = b.run(b.created(legacy=True), b.staff(), m.Submit())
    state = extended(submitted, EXTENSIONS_PER_DUE_DATE + 1)
    assert state.due_counts == {}
