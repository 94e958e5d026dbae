"""Where every Pakta process reads its time zones from: the pinned `tzdata` package only.

`zoneinfo` reads the host's zone files first (`/usr/share/zoneinfo`, the `TZPATH`) and the
`tzdata` package only when the host has none. The decider counts office hours and due dates
in each party's zone, and runs again on every replay: two workers with different zone files
(a developer's machine, an image, a host after `apt upgrade`) could decide the same history
differently — another timer is a non-determinism error, an agreement frozen. So the zone
path is emptied here, once, when the `workflows` package is first imported (every process
imports it: `services` does so first): every `ZoneInfo` then comes from the `tzdata` release
`constraints.txt` pins, a zone data edition like the national days' (docs/lifecycle.md).
The workflow sandbox passes `zoneinfo` through (a standard-library module), so workflows
read the same data.

`zone(name)` is what the decider builds a zone with from recorded data: total, so that a
zone a later release no longer knows (or one an older Pakta let through) counts as
`DEFAULT_ZONE` rather than raising on every replay.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

DEFAULT_ZONE = "Asia/Jakarta"  # WIB: where most parties and users are


def pin_zone_data() -> None:
    """Read zones from the `tzdata` package alone, whatever the host or `PYTHONTZPATH` has;
    zones built before (from the host's files) are dropped from `zoneinfo`'s cache. Once
    per process: a workflow sandbox that imports `workflows` afresh (the SDK's default
    runner; Pakta's passes it through) shares the host's `zoneinfo`, pinned already — and
    may not clear its cache."""
    if zoneinfo.TZPATH:
        zoneinfo.reset_tzpath(to=())
        zoneinfo.ZoneInfo.clear_cache()


def is_known(name: str) -> bool:
    """Whether the pinned zone data knows `name`."""
    return zone(name).key == name


@lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone `name`, or `DEFAULT_ZONE`'s when the zone data does not know it (a name a
    later release dropped; anything else a recording holds). Never raises: the decider
    computes due dates and wake-ups with it on replay."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return zoneinfo.ZoneInfo(DEFAULT_ZONE)


def known_or_default(name: str) -> str:
    """`name` if the zone data knows it, else `DEFAULT_ZONE` (which rules a zone's name
    decides — Indonesia's national days off — follow the zone the times are counted in)."""
    return name if is_known(name) else DEFAULT_ZONE
