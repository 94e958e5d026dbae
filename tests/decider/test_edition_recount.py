"""A due date counted in days of service follows a new national calendar edition: the first
decision at or after a newer edition's `effective_from` counts each running date counted
with an older edition again, whole, with the newer one (`deadline_recounted`, reason
"national_calendar"), before the command's own events; later only, never a past date.
Only when the decision is asked to (`recount_editions`): a command recorded before the rule
decides as it did. docs/lifecycle.md, "Days of service".

Pure: no database, no Temporal."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m
from workflows import national_days
from workflows.lifecycle import events as ev
from workflows.national_days import EDITIONS, Edition

WIB = ZoneInfo("Asia/Jakarta")
FIRST = EDITIONS[0]
LEAD = b.INITIATOR
CHANGE = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)  # 19:00 WIB on Monday 4 January 2027, after `b.NOW`
AFTER = CHANGE + timedelta(hours=1)
DECREED = date(2027, 1, 12)  # a Tuesday the newer edition takes off (collective leave, say)


def edition_2(monkeypatch: pytest.MonkeyPatch, days_2027: str) -> Edition:
    """Edition 1 and a test-only edition 2 effective from `CHANGE`, whose 2027 is
    `days_2027`: the registry replaced for the test's duration (workflows/national_days)."""
    days = dict(FIRST.days)
    days[2027] = days_2027
    later = Edition(2, CHANGE, days)
    monkeypatch.setattr(national_days, "EDITIONS", (FIRST, later))
    return later


@pytest.fixture
def decree(monkeypatch: pytest.MonkeyPatch) -> Edition:
    """Edition 2 adds `DECREED` to 2027's days off."""
    return edition_2(monkeypatch, FIRST.days[2027].replace("1:1,5", "1:1,5,12"))


def decided(
    state: m.AgreementState, actor: m.Actor, command: Any, now: datetime, *, recount: bool = True
) -> tuple[m.AgreementState, list[m.Event]]:
    """Decide as the workflow decides under its patch; the events replay to the same state."""
    decision = L.decided(state, command, actor, now, recount_editions=recount)
    assert b.replay(decision.events, state).model_dump() == decision.state.model_dump()
    return decision.state, decision.events


def submitted(now: datetime = b.NOW) -> m.AgreementState:
    """A KSDD submitted at `now`: its review gate runs ten days of service."""
    state, _ = b.run(b.created(b.ksdd_proposal(), now=now, legacy=False), b.staff(), m.Submit(), now)
    return state


def local(moment: datetime) -> datetime:
    return moment.astimezone(WIB)


def test_the_first_command_after_a_newer_edition_moves_a_running_gate_by_the_day_it_takes_off(
    decree: Edition,
) -> None:
    state = submitted()
    before = state.deadlines["step"]
    assert local(before) == datetime(2027, 1, 19, 16, tzinfo=WIB)  # edition 1: the 5th off

    after, events = decided(state, b.staff(), m.Comment(text="Masih dibahas."), AFTER)

    assert b.types(events) == ["deadline_recounted", "comment_added"]
    moved = after.deadlines["step"]
    assert local(moved) == datetime(2027, 1, 20, 16, tzinfo=WIB)  # the 12th off too
    assert events[0].data == {
        "deadline": "step",
        "due_at": moved.isoformat(),
        "previous_due_at": before.isoformat(),
        "reason": "national_calendar",
        "edition": 2,
    }
    # Its payload reads back to the very dict recorded, key order included (hash-chained).
    payload = L.EVENT_PAYLOADS["deadline_recounted"].model_validate(events[0].data)
    assert json.dumps(ev.dump_payload(payload)) == json.dumps(events[0].data)
    # What the newer edition counts from the submission, exactly; the count says which.
    assert moved == L.calendar_of(after, LEAD, b.NOW, decree).due_after(b.NOW, 10)
    assert after.due_counts["step"].edition == 2
    # A count no edition recounted keeps the JSON of before (a process of the release before
    # reads it during a rolling deploy); a recounted one says its edition.
    assert '"edition"' not in state.model_dump_json() and '"edition":2' in after.model_dump_json()
    # The reminders and the escalation follow the new date.
    keys = [n.key for n in L.notices(after) if n.key.startswith("step-")]
    assert keys and all(moved.isoformat() in key for key in keys)
    # Counted once: the next decision finds nothing older to count again.
    assert not L.counts_behind_edition(after, AFTER)
    _, events = decided(after, b.staff(), m.Comment(text="Lagi."), AFTER + timedelta(hours=1))
    assert b.types(events) == ["comment_added"]


def test_a_tick_with_nothing_else_due_records_the_recount_alone(decree: Edition) -> None:
    state = submitted()
    with pytest.raises(L.NothingDue):  # as a tick before this rule: nothing is due yet
        decided(state, m.SYSTEM, m.Tick(), AFTER, recount=False)

    after, events = decided(state, m.SYSTEM, m.Tick(), AFTER)

    assert b.types(events) == ["deadline_recounted"]
    assert local(after.deadlines["step"]) == datetime(2027, 1, 20, 16, tzinfo=WIB)
    with pytest.raises(L.NothingDue):
        decided(after, m.SYSTEM, m.Tick(), AFTER + timedelta(hours=1))


