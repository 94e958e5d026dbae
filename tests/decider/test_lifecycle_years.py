"""The lifecycle's promises over years, in the decider (issue #11, branch life13): evaluation
periods of agreements in force from a month's end or a leap day, each period on its day,
none skipped, none twice. The workflow on the time-skipping server:
tests/workflows/test_agreement_years.py.

Pure: no database, no Temporal; time is an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests import builders as b
from tests.decider.test_lifecycle_time import conclude, zoned
from workflows import lifecycle as L
from workflows import messages as m
from workflows import timeline as t


def in_force_from(start: date, months: int, interval: int, zone: str = "Asia/Jakarta") -> m.AgreementState:
    prop = b.ksdpk_proposal(start_date=start, duration_months=months, evaluation_interval_months=interval)
    state = b.advance(b.created(zoned(prop, zone), legacy=False), "implementation")
    assert state.effective_date == start
    return state


def openings(state: m.AgreementState, tick: m.Tick | None = None) -> tuple[list[date], list[date], m.AgreementState]:
    """Let the whole term pass, wake-up by wake-up, concluding each periodic evaluation the
    day it opens: the days the periodic evaluations were scheduled for and the final's."""
    periodic: list[date] = []
    final: list[date] = []
    for _ in range(1000):
        if state.stage != "implementation":
            return periodic, final, state
        at = L.next_wakeup(state)
        assert at is not None
        state, events = b.run(state, m.SYSTEM, tick or m.Tick(), at)
        for event in events:
            if event.type == "notice_due" and event.data["kind"] == "evaluation_opened":
                scheduled = date.fromisoformat(event.data["notice"].split(":")[1])
                (final if event.data["notice"].startswith("end-of-term") else periodic).append(scheduled)
        evaluation = L.open_evaluation(state)
        if evaluation is not None and not evaluation.final:
            state, _ = conclude(state, at)
    raise AssertionError("the term never ended")


def month_ends(first: date, interval: int, until: date) -> list[date]:
    """The last day of `first`'s month and of every `interval`-th month after it, before `until`."""
    out, month = [], date(first.year, first.month, 1)
    while (last := t.add_months(month, 1) - timedelta(days=1)) < until:
        out.append(last)
        month = t.add_months(month, interval)
    return out


