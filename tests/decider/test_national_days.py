"""The national days off are frozen, dated editions (`workflows.national_days`): a decision
counts days of service with the edition in force at its time, so a replay counts as the
decision did whatever `holidays` release is installed, and a newer edition changes only
decisions made after its `effective_from`. docs/lifecycle.md, "Days of service".

Pure, but for a subprocess that imports the decider afresh and runs `pakta calendar`."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from itertools import pairwise
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest

from services.cli import main
from tests import builders as b
from tests.builders import run
from workflows import lifecycle as L
from workflows import messages as m
from workflows import national_days
from workflows import timeline as t
from workflows.national_days import EDITIONS, Edition, days_off, edition_at

WIB = ZoneInfo("Asia/Jakarta")
FIRST = EDITIONS[0]

# The content hash of every published edition. A published edition is never edited: a
# change of dates is a new edition, effective from a later moment, with its own hash here.
PUBLISHED = {1: "7178a60326ed3081340473191d3058b54411c4e27749907143019bfd2d220486"}


def content_hash(edition: Edition) -> str:
    text = f"{edition.number}|{edition.effective_from.isoformat()}|"
    text += ";".join(f"{year}={edition.days[year]}" for year in sorted(edition.days))
    return hashlib.sha256(text.encode()).hexdigest()


def test_every_published_edition_keeps_the_content_it_was_published_with() -> None:
    assert {e.number: content_hash(e) for e in EDITIONS} == PUBLISHED


def test_the_editions_follow_each_other_in_number_and_time() -> None:
    assert [e.number for e in EDITIONS] == list(range(1, len(EDITIONS) + 1))
    assert all(a.effective_from < b.effective_from for a, b in pairwise(EDITIONS))


def test_edition_one_holds_the_days_off_the_decider_counted_with_before_editions() -> None:
    assert FIRST.effective_from == datetime(2000, 1, 1, tzinfo=UTC) and sorted(FIRST.days) == list(range(2000, 2061))
    lebaran_2027 = {date(2027, 3, day) for day in (9, 10, 11, 12, 15)}  # Idul Fitri and its cuti bersama
    assert lebaran_2027 <= days_off(FIRST, 2027) and date(2027, 3, 16) not in days_off(FIRST, 2027)
    assert {date(2026, 8, 17), date(2026, 12, 24), date(2026, 12, 25)} <= days_off(FIRST, 2026)
    assert {date(2027, 8, 17), date(2027, 12, 24), date(2027, 12, 25)} <= days_off(FIRST, 2027)
    # 2028 as `holidays` 0.109 estimated it: Idul Fitri on 27-28 February, no cuti bersama yet.
    assert {date(2028, 2, 27), date(2028, 2, 28), date(2028, 12, 25)} <= days_off(FIRST, 2028)
    assert len(days_off(FIRST, 2028)) == 17
    assert days_off(FIRST, 2061) == frozenset()


@pytest.mark.skipif(version("holidays") != "0.109", reason="edition 1 was written from holidays 0.109")
def test_edition_one_is_every_day_off_holidays_0_109_gave_the_decider_from_2000_to_2060() -> None:
    from holidays.countries.indonesia import Indonesia

    for year in range(2000, 2061):
        assert days_off(FIRST, year) == set(Indonesia(years=year, categories=("public", "government"))), year


def test_the_decider_loads_no_holidays_library() -> None:
    code = "import sys, workflows.lifecycle, workflows.agreement; print('holidays' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- a newer edition

CHANGE = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)  # 19:00 WIB on Monday 4 January 2027
DECREED = date(2027, 1, 12)  # a Tuesday the test-only edition adds as a day off


@pytest.fixture
def later_edition(monkeypatch: pytest.MonkeyPatch) -> Edition:
    """Edition 1 and a test-only edition 2, effective from `CHANGE`, that adds `DECREED`:
    the registry replaced for the test's duration (the seam workflows/national_days names);
    no published edition is touched."""
    days = dict(FIRST.days)
    days[2027] = days[2027].replace("1:1,5", "1:1,5,12")
    later = Edition(2, CHANGE, days)
    assert days_off(later, 2027) == days_off(FIRST, 2027) | {DECREED}
    monkeypatch.setattr(national_days, "EDITIONS", (FIRST, later))
    return later


def test_a_moment_counts_with_the_newest_edition_in_force_then(later_edition: Edition) -> None:
    assert edition_at(CHANGE - timedelta(microseconds=1)) is FIRST
    assert edition_at(CHANGE) is later_edition and edition_at(CHANGE + timedelta(days=900)) is later_edition
    assert edition_at(datetime(1990, 1, 1, tzinfo=UTC)) is FIRST
    assert not t.is_national_day_off(DECREED, CHANGE - timedelta(seconds=1))
    assert t.is_national_day_off(DECREED, CHANGE)


def test_a_deadline_decided_before_a_newer_edition_counts_with_the_older_one_and_keeps_its_date(
    later_edition: Edition,
) -> None:
    before, after = b.NOW, CHANGE + timedelta(hours=1)  # both Monday 4 January in Jakarta
    assert before < CHANGE < after
    early, _ = run(b.created(b.ksdd_proposal(), now=before, legacy=False), b.staff(), m.Submit(), before)
    late, _ = run(b.created(b.ksdd_proposal(), now=after, legacy=False), b.staff(), m.Submit(), after)
    # Ten days of service from Monday 4 January: the 19th under edition 1 (the 5th is a
    # holiday); the test-only edition takes the 12th off too, so the 20th.
    assert early.deadlines["step"].astimezone(WIB) == datetime(2027, 1, 19, 16, tzinfo=WIB)
    assert late.deadlines["step"].astimezone(WIB) == datetime(2027, 1, 20, 16, tzinfo=WIB)
    # Decided before the change, the due date is recorded and stays after it.
    commented, _ = run(early, b.staff(), m.Comment(text="Masih dibahas."), after)
    assert commented.deadlines["step"] == early.deadlines["step"]


def test_the_notices_keep_the_edition_of_the_last_recording_until_the_next_one(later_edition: Edition) -> None:
    """The workflow's timer is set from the notices after a recording; the tick it fires
    must find the same notice due, so the notices change edition only with a recording."""
    early, _ = run(b.created(b.ksdd_proposal(), now=b.NOW, legacy=False), b.staff(), m.Submit(), b.NOW)
    reminder = next(n for n in L.notices(early) if n.key.endswith(":5"))
    # Five days of service before the 19th: the 12th under edition 1, which the tick
    # after the change still finds due at that moment.
    assert reminder.at.astimezone(WIB).date() == DECREED
    assert L.next_wakeup(early) == reminder.at
    assert [n.key for n in L.due_notices(early, reminder.at)] == [reminder.key]
    # A recording after the change times the same reminder with the newer edition: the 11th.
    commented, _ = run(early, b.staff(), m.Comment(text="Masih dibahas."), CHANGE + timedelta(hours=1))
    moved = next(n for n in L.notices(commented) if n.key == reminder.key)
    assert moved.at.astimezone(WIB).date() == date(2027, 1, 11)


# ---------------------------------------------------------------- writing the next edition


# An edition's `effective_from` must be ahead (the command refuses one past): two years on.
AHEAD = datetime(datetime.now(UTC).year + 2, 10, 1, tzinfo=UTC)


def printed_edition(text: str) -> Edition:
    module = ModuleType("edition_n")
    exec(text, module.__dict__)
    return Edition(module.NUMBER, module.EFFECTIVE_FROM, module.DAYS)


def test_the_calendar_command_prints_the_next_edition_with_the_decrees_corrections(capsys) -> None:
    argv = ["calendar", "edition", "--from", AHEAD.date().isoformat(), "--years", "2000-2060"]
    assert main([*argv, "--add", "2028-02-25", "--remove", "2028-02-27"]) == 0
    out = capsys.readouterr()
    edition = printed_edition(out.out)
    assert (edition.number, edition.effective_from) == (2, AHEAD)
    assert date(2028, 2, 25) in days_off(edition, 2028) and date(2028, 2, 27) not in days_off(edition, 2028)
    # What it changes against the latest edition goes to stderr, for the review.
    assert any(line.startswith("2028: +") for line in out.err.splitlines())


def test_the_calendar_command_refuses_an_edition_that_would_apply_before_the_latest() -> None:
    assert main(["calendar", "edition", "--from", "1999-12-31"]) == 2


def test_the_calendar_command_refuses_an_edition_in_force_before_its_deploy(capsys) -> None:
    # Decisions made since then counted with the latest edition: applied to them by the
    # deploy, their replay would count other days (another timer: an agreement frozen).
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert main(["calendar", "edition", "--from", yesterday]) == 2
    assert "past" in capsys.readouterr().err


def test_the_calendar_command_refuses_a_number_taken_years_reversed_and_a_correction_outside_its_years(
    capsys,
) -> None:
    ahead = AHEAD.date().isoformat()
    assert main(["calendar", "edition", "--from", ahead, "--number", "1"]) == 2
    assert "--number" in capsys.readouterr().err
    assert main(["calendar", "edition", "--from", ahead, "--years", "2030-2031", "--add", "2032-01-02"]) == 2
    assert "outside --years: 2032-01-02" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # an edition of no year would have no day off
        main(["calendar", "edition", "--from", ahead, "--years", "2060-2000"])
    assert refused.value.code == 2


def test_the_calendar_command_keeps_the_moment_asked_for_and_says_which_corrections_change_nothing(capsys) -> None:
    moment = AHEAD.replace(hour=1, minute=2, second=3)
    argv = ["calendar", "edition", "--from", moment.isoformat(), "--years", "2030-2031"]
    assert main([*argv, "--add", "2030-01-01", "--remove", "2030-01-02"]) == 0
    out = capsys.readouterr()
    assert printed_edition(out.out).effective_from == moment  # not 01:02, a few seconds early
    assert "--add 2030-01-01: already a day off" in out.err and "--remove 2030-01-02: not a day off" in out.err
    assert "no years 2000-2029, 2032-2060:" in out.err
