"""The web pages as their people read them (issue #11, branch walk13): every value the
lifecycle records — a party's sector, a signature's method, an evaluation's
recommendation, a change's kind, the audit trail's events — in the reader's words, never
its enum name, and in the reader's language."""

from __future__ import annotations

import re

from services.api.web.life_words import EVENTS
from tests.web.live import LiveStack, csrf_of
from tests.web.test_public import act, in_implementation_with_a_score
from workflows.lifecycle.events import EVENT_PAYLOADS

# Words a page showed as the lifecycle's own names before (an enum value, an event type, a
# key of an event's data); none may reach a reader.
RAW = re.compile(
    r"\b(government|wet_ink|electronic|continue|amendment|renewal|approve|request_changes)\b"
    r"|\b[a-z]+_[a-z_]+\b|\b(gate|outcome|version|method|reason):"
)


def visible_text(html: str) -> str:
    """The page's main content as a reader sees it: no tags, attributes, scripts or styles."""
    main = html[html.index("<main") : html.index("</main>")]
    main = re.sub(r"<(script|style)\b.*?</\1>", " ", main, flags=re.S)
    return re.sub(r"<[^>]+>", " ", main)


def test_every_event_of_the_audit_trail_has_its_words_in_both_languages():
    assert sorted(EVENTS["id"]) == sorted(EVENT_PAYLOADS) == sorted(EVENTS["en"])


async def test_an_agreement_in_force_reads_in_the_readers_words_not_its_enum_names(web: LiveStack, orgs):
    province, regency = orgs
    agreement_id, _ = await in_implementation_with_a_score(web, province, regency)
    staff = web.user(province, "staff")
    amendment = {"type": "propose_amendment", "summary": "Tambah 200 SR.", "end_date": "2028-12-31"}
    assert (await act(web, staff, agreement_id, amendment)).status_code == 200
    client = await web.signed_in_client(staff)
    page = await client.get(f"/ui/agreements/{agreement_id}")
    text = visible_text(page.text)
    assert RAW.findall(text) == []
    assert "Pemerintah" in text and "Lanjutkan" in text and "Adendum #1" in text
    assert "Evaluasi disimpulkan" in text and "Perubahan dimulai" in text
    # The evaluation's form offers its recommendations in words, sending their values.
    await client.post("/ui/prefs", data={"csrf": csrf_of(page.text), "lang": "en", "next": "/ui/"})
    english = visible_text((await client.get(f"/ui/agreements/{agreement_id}")).text)
    assert RAW.findall(english) == []
    assert "Government" in english and "Continue" in english and "Amendment #1" in english
    assert "Evaluation concluded" in english and "Pemerintah" not in english
    await client.aclose()


async def test_a_termination_is_declined_from_its_own_form_and_counts_no_step_past_the_last(web: LiveStack, orgs):
    province, regency = orgs
    agreement_id, _ = await in_implementation_with_a_score(web, province, regency)
    staff = web.user(province, "staff")
    assert (await act(web, staff, agreement_id, {"type": "terminate", "reason": "Anggaran habis."})).status_code == 200
    head = await web.signed_in_client(web.user(regency, "approver", gates=("head",)))
    for path in (f"/ui/agreements/{agreement_id}", "/ui/inbox"):
        page = (await head.get(path)).text
        # Any outcome but approval declines a termination: the form says so, and offers no
        # "request changes" that would only decline it too.
        assert "Tolak pengakhiran" in page and "Minta perubahan" not in page, path
    page = (await head.get(f"/ui/agreements/{agreement_id}")).text
    # The termination is no step of the procedure: no "8/7".
    assert re.search(r"Pengakhiran kerja sama</strong>\s*\(", page) is None
    declined = await head.post(
        f"/ui/agreements/{agreement_id}/act",
        data={
            "csrf": csrf_of(page),
            "type": "decide",
            "gate": "head",
            "outcome": "reject",
            "comment": "Masih diperlukan.",
            "back": f"/ui/agreements/{agreement_id}",
            "idem": "decline-1",
        },
    )
    assert declined.status_code == 303, declined.text
    snapshot = (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()
    assert snapshot["stage"] == "implementation" and snapshot["termination"] is None
    assert [d["declined"] for d in snapshot["declined_terminations"]] == ["Masih diperlukan."]
    await head.aclose()


async def test_the_proposal_form_offers_a_partys_sectors_in_words(web: LiveStack, orgs):
    province, _ = orgs
    client = await web.signed_in_client(web.user(province, "staff"))
    page = (await client.get("/ui/agreements/new")).text
    assert '<option value="academia" >Perguruan tinggi</option>' in page
    assert ">academia<" not in page and ">government<" not in page
    await client.aclose()


async def test_the_page_after_an_action_names_it_in_words_and_never_echoes_the_address(web: LiveStack, orgs):
    province, regency = orgs
    agreement_id, _ = await in_implementation_with_a_score(web, province, regency)
    client = await web.signed_in_client(web.user(province, "staff"))
    created = await client.get(f"/ui/agreements/{agreement_id}?done=create")
    assert "Selesai. (Buat usulan)" in created.text
    # `done` is the address's: a link can hold any words, which the page must not repeat.
    forged = await client.get(f"/ui/agreements/{agreement_id}?done=Akun%20Anda%20ditutup")
    assert "Selesai." in forged.text and "Akun Anda ditutup" not in forged.text
    await client.aclose()


def test_every_command_a_page_may_report_done_has_its_words():
    from services.api.web.i18n import ACTIONS
    from workflows.messages import COMMAND_TYPES

    for lang in ("id", "en"):
        assert sorted(set(COMMAND_TYPES) - {"tick"} - set(ACTIONS[lang])) == [], lang
