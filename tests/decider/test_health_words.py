"""The decider's health reasons as their readers read them (issue #11, branch words16):
every code it gives worded in Indonesian and English by `services.notifying.health_words`,
the plan item by its own words and its organisation by its name, never by their ids; the
same words on the pages and in the mails."""

from __future__ import annotations

from datetime import datetime

import pytest

from services.api.web.i18n import Translator
from services.notifying import health_words
from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m

JABAR, JATENG = b.INITIATOR, b.REGION
NAMES = {JABAR: "Pemerintah Provinsi Jawa Barat", JATENG: "Pemerintah Provinsi Jawa Tengah"}


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T03:00:00+00:00")  # 10:00 WIB


def every_reason() -> list[m.HealthReason]:
    """The reasons of agreements behind in every way the decider reckons, one of each code."""
    state = b.implemented(b.planned_proposal())
    found = list(L.health(state, at("2027-08-01")).reasons)  # O2 overdue, A1 behind
    found += L.health(state, at("2028-02-01")).reasons  # A1 should have ended
    missed, _ = b.run(state, b.staff(), m.SettleObligation(obligation="O3", outcome="missed", note="x"))
    found += L.health(missed, at("2027-03-01")).reasons
    meeting = m.ScheduleMeeting(title="Rapat", at=at("2027-02-10"), participants=[JABAR, JATENG], agenda=["Data"])
    met, _ = b.run(state, b.staff(), meeting)
    decision = m.MeetingDecision(text="Kirim data kunjungan", party=JATENG, due_on="2027-03-01")
    minutes = m.RecordMinutes(meeting=1, document=b.doc("n"), decisions=[decision])
    met, _ = b.run(met, b.staff(), minutes, at("2027-02-11"))
    found += L.health(met, at("2027-03-05")).reasons
    measured = b.implemented(
        b.planned_proposal(obligations=[], activities=[b.activity("A1", JABAR, "2027-02-01", "2029-12-01")])
    )
    measured, _ = b.run(measured, b.staff(), m.ReportProgress(activity="A1", percent=60), at("2028-06-01"))
    measure = m.RecordMeasurement(indicator="Puskesmas terhubung", value=10, measured_on="2028-06-01", source="Dinkes")
    measured, _ = b.run(measured, b.staff(), measure, at("2028-06-01"))
    found += L.health(measured, at("2028-06-02")).reasons
    return list({r.code: r for r in found}.values())


REASONS = every_reason()


def test_the_decider_gives_every_code_the_readers_words_know():
    codes = {r.code for r in REASONS}
    assert codes == set(health_words.SENTENCES["id"]) == set(health_words.SENTENCES["en"])
    assert codes == set(health_words.LABELS["id"]) == set(health_words.LABELS["en"])


@pytest.mark.parametrize("reason", REASONS, ids=lambda r: r.code)
@pytest.mark.parametrize("lang", ["id", "en"])
def test_each_reason_reads_in_its_readers_language_by_the_items_words_and_the_partys_name(reason, lang):
    said = health_words.sentence(reason, lang, lambda org: NAMES.get(org, org))
    assert said != reason.text and "{" not in said and "}" not in said
    if reason.code != "indicator_behind":  # an indicator's name is its only name
        assert reason.ref not in said.split() and reason.about and reason.about[:20] in said
        assert NAMES[reason.party] in said and f" {reason.party} " not in f" {said} "
    # The page's label is the same vocabulary's.
    assert Translator(lang, "Asia/Jakarta").t(reason.code) == health_words.LABELS[lang][reason.code]


def test_figures_read_as_their_language_writes_them():
    behind = next(r for r in REASONS if r.code == "indicator_behind")
    assert "terukur 10 puskesmas, seharusnya" in health_words.sentence(behind, "id")
    half = behind.model_copy(update={"figures": {**behind.figures, "value": 12.5}})
    assert "terukur 12,5 puskesmas" in health_words.sentence(half, "id")
    assert "12.5 puskesmas measured" in health_words.sentence(half, "en")


def test_a_reason_without_its_facts_keeps_its_own_sentence():
    # As a reason recorded before it carried them (a digest in an outbox row), or a code
    # no words exist for yet.
    bare = m.HealthReason(code="obligation_missed", ref="O3", text="jateng missed obligation O3.")
    assert health_words.sentence(bare, "id") == "jateng missed obligation O3."
    assert health_words.sentence(bare.model_dump(mode="json") | {"code": "new_code"}, "en") == bare.text
