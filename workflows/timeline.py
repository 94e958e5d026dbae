"""Pure date arithmetic of the lifecycle: calendar months, office hours in an
organisation's time zone, and the service levels the decider's time rules use.

Reminders go out at office hours where the reader is (WIB, WITA, WIT or the foreign
partner's zone), not at midnight UTC; a due date is the end of that office day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return date(year, month, min(day.day, days))


def office_time(day: date, zone: str) -> datetime:
    """09:00 on `day` in `zone`, as an aware UTC datetime."""
    return datetime.combine(day, OFFICE_HOUR, ZoneInfo(zone)).astimezone(UTC)


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def due_after(opened: datetime, days: int, zone: str) -> datetime:
    """The office time `days` calendar days after `opened`, in `zone`."""
    return office_time(local_day(opened, zone) + timedelta(days=days), zone)


OFFICE_OPENS, OFFICE_CLOSES = time(8, 0), time(17, 0)


def next_office_moment(moment: datetime, zone: str) -> datetime:
    """`moment` if it falls in office hours (Monday to Friday, 08:00–17:00) in `zone`,
    otherwise the next opening: a reminder due at night reaches people at 08:00."""
    local = moment.astimezone(ZoneInfo(zone))
    day = local.date()
    if local.weekday() < 5 and OFFICE_OPENS <= local.time() < OFFICE_CLOSES:
        return moment
    if local.time() >= OFFICE_CLOSES or local.weekday() >= 5:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, OFFICE_OPENS, ZoneInfo(zone)).astimezone(UTC)
