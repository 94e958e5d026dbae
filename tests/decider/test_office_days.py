"""Office days counted from a day (`timeline.Calendar.add_office_days` and
`subtract_office_days`): every deadline, reminder and escalation counts them, in every
decision and snapshot. The count depends on the calendar and the day alone, so it is kept:
the same calendar and day are counted once, and the kept answer is the one counted day by day.

Pure: no database, no Temporal."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from workflows import timeline as t
from workflows.national_days import EDITIONS

FIRST = EDITIONS[0]

CALENDARS = (
    t.Calendar("Asia/Jakarta", edition=FIRST),
    t.Calendar("Asia/Jayapura", frozenset({date(2027, 1, 4), date(2027, 1, 5), date(2027, 12, 24)}), edition=FIRST),
    t.Calendar("Asia/Makassar", legacy=True, edition=FIRST),
)
# Around the new year, Lebaran's collective leave and a region's own days off.
FIRST_DAYS = [date(2026, 12, 20) + timedelta(days=n) for n in range(0, 480, 7)]


def _next_office_day(calendar: t.Calendar, day: date, step: int) -> date:
    while not calendar.is_office_day(day):
        day += timedelta(days=step)
    return day


def _after_day_by_day(calendar: t.Calendar, day: date, days: int) -> date:
    """The rule as written before any count was kept: one day at a time."""
    if calendar.legacy:
        return day + timedelta(days=days)
    day = _next_office_day(calendar, day, 1) if days == 0 else day
    for _ in range(days):
        day = _next_office_day(calendar, day + timedelta(days=1), 1)
    return day


def _before_day_by_day(calendar: t.Calendar, day: date, days: int) -> date:
    if calendar.legacy:
        return day - timedelta(days=days)
    day = _next_office_day(calendar, day, -1)
    for _ in range(days):
        day = _next_office_day(calendar, day - timedelta(days=1), -1)
    return day


@pytest.mark.parametrize("calendar", CALENDARS, ids=lambda c: c.zone)
def test_office_days_after_and_before_a_day_are_the_ones_counted_day_by_day(calendar: t.Calendar) -> None:
    for day in FIRST_DAYS:
        for days in (0, 1, 5, 10, 20, 60):
            assert calendar.add_office_days(day, days) == _after_day_by_day(calendar, day, days), (day, days)
            assert calendar.subtract_office_days(day, days) == _before_day_by_day(calendar, day, days), (day, days)


def test_the_same_calendar_and_day_are_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[date] = []
    is_office_day = t.Calendar.is_office_day

    def counted(calendar: t.Calendar, day: date) -> bool:
        asked.append(day)
        return is_office_day(calendar, day)

    monkeypatch.setattr(t.Calendar, "is_office_day", counted)
    day = date(2031, 3, 14)  # counted by no other test
    first = t.Calendar("Asia/Jakarta", edition=FIRST).add_office_days(day, 10)
    reminder = t.Calendar("Asia/Jakarta", edition=FIRST).subtract_office_days(first, 5)
    asked_first = len(asked)
    # Another calendar of the same zone and days off, as each decision builds its own.
    assert t.Calendar("Asia/Jakarta", edition=FIRST).add_office_days(day, 10) == first
    assert t.Calendar("Asia/Jakarta", edition=FIRST).subtract_office_days(first, 5) == reminder
    assert asked_first >= 15 and len(asked) == asked_first