def test_the_nightly_prompt_records_the_recount_and_is_refused_as_unchanged_once_counted(decree: Edition) -> None:
    """The nightly reconciliation prompts an asleep agreement with the initiator's settings
    refreshed with nothing new (services/worker/activities/portfolio.py)."""
    prompt = m.RefreshPartySettings(org=LEAD)
    state = submitted()

    after, events = decided(state, m.SYSTEM, prompt, AFTER)

    assert b.types(events) == ["deadline_recounted"]
    with pytest.raises(L.InvalidTransition) as refused:
        decided(after, m.SYSTEM, prompt, AFTER + timedelta(hours=1))
    assert refused.value.code == "settings_unchanged"


def test_a_command_decided_without_the_flag_decides_as_commands_recorded_before(decree: Edition) -> None:
    state = submitted()
    after, events = decided(state, b.staff(), m.Comment(text="Masih dibahas."), AFTER, recount=False)
    assert b.types(events) == ["comment_added"]
    assert after.deadlines["step"] == state.deadlines["step"]
    # `decide` and the builders' `run` (every recorded history's replay) leave it off too.
    assert b.types(L.decide(state, m.Comment(text="x"), b.staff(), AFTER)) == ["comment_added"]


def test_a_refused_command_records_no_recount(decree: Edition) -> None:
    state = submitted()
    with pytest.raises(L.DomainError):
        decided(state, b.partner(b.REGION), m.Withdraw(reason="Bukan pemrakarsa."), AFTER)


def test_a_newer_edition_moves_nothing_before_it_takes_effect_nor_a_date_counted_after_it(decree: Edition) -> None:
    state = submitted()
    _, events = decided(state, b.staff(), m.Comment(text="Belum."), CHANGE - timedelta(seconds=1))
    assert b.types(events) == ["comment_added"]
    counted_after = submitted(AFTER)
    assert not L.counts_behind_edition(counted_after, AFTER + timedelta(days=1))
    _, events = decided(counted_after, b.staff(), m.Comment(text="Sudah."), AFTER + timedelta(days=1))
    assert b.types(events) == ["comment_added"]


def test_a_date_a_decision_already_saw_lapse_stays(decree: Edition) -> None:
    """Escalated at its date by a run that does not follow editions (recorded before the
    rule): a later decision that does never moves it. A date that lapsed with no decision
    since is counted again (tests/decider/test_edition_at_the_due_moment.py)."""
    state = submitted()
    due = state.deadlines["step"]
    escalated, events = decided(state, m.SYSTEM, m.Tick(), due, recount=False)
    assert "deadline_escalated" in b.types(events)
    _, events = decided(escalated, b.staff(), m.Comment(text="Terlambat."), due + timedelta(hours=1))
    assert b.types(events) == ["comment_added"]


def test_a_newer_edition_that_gives_a_day_back_never_shortens_a_running_date(monkeypatch: pytest.MonkeyPatch) -> None:
    # Edition 2 works on the 5th after all: its count would end on the 18th.
    edition_2(monkeypatch, FIRST.days[2027].replace("1:1,5", "1:1"))
    state = submitted()
    _, events = decided(state, b.staff(), m.Comment(text="Masih dibahas."), AFTER)
    assert b.types(events) == ["comment_added"]


def test_an_extended_date_is_counted_again_whole_with_its_extension(decree: Edition) -> None:
    state = submitted()
    extend = m.ExtendDeadline(days=5, reason="Rapat TKKSD ditunda")
    state, _ = decided(state, b.staff(), extend, CHANGE - timedelta(hours=1))
    assert local(state.deadlines["step"]) == datetime(2027, 1, 26, 16, tzinfo=WIB)
    after, events = decided(state, b.staff(), m.Comment(text="Masih dibahas."), AFTER)
    assert b.types(events) == ["deadline_recounted", "comment_added"]
    assert local(after.deadlines["step"]) == datetime(2027, 1, 27, 16, tzinfo=WIB)


def test_an_evaluations_report_date_follows_the_newer_edition_too(decree: Edition) -> None:
    state = b.advance(b.created(legacy=False), "implementation")
    state, _ = b.run(state, b.staff(), m.StartEvaluation())
    due = state.evaluations[-1].due_at
    assert date(2027, 1, 12) < due.date()  # the decreed day is inside its window
    after, events = decided(state, m.SYSTEM, m.Tick(), AFTER)
    assert b.types(events) == ["deadline_recounted"]
    assert events[0].data["deadline"] == "evaluation_report" and events[0].data["evaluation"] == 1
    moved = after.evaluations[-1].due_at
    assert moved > due and after.deadlines["evaluation_report"] == moved


def test_a_partys_new_days_off_after_the_recount_count_with_the_newer_edition(decree: Edition) -> None:
    state, _ = decided(submitted(), b.staff(), m.Comment(text="Masih dibahas."), AFTER)
    assert local(state.deadlines["step"]) == datetime(2027, 1, 20, 16, tzinfo=WIB)
    refresh = m.RefreshPartySettings(org=LEAD, days_off=[date(2027, 1, 7)], recount=True)
    after, events = decided(state, m.SYSTEM, refresh, AFTER + timedelta(hours=1))
    assert b.types(events) == ["party_settings_changed", "deadline_recounted"]
    assert "reason" not in events[1].data  # a party's recount records as before
    # One more day than the newer edition's count: edition 1's count would say the 20th.
    assert local(after.deadlines["step"]) == datetime(2027, 1, 21, 16, tzinfo=WIB)
    assert after.due_counts["step"].edition == 2