@pytest.mark.parametrize("interval", [1, 3])
def test_periods_of_an_agreement_in_force_from_31_january_fall_on_each_months_last_day(interval: int) -> None:
    state = in_force_from(date(2027, 1, 31), 24, interval)
    periodic, final, state = openings(state)
    first = t.add_months(date(2027, 1, 1), interval)
    assert periodic == month_ends(first, interval, date(2029, 1, 31))  # 28 Feb, 31 Mar, 30 Apr, 31 May …
    assert len(periodic) == len(set(periodic)) == 24 // interval - 1
    # The last period coincides with the end of the term: the final evaluation opens alone
    # that day, no periodic one three days before it to be superseded.
    assert final == [date(2029, 1, 31)] and state.stage == "expired"
    assert [e.number for e in state.evaluations] == list(range(1, 24 // interval + 1))
    assert all(e.summary is None or "Digantikan" not in e.summary for e in state.evaluations)


def test_periods_from_a_leap_day_fall_on_29_february_when_the_year_has_one() -> None:
    state = in_force_from(date(2028, 2, 29), 120, 12)
    periodic, final, _ = openings(state)
    assert periodic == [
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
        *(date(year, 2, 28) for year in range(2033, 2036)),
        date(2036, 2, 29),
        date(2037, 2, 28),
    ]
    assert final == [date(2038, 2, 28)]


def test_a_quarterly_schedule_from_a_months_end_keeps_its_day_after_an_amendment_changes_the_interval() -> None:
    state = in_force_from(date(2027, 8, 31), 36, 3)
    at = L.next_wakeup(state)
    assert at is not None and state.next_evaluation_on == date(2027, 11, 30)
    state, _ = b.run(state, m.SYSTEM, m.Tick(), at)
    state, _ = conclude(state, at)
    assert state.next_evaluation_on == date(2028, 2, 29)
    state, _ = b.run(state, b.staff(), m.ProposeAmendment(summary="Semesteran", evaluation_interval_months=6), at)
    state, _ = b.complete_change(state, at)
    periodic, _, _ = openings(state)
    # The pending period stays, the next ones are six months apart on the 31st's day.
    assert periodic == [date(2028, 2, 29), date(2028, 8, 31), date(2029, 2, 28), date(2029, 8, 31), date(2030, 2, 28)]


def test_a_tick_of_a_run_from_before_steps_its_periods_as_it_did_so_its_history_replays() -> None:
    """`legacy_periods`: what a workflow run that ticked before the anchored periods decides
    again on replay — the clamped day carried on."""
    state = in_force_from(date(2027, 1, 31), 6, 1)
    periodic, _, _ = openings(state, m.Tick(legacy_periods=True))
    # … and a sixth period three days before the end of the term, superseded by the final.
    assert periodic == [date(2027, month, 28) for month in range(2, 8)]


def test_an_imported_agreement_counts_its_periods_from_its_effective_dates_day() -> None:
    record = m.ImportRecord(
        ref="PKS/31",
        signed_on=date(2025, 1, 31),
        document=b.doc("scan"),
        proposal=b.ksdpk_proposal(start_date=date(2025, 1, 31), duration_months=60, evaluation_interval_months=1),
    )
    now = datetime.fromisoformat("2027-05-05T02:00:00+00:00")
    state = b.replay(L.import_agreement(record, b.operator(), now, "agr-imported"))
    assert state.next_evaluation_on == date(2027, 5, 31)
    legacy = b.replay(L.import_agreement(record, b.operator(), now, "agr-imported", legacy_periods=True))
    assert legacy.next_evaluation_on == date(2027, 5, 28)


# ================================================================ reminders before expiry


def expiry_reminders(state: m.AgreementState, tick: m.Tick | None = None) -> list[tuple[datetime, int]]:
    """Let the term pass to its expiry: each expiry reminder's time and its days before."""
    sent = []
    for _ in range(200):
        if state.stage != "implementation":
            return sent
        wake = L.next_wakeup(state, legacy_expiry_reminders=bool(tick and tick.legacy_expiry_reminders))
        assert wake is not None
        at = max(wake, state.updated_at)  # the workflow's clock: time never runs backwards
        state, events = b.run(state, m.SYSTEM, tick or m.Tick(), at)
        sent += [(e.at, e.data["days_before"]) for e in events if e.type == "expiry_reminder"]
        evaluation = L.open_evaluation(state)
        if evaluation is not None and not evaluation.final:
            state, _ = conclude(state, at)
    raise AssertionError("the term never ended")


def local_nine(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, tzinfo=UTC)  # 09:00 WIB


def test_an_addendum_bringing_the_end_near_leaves_out_the_reminders_already_past_and_sends_the_rest_on_their_days() -> (
    None
):
    state = in_force_from(date(2027, 1, 4), 36, 12)
    signed = datetime(2027, 10, 31, 9, tzinfo=UTC)  # a Sunday, 16:00 WIB: 31 days before the new end
    state, _ = b.run(state, b.staff(), m.ProposeAmendment(summary="Dipercepat", end_date=date(2027, 12, 1)), signed)
    state, _ = b.complete_change(state, signed)
    assert state.end_date == date(2027, 12, 1) and L.end_date_set_at(state) == signed
    # 90 and 60 days before had passed when it was signed: not sent at once on a Sunday
    # afternoon, but left out; 30, 7 and 0 days before, each once at 09:00 on its day.
    assert expiry_reminders(state) == [
        (local_nine(date(2027, 11, 1)), 30),
        (local_nine(date(2027, 11, 24)), 7),
        (local_nine(date(2027, 12, 1)), 0),
    ]


def test_a_renewal_signed_late_reminds_of_its_new_end_only_from_its_signing() -> None:
    state = in_force_from(date(2027, 1, 4), 12, 12)
    signed = datetime(2027, 12, 15, 3, tzinfo=UTC)  # 20 days before the end: renewed for a month
    state, _ = b.run(state, b.staff(), m.Renew(duration_months=1), signed)
    state, _ = b.complete_change(state, signed)
    assert state.end_date == date(2028, 2, 4)
    assert [days for _, days in expiry_reminders(state)] == [30, 7, 0]


def test_a_tick_of_a_run_from_before_sends_the_reminders_a_change_left_behind_as_it_did() -> None:
    state = in_force_from(date(2027, 1, 4), 36, 12)
    signed = datetime(2027, 10, 31, 9, tzinfo=UTC)
    state, _ = b.run(state, b.staff(), m.ProposeAmendment(summary="Dipercepat", end_date=date(2027, 12, 1)), signed)
    state, _ = b.complete_change(state, signed)
    sent = expiry_reminders(state, m.Tick(legacy_expiry_reminders=True))
    assert sent[:2] == [(signed, 90), (signed, 60)] and [days for _, days in sent[2:]] == [30, 7, 0]


# ================================================================ a day in WIT is not a day in WIB


def test_a_paper_signed_this_morning_in_jayapura_is_imported_while_jakarta_is_still_on_yesterday() -> None:
    prop = zoned(b.ksdpk_proposal(start_date=date(2027, 1, 5), duration_months=12), "Asia/Jayapura")
    record = m.ImportRecord(ref="PKS/WIT/1", signed_on=date(2027, 1, 5), document=b.doc("scan"), proposal=prop)
    now = datetime(2027, 1, 4, 16, 30, tzinfo=UTC)  # 01:30 on 5 January in WIT, 23:30 on the 4th in WIB
    state = b.replay(L.import_agreement(record, b.operator(), now, "agr-wit"))
    assert (state.stage, state.effective_date, state.end_date) == ("implementation", date(2027, 1, 5), date(2028, 1, 5))
    # A day later than Jayapura's today is still refused.
    tomorrow = record.model_copy(update={"signed_on": date(2027, 1, 6)})
    with pytest.raises(L.InvalidProposal):
        L.import_agreement(tomorrow, b.operator(), now, "agr-wit")
