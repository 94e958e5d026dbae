"""Digest rules, pure: on which office day an organisation's digest is due, in which zone.
(The sweep that sends them, on Temporal with real activities, is in tests/worker/test_portfolio.py.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifying import names, render
from tests import builders as b
from tests.zones import zone_of
from workflows import messages as m
from workflows.portfolio import digest as d


@pytest.mark.asyncio(loop_scope="session")
async def test_digest_day_follows_each_zone():
    at = datetime(2027, 5, 3, 1, 0, tzinfo=UTC)  # 08:00 WIB, 09:00 WITA, 10:00 WIT
    assert d.digest_day(at, zone_of("Jawa Barat"), until_hour=9) == date(2027, 5, 3)
    assert d.digest_day(at, zone_of("Bali"), until_hour=9) is None  # WITA got it an hour earlier
    assert d.digest_day(at - timedelta(hours=1), zone_of("Bali"), until_hour=9) == date(2027, 5, 3)
    assert d.digest_day(at - timedelta(hours=2), zone_of("Papua"), until_hour=9) == date(2027, 5, 3)
    assert d.digest_day(at - timedelta(hours=1), zone_of("Jawa Barat")) is None  # 07:00 WIB
    # Missed the 08:00 run: caught up later the same office day, not in the evening.
    assert d.digest_day(at + timedelta(hours=3), zone_of("Jawa Barat")) == date(2027, 5, 3)
    assert d.digest_day(at + timedelta(hours=10), zone_of("Jawa Barat")) is None
    # Half-hour zones: the hourly run at xx:00 UTC lands at 08:30 local.
    assert d.digest_day(datetime(2027, 5, 3, 3, 0, tzinfo=UTC), "Asia/Kolkata", until_hour=9) == date(2027, 5, 3)
    assert d.org_zone("x", ["Asia/Makassar", "Asia/Jakarta", "Asia/Makassar"]) == "Asia/Makassar"
    assert d.org_zone("x", [], ["Asia/Jayapura"]) == "Asia/Jayapura"
    assert d.org_zone("x") == "Asia/Jakarta"


def test_the_digest_lists_agreements_whose_implementation_is_at_risk():
    """#13: an obligation missed puts the agreement off track; the parties' digests say so,
    with the reason."""
    state = b.implemented(b.planned_proposal())
    state, _ = b.run(state, b.staff(), m.SettleObligation(obligation="O3", outcome="missed", note="Tanpa petugas"))
    digest = d.build_digest(b.REGION, [state, b.implemented()], b.NOW + timedelta(days=1), "Asia/Jakarta")
    assert [(i.agreement_id, i.health) for i in digest.at_risk.items] == [(state.id, "off_track")]
    assert digest.at_risk.items[0].reason == "jateng missed obligation O3." and not digest.empty
    out = render.render(d.digest_notification(digest), language="en", name="Siti", public_url="https://pakta.test")
    assert "off track: jateng missed the obligation “staff dari jateng”." in out.text


def at_risk_digest() -> d.Digest:
    state = b.implemented(b.planned_proposal())
    state, _ = b.run(state, b.staff(), m.SettleObligation(obligation="O3", outcome="missed", note="Tanpa petugas"))
    return d.build_digest(b.INITIATOR, [state], b.NOW + timedelta(days=1), "Asia/Jakarta")


def test_the_digest_says_why_in_its_readers_language_by_the_obligations_words_and_its_partys_name():
    note = d.digest_notification(at_risk_digest())
    assert names.named_orgs(note) == {b.INITIATOR, b.REGION}  # the digest's organisation, and the reason's
    jateng = {"id": "Pemerintah Provinsi Jawa Tengah", "en": "Central Java Provincial Government"}
    said = {
        lang: render.render(
            note, language=lang, name="Siti", public_url="https://pakta.test", names={b.REGION: jateng[lang]}
        )
        for lang in ("id", "en")
    }
    assert (
        "- Kerja sama ksdd kesehatan: menyimpang dari rencana: Pemerintah Provinsi Jawa Tengah tidak memenuhi "
        "kewajiban “staff dari jateng”."
    ) in said["id"].text
    assert "off track: Central Java Provincial Government missed the obligation “staff dari jateng”." in said["en"].text
    for out in said.values():
        assert "O3" not in out.text and "missed obligation" not in out.text and "O3" not in out.html


def test_a_digest_recorded_before_its_items_held_the_reasons_code_reads_as_it_did():
    # An outbox or inbox row written before: its item has the English sentence only.
    note = d.digest_notification(at_risk_digest())
    recorded = note.model_copy(deep=True)
    for item in recorded.data["at_risk"]["items"]:
        del item["why"]
    assert names.named_orgs(recorded) == {b.INITIATOR}
    out = render.render(recorded, language="id", name="Siti", public_url="https://pakta.test")
    assert "menyimpang dari rencana: jateng missed obligation O3." in out.text
