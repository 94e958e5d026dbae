"""When a mail may reach its reader (`rules.mail_time`, `timeline.next_office_hours`): news
time brought waits for office hours on a day of service where its reader is — not a weekend,
a national holiday, cuti bersama or the region's own day off; news a person brought goes at
once. Pure: no database; the holidays are the `holidays` library's for 2027.

Lebaran 2027 in Indonesia: Nyepi on Monday 8 March, cuti bersama on the 9th, Idul Fitri on
Wednesday 10 and Thursday 11 March, cuti bersama on Friday 12 and Monday 15 March. The last
office day before it is Friday 5 March, the first after it Tuesday 16 March.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from workflows import national_days
from workflows import timeline as t
from workflows.notify.rules import Audience, Notification, mail_time

WIB, WIT, BERLIN = "Asia/Jakarta", "Asia/Jayapura", "Europe/Berlin"
HOURS = {WIB: 7, WIT: 9}


def at(day: date, hour: int, zone: str, minute: int = 0) -> datetime:
    """`hour`:`minute` on `day` in an Indonesian zone, in UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=HOURS[zone])


def note(event_type: str, moment: datetime) -> Notification:
    return Notification(
        event_id="a-1/7",
        event_type=event_type,
        agreement_id="a-1",
        seq=7,
        at=moment,
        audience=Audience(org="jabar", role="staff"),
        template="reminder_due",
        data={},
    )


IDUL_FITRI = date(2027, 3, 10)  # Wednesday, 1 Syawal 1448 (estimated)
AFTER_LEBARAN = date(2027, 3, 16)  # Tuesday: the first office day after the cuti bersama


@pytest.mark.parametrize("zone", [WIB, WIT])
def test_a_reminder_due_on_idul_fitri_goes_at_eight_on_the_first_office_day_after_lebaran_news_at_once(zone) -> None:
    due = at(IDUL_FITRI, 9, zone)
    assert mail_time(note("deadline_reminder", due), due, zone) == at(AFTER_LEBARAN, 8, zone)
    # News a person brought (a step opened by someone's decision) goes at once, holiday or not.
    assert mail_time(note("step_entered", due), due, zone) == due
    # The legacy NotifyWorkflow's rule, which it runs inside the workflow, keeps weekends
    # only (09:00 on the holiday is office hours there): its recorded timers must not move.
    assert t.next_office_moment(due, zone) == due


def test_a_reminder_failing_on_the_eve_of_lebaran_is_tried_after_it_not_on_the_holiday() -> None:
    friday_close = at(date(2027, 3, 5), 17, WIT)  # Friday 5 March, 17:00 in Jayapura
    reminder = note("evaluation_reminder", friday_close)
    assert mail_time(reminder, friday_close, WIT) == at(AFTER_LEBARAN, 8, WIT)
    # Cuti bersama (the government's collective leave) counts as a holiday.
    assert mail_time(reminder, at(date(2027, 3, 15), 10, WIT), WIT) == at(AFTER_LEBARAN, 8, WIT)


def test_a_regions_own_day_off_holds_its_readers_mail_and_not_another_regions() -> None:
    monday = date(2027, 1, 11)  # an ordinary Monday: no national holiday
    due = at(monday, 9, WIB)
    reminder = note("deadline_reminder", due)
    assert mail_time(reminder, due, WIB, [monday]) == at(monday + timedelta(days=1), 8, WIB)
    assert mail_time(reminder, due, WIB, [date(2027, 1, 12)]) == due  # another region's day off
    assert mail_time(reminder, due, WIB) == due


def test_a_partner_abroad_keeps_its_own_office_hours_on_an_indonesian_holiday() -> None:
    """Idul Fitri closes Indonesia's offices, not Berlin's: 09:00 there is in office hours."""
    berlin_nine = datetime(2027, 3, 10, 8, tzinfo=UTC)  # 09:00 CET
    assert mail_time(note("deadline_reminder", berlin_nine), berlin_nine, BERLIN) == berlin_nine
    in_jakarta = mail_time(note("deadline_reminder", berlin_nine), berlin_nine, WIB)
    assert in_jakarta == at(AFTER_LEBARAN, 8, WIB)


def test_a_retry_over_the_weekend_keeps_off_a_day_the_edition_in_force_that_day_takes_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The mail goes by the calendar of the day it goes on: a test-only edition, in force from
    07:00 WIB on Monday 11 January 2027, takes that Monday off. A reminder refused at 16:50
    on the Friday before (edition 1 then) is tried on Tuesday, not on the new day off."""
    first = national_days.EDITIONS[0]
    monday, tuesday = date(2027, 1, 11), date(2027, 1, 12)
    days = dict(first.days)
    days[2027] = days[2027].replace("1:1,5", "1:1,5,11")
    later = national_days.Edition(2, at(monday, 7, WIB), days)
    monkeypatch.setattr(national_days, "EDITIONS", (first, later))
    friday_close = at(date(2027, 1, 8), 17, WIB)
    assert national_days.edition_at(friday_close) is first and t.is_national_day_off(monday, at(monday, 8, WIB))
    assert mail_time(note("deadline_reminder", friday_close), friday_close, WIB) == at(tuesday, 8, WIB)
    # Berlin keeps no Indonesian day off, under any edition: after 17:30 there on Friday, Monday.
    assert t.next_office_hours(datetime(2027, 1, 8, 16, 30, tzinfo=UTC), BERLIN) == datetime(2027, 1, 11, 7, tzinfo=UTC)
