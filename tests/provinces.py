"""Province codes for tests that register a province's government: the register holds one
government per province and the session shares one database, so each such test takes a
province no other test of the session has taken (38 in all)."""

from __future__ import annotations

from services.store.register import provinces

# Jawa Barat and Jawa Tengah: the demo's (services/demo_people.py), registered by a test.
_TAKEN: set[str] = {"32", "33"}


def unused_province() -> str:
    """A province code no test of this session has registered a government for yet."""
    free = [code for code in provinces() if code not in _TAKEN]
    assert free, "every province's government is registered in this session: use fewer"
    _TAKEN.add(free[-1])
    return free[-1]
