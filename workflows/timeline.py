"""Pure date arithmetic of the lifecycle: calendar months, office hours in an
organisation's time zone, and the service levels the decider's time rules use.

Reminders go out at office hours where the reader is (WIB, WITA, WIT or the foreign
partner's zone), not at midnight UTC; a due date is the end of that office day.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from workflows import national_days
from workflows.national_days import Edition as Edition  # re-exported: the decider's calendar vocabulary
from workflows.national_days import edition_at as edition_at
from workflows.national_days import edition_numbered as edition_numbered
from workflows.zones import known_or_default
from workflows.zones import zone as _zone

OFFICE_HOUR = time(9, 0)  # reminders, openings and escalations go out at 09:00 local time

# Days after a step opens before it is overdue, per step kind (negotiation, gate, signing).
STEP_DEADLINE_DAYS = {"negotiation": 90, "gate": 14, "signing": 30}
STEP_REMINDER_DAYS = (7, 1)  # reminders this many days before a step's deadline
REPORT_DUE_DAYS = 30  # evaluation reports are due this many days after the evaluation opens
REPORT_REMINDER_DAYS = (7, 0)  # reminders before the report due date (0: on the day)


@dataclass(frozen=True)
class Notice:
    """Something time makes happen: `kind` is the event the decider emits when `at` has
    passed, once per `key` (keys carry the due time, so a moved deadline gets new ones)."""

    key: str
    at: datetime
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


def add_months(day: date, months: int) -> date:
    year, month = _month_after(day, months)
    return date(year, month, min(day.day, _days_in(year, month)))


def add_period(day: date, months: int, anchor: date) -> date:
    """`months` calendar months after `day`, on `anchor`'s day of the month (the month's last
    day when it is shorter). A schedule is anchored on its first day: evaluations of an
    agreement in force from 31 January fall on 28 February, then 31 March — stepping from the
    clamped 28 February would keep them on the 28th ever after (and from 29 February of a
    leap year, on the 28th in the next leap year)."""
    year, month = _month_after(day, months)
    return date(year, month, min(anchor.day, _days_in(year, month)))


def _month_after(day: date, months: int) -> tuple[int, int]:
    index = day.month - 1 + months
    return day.year + index // 12, index % 12 + 1


def _days_in(year: int, month: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]


def office_time(day: date, zone: str) -> datetime:
    """09:00 on `day` in `zone`, as an aware UTC datetime."""
    return datetime.combine(day, OFFICE_HOUR, _zone(zone)).astimezone(UTC)


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(_zone(zone)).date()


def due_after(opened: datetime, days: int, zone: str) -> datetime:
    """The office time `days` calendar days after `opened`, in `zone`."""
    return office_time(local_day(opened, zone) + timedelta(days=days), zone)


OFFICE_OPENS, OFFICE_CLOSES = time(8, 0), time(17, 0)


def next_office_moment(moment: datetime, zone: str) -> datetime:
    """`moment` if it falls in office hours (Monday to Friday, 08:00–17:00) in `zone`,
    otherwise the next opening: a reminder due at night reaches people at 08:00."""
    local = moment.astimezone(_zone(zone))
    day = local.date()
    if local.weekday() < 5 and OFFICE_OPENS <= local.time() < OFFICE_CLOSES:
        return moment
    if local.time() >= OFFICE_CLOSES or local.weekday() >= 5:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, OFFICE_OPENS, _zone(zone)).astimezone(UTC)


# The zones of Indonesia (WIB, WITA, WIT, and the old names tzdata keeps for them): a reader
# there keeps its national holidays; a foreign partner's office is open on Idul Fitri.
INDONESIAN_ZONES = frozenset({"Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Ujung_Pandang", "Asia/Jayapura"})


def next_office_hours(moment: datetime, zone: str, days_off: Collection[date] = ()) -> datetime:
    """`moment` if it falls in office hours (08:00–17:00 on a day of service) in `zone`,
    otherwise the next opening: a reminder due on 1 Syawal reaches people at 08:00 on the
    first day their office is open again. A day of service is a weekday that is not one of
    `days_off` (the reader's region's own) nor, in Indonesia's zones, a national holiday or
    cuti bersama (`Calendar.is_office_day`'s rule), as the edition in force when that day's
    office opens has them (`workflows.national_days`: the mail goes by the calendar of the
    day it goes on — a retry on a Friday evening counts next Monday with the edition in force
    on Monday, not on Friday).

    `next_office_moment` stays as it was (weekends only): the NotifyWorkflows still running
    call it inside the workflow, and their timers must not move on replay."""
    tz = _zone(zone)
    national = known_or_default(zone) in INDONESIAN_ZONES
    local = moment.astimezone(tz)
    day = local.date()
    if _serves(day, days_off, national, tz):
        if OFFICE_OPENS <= local.time() < OFFICE_CLOSES:
            return moment
        if local.time() < OFFICE_OPENS:
            return datetime.combine(day, OFFICE_OPENS, tz).astimezone(UTC)
    day += timedelta(days=1)
    while not _serves(day, days_off, national, tz):
        day += timedelta(days=1)
    return datetime.combine(day, OFFICE_OPENS, tz).astimezone(UTC)


def office_closes(moment: datetime, zone: str) -> datetime:
    """The end of office hours (17:00) in `zone` on the local day of `moment` (an unknown
    zone counts as Jakarta's, as in every office-hours count: the dispatcher bounds a last
    try with it, and a raise there left the mail claimed again and again, never given up)."""
    tz = _zone(zone)
    return datetime.combine(moment.astimezone(tz).date(), OFFICE_CLOSES, tz).astimezone(UTC)


def _serves(day: date, days_off: Collection[date], national: bool, tz: ZoneInfo) -> bool:
    # The year's national days off are built once per edition (`national_days.days_off`, cached).
    if day.weekday() >= 5 or day in days_off:
        return False
    if not national:
        return True
    edition = edition_at(datetime.combine(day, OFFICE_OPENS, tz))
    return day not in national_days.days_off(edition, day.year)


# ---------------------------------------------------------------- days of service

# Agreements created since office-day deadlines (`AgreementState.calendar == "office_days"`)
# count days of service: Monday to Friday, except Indonesian national holidays and collective
# leave (cuti bersama) and the days off a region adds (`Party.days_off`). A due date is the
# end of the office day. The national days off are frozen, dated editions
# (`workflows.national_days`): a decision counts with the edition in force at its time, so a
# replay counts as the decision did, whatever `holidays` release the worker has installed.
OFFICE_DAYS = "office_days"
OFFICE_CLOSE = time(16, 0)  # a due date is 16:00 local time on an office day
STEP_DEADLINE_OFFICE_DAYS = {"negotiation": 60, "gate": 10, "signing": 20}
STEP_REMINDER_OFFICE_DAYS = (5, 1)
REPORT_DUE_OFFICE_DAYS = 20
REPORT_REMINDER_OFFICE_DAYS = (5, 0)
ESCALATION_INTERVAL_DAYS = 10  # first gap between escalations of an unconcluded evaluation (doubling)


def national_days_off(year: int, edition: Edition) -> frozenset[date]:
    """Indonesia's national holidays and cuti bersama in `year`, as `edition` has them."""
    return national_days.days_off(edition, year)


def is_national_day_off(day: date, at: datetime) -> bool:
    """Whether `day` is a national holiday or cuti bersama, as the edition in force at the
    moment `at` has it (a mail's delivery time, a decision's time)."""
    return day in national_days.days_off(edition_at(at), day.year)


@dataclass(frozen=True)
class Calendar:
    """The days of service of one party, in its zone. `legacy`: the calendar days at 09:00
    that agreements created before office days keep (their notices must not move).
    `edition`: the national days off it counts with (`edition_at` the decision's time); it
    is part of the calendar's hash, so the caches below never mix two editions' answers."""

    zone: str
    days_off: frozenset[date] = frozenset()
    legacy: bool = False
    edition: Edition = field(kw_only=True)

    def is_office_day(self, day: date) -> bool:
        if self.legacy:
            return True
        return (
            day.weekday() < 5 and day not in self.days_off and day not in national_days.days_off(self.edition, day.year)
        )

    def on_or_after(self, day: date) -> date:
        while not self.is_office_day(day):
            day += timedelta(days=1)
        return day

    def on_or_before(self, day: date) -> date:
        while not self.is_office_day(day):
            day -= timedelta(days=1)
        return day

    def add_office_days(self, day: date, days: int) -> date:
        """The `days`-th office day after `day` (`day` itself when `days` is 0 and it is one)."""
        if self.legacy:
            return day + timedelta(days=days)
        return _office_days_after(self, day, days)

    def subtract_office_days(self, day: date, days: int) -> date:
        if self.legacy:
            return day - timedelta(days=days)
        return _office_days_before(self, day, days)

    def office_days_between(self, start: date, end: date) -> int:
        """The office days after `start` up to `end`: the `days` of `add_office_days(start,
        days) == end` (a recorded extension's days, counted back)."""
        days, day = 0, start
        while day < end:
            day += timedelta(days=1)
            days += self.is_office_day(day)
        return days

    def opening(self, day: date) -> datetime:
        """Office hours on `day`, or on the next office day (reminders, openings)."""
        return office_time(self.on_or_after(day), self.zone)

    def closing(self, day: date) -> datetime:
        """The end of the office day `day` (a due date); 09:00 on a legacy calendar."""
        if self.legacy:
            return office_time(day, self.zone)
        return datetime.combine(day, OFFICE_CLOSE, _zone(self.zone)).astimezone(UTC)

    def due_after(self, opened: datetime, days: int) -> datetime:
        """The end of the `days`-th office day after `opened` (legacy: 09:00, calendar days)."""
        if self.legacy:
            return due_after(opened, days, self.zone)
        return self.closing(self.add_office_days(local_day(opened, self.zone), days))

    def before(self, due: datetime, days: int) -> datetime:
        """A reminder `days` office days before `due`, at office hours (0: that morning)."""
        if self.legacy:
            return due - timedelta(days=days)
        return office_time(self.subtract_office_days(local_day(due, self.zone), days), self.zone)

    def after(self, due: datetime, days: int) -> datetime:
        """Office hours `days` office days after `due` (an escalation after a lapse)."""
        if self.legacy:
            return due + timedelta(days=days)
        return office_time(self.add_office_days(local_day(due, self.zone), days), self.zone)

    def at_office(self, moment: datetime) -> datetime:
        """`moment` if it falls on an office day, else the next office day's office hours."""
        if self.legacy or self.is_office_day(local_day(moment, self.zone)):
            return moment
        return self.opening(local_day(moment, self.zone))

    def extended(self, due: datetime, now: datetime, days: int) -> datetime:
        """A deadline extended by `days`: counted from the old due date while it runs, from
        now once it has passed (so the new date is never already past)."""
        start = max(due, now)
        if self.legacy:
            return start + timedelta(days=days)
        return self.closing(self.add_office_days(local_day(start, self.zone), days))


# A deadline counts its office days one day at a time (≈ 100 Python calls for ten of them),
# and every decision and snapshot counts the same few again: the answer depends on the
# calendar (zone, days off, edition) and the day alone, so it is kept (#11).
@lru_cache(maxsize=4096)
def _office_days_after(calendar: Calendar, day: date, days: int) -> date:
    day = calendar.on_or_after(day) if days == 0 else day
    for _ in range(days):
        day = calendar.on_or_after(day + timedelta(days=1))
    return day


@lru_cache(maxsize=4096)
def _office_days_before(calendar: Calendar, day: date, days: int) -> date:
    day = calendar.on_or_before(day)
    for _ in range(days):
        day = calendar.on_or_before(day - timedelta(days=1))
    return day
