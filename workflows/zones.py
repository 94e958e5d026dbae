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
"""

from __future__ import annotations

import zoneinfo


def pin_zone_data() -> None:
    """Read zones from the `tzdata` package alone, whatever the host or `PYTHONTZPATH` has;
    zones built before (from the host's files) are dropped from `zoneinfo`'s cache."""
    zoneinfo.reset_tzpath(to=())
    zoneinfo.ZoneInfo.clear_cache()
