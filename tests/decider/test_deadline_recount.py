"""A due date counted in days of service follows a party's days off as they stand: when
`refresh_party_settings` brings new days off, each running due date is counted again from
its start (`deadline_recounted`), and moves later, never earlier.

Pure: no database, no Temporal."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m
from workflows import timeline as t

LEAD = b.INITIATOR
LATER = b.NOW + timedelta(hours=1)


def refresh(org: str = LEAD, *days_off: date, recount: bool = True) -> m.RefreshPartySettings:
    return m.RefreshPartySettings(org=org, days_off=list(days_off), recount=recount)


def submitted() -> m.AgreementState:
    """A KSDD as created today, submitted at `b.NOW`: its review gate (each region's
    TKKSD) runs 10 days of service."""
    state, _ = b.run(b.created(legacy=False), b.staff(), m.Submit())
    assert L.current_step(state).kind == "gate"  # type: ignore[union-attr]
    return state


def one_office_day_after(state: m.AgreementState, org: str, due: datetime) -> datetime:
    calendar = L.calendar_of(state, org, b.NOW)
    return calendar.closing(calendar.add_office_days(t.local_day(due, calendar.zone), 1))


def test_a_day_off_added_inside_a_running_gate_moves_its_due_date_one_office_day_later() -> None:
    state = submitted()
    due = state.deadlines["step"]
    day_off = (b.NOW + timedelta(days=3)).date()  # Thursday, inside the gate's ten days
    assert day_off.weekday() < 5 and day_off < due.date()

    after, events = b.run(state, m.SYSTEM, refresh(LEAD, day_off), LATER)

    assert b.types(events) == ["party_settings_changed", "deadline_recounted"]
    moved = after.deadlines["step"]
    assert moved == one_office_day_after(after, LEAD, due)
    assert events[1].data == {
        "deadline": "step",
        "due_at": moved.isoformat(),
        "previous_due_at": due.isoformat(),
        "org": LEAD,
    }
    # What the region's new calendar counts from the submission, exactly.
    assert moved == L.calendar_of(after, LEAD, b.NOW).due_after(b.NOW, 10)
    # The reminders and the escalation follow the new date; none is left on the old one.
    keys = [n.key for n in L.notices(after)]
    assert keys and all(moved.isoformat() in key for key in keys if key.startswith("step-"))
    escalation = next(n for n in L.notices(after) if n.kind == "deadline_escalated")
    assert escalation.at == L.calendar_of(after, LEAD, b.NOW).at_office(moved)


def test_a_day_off_taken_back_never_shortens_a_running_deadline() -> None:
    day_off = (b.NOW + timedelta(days=3)).date()
    draft, _ = b.run(b.created(legacy=False), m.SYSTEM, refresh(LEAD, day_off))
    state, _ = b.run(draft, b.staff(), m.Submit(), LATER)
    due = state.deadlines["step"]

    after, events = b.run(state, m.SYSTEM, refresh(LEAD), LATER + timedelta(hours=1))

    assert b.types(events) == ["party_settings_changed"]
    assert after.deadlines["step"] == due
    assert L.calendar_of(after, LEAD, b.NOW).due_after(LATER, 10) < due  # what a recount alone would say


def test_a_day_off_outside_the_window_or_of_a_party_not_deciding_moves_nothing() -> None:
    state = submitted()
    due = state.deadlines["step"]
    after_due = due.date() + timedelta(days=1)
    _, events = b.run(state, m.SYSTEM, refresh(LEAD, after_due), LATER)
    assert b.types(events) == ["party_settings_changed"]
    # A KSDPK's review gate is decided by the region alone: the third party's days off do
    # not count it.
    ksdpk, _ = b.run(b.created(b.ksdpk_proposal(), legacy=False), b.staff(), m.Submit())
    assert {s.org for s in L.open_slots(ksdpk)} == {LEAD}
    _, events = b.run(ksdpk, m.SYSTEM, refresh(b.THIRD_PARTY, (b.NOW + timedelta(days=3)).date()), LATER)
    assert b.types(events) == ["party_settings_changed"]


def test_a_partners_day_off_moves_a_gate_it_decides_too() -> None:
    state = submitted()
    assert b.REGION in {s.org for s in L.open_slots(state)}
    due = state.deadlines["step"]
    after, events = b.run(state, m.SYSTEM, refresh(b.REGION, (b.NOW + timedelta(days=3)).date()), LATER)
    assert b.types(events) == ["party_settings_changed", "deadline_recounted"]
    assert after.deadlines["step"] == one_office_day_after(after, b.REGION, due)
    assert events[1].data["org"] == b.REGION


def test_a_due_date_already_past_stays() -> None:
    state = submitted()
    due = state.deadlines["step"]
    _, events = b.run(state, m.SYSTEM, refresh(LEAD, (b.NOW + timedelta(days=3)).date()), due + timedelta(hours=1))
    assert b.types(events) == ["party_settings_changed"]


def test_the_next_step_counts_from_its_own_start_and_a_closed_agreement_has_nothing_to_move() -> None:
    state = b.advance(submitted(), "penyusunan_ksb")  # the review approved at b.NOW
    due = state.deadlines["step"]
    # A day off of the first step's window, already behind: the negotiation's 60 days
    # started the same moment, so it counts the day too and moves by one.
    after, events = b.run(state, m.SYSTEM, refresh(LEAD, (b.NOW + timedelta(days=3)).date()), LATER)
    assert b.types(events) == ["party_settings_changed", "deadline_recounted"]
    assert after.deadlines["step"] == one_office_day_after(after, LEAD, due)
    # In draft there is no due date to count again.
    _, events = b.run(b.created(legacy=False), m.SYSTEM, refresh(LEAD, (b.NOW + timedelta(days=3)).date()))
    assert b.types(events) == ["party_settings_changed"]


def test_an_extended_deadline_is_counted_again_with_its_extension() -> None:
    state = submitted()
    state, _ = b.run(state, b.staff(), m.ExtendDeadline(days=5, reason="Rapat TKKSD ditunda"), LATER)
    extended = state.deadlines["step"]
    calendar = L.calendar_of(state, LEAD, b.NOW)
    # A day off inside the extension's five days.
    inside = calendar.subtract_office_days(extended.date(), 2)
    after, events = b.run(state, m.SYSTEM, refresh(LEAD, inside), LATER + timedelta(hours=1))
    assert b.types(events) == ["party_settings_changed", "deadline_recounted"]
    assert after.deadlines["step"] == one_office_day_after(after, LEAD, extended)


def test_an_evaluations_report_due_date_follows_the_initiators_days_off_only() -> None:
    state = b.advance(b.created(legacy=False), "implementation")
    state, _ = b.run(state, b.staff(), m.StartEvaluation())
    evaluation = state.evaluations[-1]
    due = evaluation.due_at
    inside = (b.NOW + timedelta(days=3)).date()
    _, events = b.run(state, m.SYSTEM, refresh(b.REGION, inside), LATER)
    assert b.types(events) == ["party_settings_changed"]  # counted in the initiator's calendar
    after, events = b.run(state, m.SYSTEM, refresh(LEAD, inside), LATER)
    assert b.types(events) == ["party_settings_changed", "deadline_recounted"]
    assert events[1].data["deadline"] == "evaluation_report"
    assert events[1].data["evaluation"] == evaluation.number
    moved = one_office_day_after(after, LEAD, due)
    assert after.evaluations[-1].due_at == moved and after.deadlines["evaluation_report"] == moved
    assert {n.data.get("due_at") for n in L.notices(after) if n.kind == "evaluation_reminder"} == {moved.isoformat()}


def test_an_agreement_counting_calendar_days_is_never_recounted() -> None:
    state, _ = b.run(b.created(legacy=True), b.staff(), m.Submit())
    _, events = b.run(state, m.SYSTEM, refresh(LEAD, (b.NOW + timedelta(days=3)).date()), LATER)
    assert b.types(events) == ["party_settings_changed"]


def test_a_command_sent_before_recounting_replays_without_it() -> None:
    # Histories recorded before this change hold the command without `recount`: their
    # replay must decide the very events they recorded.
    state = submitted()
    after, events = b.run(state, m.SYSTEM, refresh(LEAD, (b.NOW + timedelta(days=3)).date(), recount=False), LATER)
    assert b.types(events) == ["party_settings_changed"]
    assert after.deadlines["step"] == state.deadlines["step"]
    assert "recount" not in m.RefreshPartySettings(org=LEAD).model_dump(exclude_defaults=True)


def test_the_recounted_history_replays_to_the_same_state() -> None:
    state = submitted()
    log: list[m.Event] = []
    state, events = b.run(state, m.SYSTEM, refresh(LEAD, (b.NOW + timedelta(days=3)).date()), LATER)
    log += events
    state, events = b.run(state, b.staff(), m.ExtendDeadline(days=3, reason="Rapat"), LATER + timedelta(hours=1))
    log += events
    replayed = b.replay(log, submitted())
    assert replayed == state
