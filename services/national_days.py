"""Writing the next edition of the national days off (`pakta calendar edition`).

The decider counts days of service with frozen editions (`workflows.national_days`); this
is the one place that reads the `holidays` library, to print the module text of a new
edition — the installed release's Indonesian national holidays and cuti bersama, corrected
by dates an operator types from the decree (SKB 3 Menteri) — for an engineer to add.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import UTC, date, datetime
from importlib.metadata import version

from workflows.national_days import EDITIONS, Edition, days_off

CATEGORIES = ("public", "government")  # national holidays, cuti bersama
FIRST_YEAR, LAST_YEAR = 2000, 2060  # the years edition 1 holds


def from_holidays(years: Iterable[int]) -> dict[int, set[date]]:
    """The installed `holidays` release's national days off, year by year (as the decider
    asked for them before editions: one year at a time)."""
    from holidays.countries.indonesia import Indonesia

    return {year: set(Indonesia(years=year, categories=CATEGORIES)) for year in years}


def corrected(
    days: dict[int, set[date]], add: Iterable[date] = (), remove: Iterable[date] = ()
) -> dict[int, set[date]]:
    """`days` with the decree's dates added and the estimates it replaces removed."""
    out = {year: set(dates) for year, dates in days.items()}
    for day in add:
        out.setdefault(day.year, set()).add(day)
    for day in remove:
        out.get(day.year, set()).discard(day)
    return out


def module_text(number: int, effective_from: datetime, days: dict[int, set[date]], source: str) -> str:
    """The text of `workflows/national_days/edition_<number>.py`."""
    title = textwrap.wrap(f"Edition {number} of the national days off: {source}.", 92)
    lines = [
        '"""' + "\n".join(title),
        "",
        "Published: never edit it (workflows/national_days/__init__.py). Each year's days off by",
        'month, "month:day,day month:day", e.g. "8:17 12:24,25" for 17 August, 24-25 December."""',
        "",
        "from datetime import UTC, datetime",
        "",
        f"NUMBER = {number}",
        f"EFFECTIVE_FROM = datetime({_datetime_args(effective_from)}, tzinfo=UTC)",
        "DAYS = {",
    ]
    lines += [f'    {year}: "{year_text(days[year])}",' for year in sorted(days)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def year_text(days: Iterable[date]) -> str:
    """One year's days as the editions write them: "1:1 3:9,10,11 8:17"."""
    months: dict[int, list[int]] = {}
    for day in sorted(days):
        months.setdefault(day.month, []).append(day.day)
    return " ".join(f"{month}:{','.join(str(d) for d in ds)}" for month, ds in months.items())


def _datetime_args(moment: datetime) -> str:
    # Every part down to the microsecond: the edition applies from the moment asked for, not
    # from the minute before it.
    moment = moment.astimezone(UTC)
    parts = [moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.microsecond]
    while len(parts) > 3 and parts[-1] == 0:
        parts.pop()
    return ", ".join(str(p) for p in parts)


def spans(years: Iterable[int]) -> str:
    """Years as runs: "2000-2029, 2032-2060"."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def latest() -> Edition:
    return EDITIONS[-1]


def holidays_version() -> str:
    return version("holidays")


def changes(edition: Edition, days: dict[int, set[date]]) -> list[str]:
    """What `days` changes against `edition`, year by year: "2028: +3:16,17 -2:27"."""
    out = []
    for year in sorted(set(days) | set(edition.days)):
        before, after = days_off(edition, year), days.get(year, set())
        added, removed = year_text(after - before), year_text(before - after)
        if added or removed:
            out.append(f"{year}: +{added or '-'} -{removed or '-'}")
    return out
