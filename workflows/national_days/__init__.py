"""Indonesia's national days off — national holidays and collective leave (*cuti bersama*) —
as frozen, dated editions: the data the decider counts days of service with.

The decider runs again on every replay, so what it counts with must never change under a
running agreement: not when a worker installs a newer `holidays` release (which replaces
estimated Islamic holidays with the decreed dates and adds the next year's cuti bersama),
nor when the project upgrades it on purpose. So the dates live here, as literals, one
module per edition (`edition_1`, ...), and `holidays` is read only by
`pakta calendar edition` (services/national_days.py), which writes the text of the next one.

An edition applies from its `effective_from`: a decision at `now` counts with the newest
edition effective at `now` (`edition_at`), so every decision an older release made replays
with the edition it used. A published edition is never edited; a new one is added with
`effective_from` at least a week after the release carrying it is deployed
(docs/lifecycle.md, "Days of service").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from types import MappingProxyType, ModuleType

from workflows.national_days import edition_1


# eq=False: an edition is one object, hashed by identity, so a `Calendar` holding it stays a
# cheap cache key, and a test's edition is never taken for a published one.
@dataclass(frozen=True, eq=False)
class Edition:
    """`days`: per year, its days off by month, "month:day,day month:day" (a year missing
    has none: only weekends and a region's own days off are not office days then)."""

    number: int
    effective_from: datetime
    days: Mapping[int, str]


def _published(module: ModuleType) -> Edition:
    """An edition module's literals, read-only: nothing at run time may change a date."""
    return Edition(module.NUMBER, module.EFFECTIVE_FROM, MappingProxyType(module.DAYS))


# The published editions, oldest first. Tests that need a later edition replace this tuple
# for the test's duration (tests/decider/test_national_days.py, `later_edition`); nothing
# else ever changes it.
EDITIONS: tuple[Edition, ...] = (_published(edition_1),)


def edition_at(moment: datetime, editions: Sequence[Edition] | None = None) -> Edition:
    """The newest edition effective at `moment` (the first one before any was)."""
    editions = EDITIONS if editions is None else editions
    current = editions[0]
    for edition in editions[1:]:
        if edition.effective_from <= moment:
            current = edition
    return current


@lru_cache(maxsize=1024)
def days_off(edition: Edition, year: int) -> frozenset[date]:
    """The national days off of `year` in `edition`, parsed once per (edition, year)."""
    out: set[date] = set()
    for month_days in edition.days.get(year, "").split():
        month, days = month_days.split(":")
        out.update(date(year, int(month), int(day)) for day in days.split(","))
    return frozenset(out)


def edition_numbered(number: int, editions: Sequence[Edition] | None = None) -> Edition:
    """The edition `number` (a due date recounted at a new edition keeps its number)."""
    editions = EDITIONS if editions is None else editions
    return next(edition for edition in editions if edition.number == number)
