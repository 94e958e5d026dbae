"""`pakta zones compare`: where two editions of the zone data give different UTC offsets.

The decider reads zones from the pinned `tzdata` package only (`workflows.zones`), so a
`tzdata` bump in `make lock` is a zone data edition, like a national days' edition: a
decision replayed with the new rules must count as it did. Before merging one, compare the
installed (pinned) release with the new one (`.lock-venv`'s `tzdata/zoneinfo`), or with the
zone files the processes read before they were pinned (`/usr/share/zoneinfo`): the zones
whose offsets differ, and from when to when (docs/lifecycle.md, "Zone data").

Zone files of two builds differ in bytes even for the same rules (fat and slim files), so
offsets are compared, not files: at the start of every UTC day, and every quarter of an
hour through a day in which either zone changes its offset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

DAY, FINE = timedelta(days=1), timedelta(minutes=15)


@dataclass(frozen=True)
class Difference:
    """From `start` to `end` (UTC), `zone` is `pinned` from UTC in the pinned data and
    `other` in the other."""

    zone: str
    start: datetime
    end: datetime
    pinned: timedelta | None
    other: timedelta | None


def names_in(directory: Path) -> set[str]:
    """The zone names a zone files' directory holds (not its `posix/` and `right/` copies)."""
    found = set()
    for root, _, files in os.walk(directory):
        for name in files:
            key = Path(root, name).relative_to(directory).as_posix()
            if key[0].isupper() and key.split("/")[0] not in ("posix", "right") and "." not in key:
                found.add(key)
    return found


def pinned_names() -> set[str]:
    """The zone names of the installed `tzdata` package."""
    return set(resources.files("tzdata").joinpath("zones").read_text().split())


def compare(directory: Path, first_year: int, last_year: int, names: set[str] | None = None) -> Iterator[Difference]:
    """Every span of the years asked for in which a zone of both the pinned data and
    `directory` (of `names`, if given) has another offset in one than in the other."""
    start, end = datetime(first_year, 1, 1, tzinfo=UTC), datetime(last_year + 1, 1, 1, tzinfo=UTC)
    for name in sorted((pinned_names() & names_in(directory)) if names is None else names):
        with open(directory / name, "rb") as file:
            other = ZoneInfo.from_file(file, key=name)
        yield from _spans(name, ZoneInfo(name), other, start, end)


def _spans(name: str, pinned: ZoneInfo, other: ZoneInfo, start: datetime, end: datetime) -> Iterator[Difference]:
    span: Difference | None = None
    for moment, offsets in _offsets(pinned, other, start, end):
        if offsets[0] != offsets[1] and span is None:
            span = Difference(name, moment, end, *offsets)
        elif offsets[0] != offsets[1] and span is not None and offsets != (span.pinned, span.other):
            yield Difference(name, span.start, moment, span.pinned, span.other)
            span = Difference(name, moment, end, *offsets)
        elif offsets[0] == offsets[1] and span is not None:
            yield Difference(name, span.start, moment, span.pinned, span.other)
            span = None
    if span is not None:
        yield span


def _offsets(
    a: ZoneInfo, b: ZoneInfo, start: datetime, end: datetime
) -> Iterator[tuple[datetime, tuple[timedelta | None, timedelta | None]]]:
    """The two offsets at each moment where they may change: the start of every day, and
    every quarter of an hour through a day in which either changes."""
    moment = start
    now = (moment.astimezone(a).utcoffset(), moment.astimezone(b).utcoffset())
    while moment < end:
        yield moment, now
        later = min(moment + DAY, end)
        then = (later.astimezone(a).utcoffset(), later.astimezone(b).utcoffset())
        if then != now:
            step = moment + FINE
            while step < later:
                yield step, (step.astimezone(a).utcoffset(), step.astimezone(b).utcoffset())
                step += FINE
        moment, now = later, then
