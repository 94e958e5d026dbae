"""The Sustainable Development Goals as data shipped with Pakta: the 17 goals and their 169
targets (`workflows/data/sdg/sdg-<version>.json`, short target texts), which agreements
name among their development goals.

Read once at import from Pakta's own package (no I/O afterwards, so the decider may ask it
inside a workflow). A new edition of the framework is a new file and a new `VERSION`;
goals recorded under an older one keep their codes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VERSION = "2017"
_DATA = Path(__file__).parent / "data" / "sdg" / f"sdg-{VERSION}.json"


def _load() -> dict[str, Any]:
    with _DATA.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


_FRAMEWORK = _load()
# code -> (Indonesian, English) name of a goal, or (English, English) short text of a target
GOALS: dict[str, tuple[str, str]] = {g["code"]: (g["name"]["id"], g["name"]["en"]) for g in _FRAMEWORK["goals"]}
TARGETS: dict[str, str] = {t["code"]: t["text"] for g in _FRAMEWORK["goals"] for t in g["targets"]}
assert len(GOALS) == 17 and len(TARGETS) == 169, "the SDG data holds 17 goals and 169 targets"


def known(code: str) -> bool:
    """Whether `code` names an SDG goal ("4") or target ("4.1", "17.a")."""
    return code in GOALS or code in TARGETS


def title(code: str) -> str | None:
    """The English name of a goal or short text of a target."""
    if code in GOALS:
        return GOALS[code][1]
    return TARGETS.get(code)
