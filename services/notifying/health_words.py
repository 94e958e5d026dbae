"""An implementation's health reasons in its reader's language, by the decider's code.

`workflows.lifecycle.health` says why an agreement is at risk with a code, the plan item's
id and an English sentence with ids ("Activity a1 should have ended."). That sentence stays
what the API and the recorded digests hold; readers get the one made here, by code, in
Indonesian or English, the item called by its own words and its organisation by its name.
The web pages (the agreement's health, `services.api.web.plan_words` takes the labels) and
the mails (the daily digest's "at risk" line, `services.notifying.render`) word reasons
here, so the two say one thing in one vocabulary. Pure."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from babel.numbers import format_decimal

LOCALES = {"id": "id_ID", "en": "en_GB"}  # as the pages' and the mails'

# A reason's code in a word or two: the pages' list of reasons, before the sentence.
LABELS: dict[str, dict[str, str]] = {
    "id": {
        "obligation_missed": "Kewajiban tidak dipenuhi",
        "obligation_overdue": "Kewajiban melewati tenggat",
        "activity_overdue": "Kegiatan melewati jadwal",
        "activity_behind": "Kegiatan tertinggal dari jadwal",
        "action_item_overdue": "Tindak lanjut rapat melewati tenggat",
        "indicator_behind": "Indikator di bawah sasaran antara",
    },
    "en": {
        "obligation_missed": "Obligation missed",
        "obligation_overdue": "Obligation overdue",
        "activity_overdue": "Activity overdue",
        "activity_behind": "Activity behind schedule",
        "action_item_overdue": "Action item overdue",
        "indicator_behind": "Indicator behind",
    },
}

# The sentence of each code. `{about}` is the item's own words (quoted, shortened), `{party}`
# its organisation's name, `{ref}` the indicator's name; the figures are written in the
# reader's language.
SENTENCES: dict[str, dict[str, str]] = {
    "id": {
        "obligation_missed": "{party} tidak memenuhi kewajiban “{about}”.",
        "obligation_overdue": "Kewajiban “{about}” dari {party} melewati tenggat.",
        "activity_overdue": "Kegiatan “{about}” dari {party} seharusnya sudah selesai.",
        "activity_behind": "Kegiatan “{about}” dari {party} baru {percent} % selesai; menurut jadwal {planned} %.",
        "action_item_overdue": "Tindak lanjut “{about}” dari {party} melewati tenggat.",
        "indicator_behind": (
            "Indikator “{ref}”: terukur {value} {unit}, seharusnya {expected} saat ini (sasaran {target})."
        ),
    },
    "en": {
        "obligation_missed": "{party} missed the obligation “{about}”.",
        "obligation_overdue": "The obligation “{about}” of {party} is overdue.",
        "activity_overdue": "The activity “{about}” of {party} should have ended.",
        "activity_behind": "The activity “{about}” of {party} is {percent}% done; its schedule expects {planned}%.",
        "action_item_overdue": "The action item “{about}” of {party} is overdue.",
        "indicator_behind": "Indicator “{ref}”: {value} {unit} measured, {expected} expected by now (target {target}).",
    },
}

# What each code's sentence needs; a reason without it (a digest recorded before the reason
# carried it) keeps its English sentence.
_NEEDS: dict[str, tuple[str, ...]] = {
    "obligation_missed": ("about", "party"),
    "obligation_overdue": ("about", "party"),
    "activity_overdue": ("about", "party"),
    "activity_behind": ("about", "party", "percent", "planned"),
    "action_item_overdue": ("about", "party"),
    "indicator_behind": ("ref", "value", "expected", "target"),
}
ABOUT_CHARS = 80  # an obligation's description can be a paragraph: a reason quotes its start


def _shortened(words: str) -> str:
    words = " ".join(words.split())
    return words if len(words) <= ABOUT_CHARS else words[: ABOUT_CHARS - 1].rstrip() + "…"


@lru_cache(maxsize=64)
def number(value: float, lang: str) -> str:
    """A figure as the pages write it: "12,5" in Indonesian, "12.5" in English."""
    if not math.isfinite(value) or abs(value) >= 1e15:
        return f"{value:g}"  # recorded before the figures' bound: as the decider's sentence has it
    return format_decimal(round(value, 1), locale=LOCALES.get(lang, LOCALES["id"]))


def _get(reason: Any, key: str) -> Any:
    return reason.get(key) if isinstance(reason, Mapping) else getattr(reason, key, None)


def sentence(reason: Any, lang: str, name: Callable[[str], str] = str) -> str:
    """`reason` (a `HealthReason`, or its JSON as a recorded digest holds it) as a sentence
    in `lang`, its organisation called `name(org)`. A reason this module cannot word (an
    unknown code, or recorded without its facts) keeps its own text."""
    code = _get(reason, "code")
    text = str(_get(reason, "text") or "")
    template = SENTENCES.get(lang, SENTENCES["id"]).get(code) if isinstance(code, str) else None
    if template is None:
        return text
    figures = _get(reason, "figures") or {}
    facts = {
        "about": _get(reason, "about"),
        "party": _get(reason, "party"),
        "ref": _get(reason, "ref"),
        **(figures if isinstance(figures, Mapping) else {}),
    }
    if any(facts.get(key) in (None, "") for key in _NEEDS[code]):
        return text
    words: dict[str, str] = {
        "about": _shortened(str(facts["about"] or "")),
        "party": name(str(facts["party"])) if facts["party"] else "",
        "ref": str(facts["ref"] or ""),
        "unit": str(_get(reason, "unit") or ""),
    }
    for key in ("percent", "planned", "value", "expected", "target"):
        if isinstance(facts.get(key), int | float):
            words[key] = number(float(facts[key]), lang)
    return " ".join(template.format(**words).split())
