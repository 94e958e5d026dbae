"""A recounted deadline on the agreement's timeline says which date moved where, in both
languages: staff see why the date they planned on changed."""

from __future__ import annotations

from datetime import datetime

import pytest

from services.api.web.i18n import Translator

RECOUNTED = {
    "deadline": "step",
    "due_at": "2027-01-19T09:00:00+00:00",
    "previous_due_at": "2027-01-18T09:00:00+00:00",
    "org": "jabar",
}


@pytest.mark.parametrize(("lang", "words"), [("id", "Tenggat dihitung ulang"), ("en", "Deadline recounted")])
def test_a_recounted_deadline_reads_as_its_old_and_new_date(lang: str, words: str) -> None:
    tr = Translator(lang, "Asia/Jakarta")
    line = tr.event("deadline_recounted", RECOUNTED)
    old, new = (tr.datetime(datetime.fromisoformat(RECOUNTED[k])) for k in ("previous_due_at", "due_at"))
    assert line.startswith(words)
    assert f"{old} → {new}" in line and "16:00" in new


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("id", "Tenggat dihitung ulang dengan kalender nasional baru (edisi 2)"),
        ("en", "Deadline recounted with the new national calendar (edition 2)"),
    ],
)
def test_a_deadline_recounted_at_a_new_national_edition_names_the_edition_not_the_days_off(
    lang: str, words: str
) -> None:
    tr = Translator(lang, "Asia/Jakarta")
    data = {k: v for k, v in RECOUNTED.items() if k != "org"} | {"reason": "national_calendar", "edition": 2}
    line = tr.event("deadline_recounted", data)
    old, new = (tr.datetime(datetime.fromisoformat(RECOUNTED[k])) for k in ("previous_due_at", "due_at"))
    assert line == f"{words} · {old} → {new}"
