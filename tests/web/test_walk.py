"""The web pages as their people read them (issue #11, branch walk13): every value the
lifecycle records — a party's sector, a signature's method, an evaluation's
recommendation, a change's kind, the audit trail's events — in the reader's words, never
its enum name, and in the reader's language."""

from __future__ import annotations

import re

from services.api.web.life_words import EVENTS
from tests.web.live import LiveStack, csrf_of
from tests.web.test_pages import proposal
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
    from workflows.messages import COMMAND_TYPES, SYSTEM_COMMAND_TYPES

    # The system's commands (`tick`, `refresh_party_settings`) are no one's action on a page.
    for lang in ("id", "en"):
        assert sorted(set(COMMAND_TYPES) - SYSTEM_COMMAND_TYPES - set(ACTIONS[lang])) == [], lang


async def in_force_with_an_open_evaluation(web: LiveStack, org: str, partner: str) -> str:
    """An agreement signed on paper and imported, with two indicators and its first
    evaluation open; its id."""
    admin = web.user(org, "admin")
    signed = await web.api(admin, "POST", "/documents", content=b"signed\n", headers={"Content-Type": "text/plain"})
    indicators = [
        {"name": "Sambungan rumah", "target": 1234567, "unit": "SR"},
        {"name": "Debit air", "target": 2.5, "unit": "l/s"},
    ]
    body = proposal(org, partner, start_date="2026-01-01", indicators=indicators)
    record = {"ref": f"PKS/{org}/angka", "signed_on": "2025-12-20", "document": signed.json()["sha256"]}
    imported = await web.api(admin, "POST", "/agreements/import", json=[record | {"proposal": body}])
    assert imported.status_code == 200, imported.text
    agreement_id = str(imported.json()["imported"][0]["id"])
    assert (await act(web, web.user(org, "staff"), agreement_id, {"type": "start_evaluation"})).status_code == 200
    return agreement_id


async def test_numbers_are_read_as_the_reader_writes_them_and_an_ambiguous_one_is_asked_again(web: LiveStack, orgs):
    # The pages show "1.000" for a thousand in Indonesian, and a report of "1.000" was
    # recorded as one; "1.250,5" was refused with the command's field path for a name.
    province, regency = orgs
    agreement_id = await in_force_with_an_open_evaluation(web, province, regency)
    staff = web.user(province, "staff")
    client = await web.signed_in_client(staff)
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    report = {"csrf": csrf_of(page), "type": "submit_evaluation_report", "evaluation": "1", "narrative": "Baik."}
    ambiguous = await client.post(
        f"/ui/agreements/{agreement_id}/act", data=report | {"achieved-0": "1.000", "achieved-1": "1.5", "idem": "r1"}
    )
    assert ambiguous.status_code == 422
    assert "Debit air: Masukkan angka, dengan titik pemisah ribuan dan koma desimal" in ambiguous.text
    assert "results" not in visible_text(ambiguous.text)
    sent = await client.post(
        f"/ui/agreements/{agreement_id}/act", data=report | {"achieved-0": "1.000", "achieved-1": "1,5", "idem": "r2"}
    )
    assert sent.status_code == 303, sent.text
    snapshot = (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()
    results = snapshot["evaluations"][0]["reports"][0]["results"]
    assert [(r["indicator"], r["achieved"]) for r in results] == [("Sambungan rumah", 1000), ("Debit air", 1.5)]
    # The proposal's edit form held a target as "1.23457e+06", six digits of it, which a save
    # then recorded; it holds every digit, as the reader writes them.
    indicators = snapshot["indicators"]
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency, indicators=indicators))
    draft_id = created.json()["id"]
    edit = await client.get(f"/ui/agreements/{draft_id}/edit")
    assert 'value="1234567"' in edit.text and 'value="2,5"' in edit.text
    await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
    english = await client.get(f"/ui/agreements/{draft_id}/edit")
    assert 'value="1234567"' in english.text and 'value="2.5"' in english.text
    await client.aclose()


async def test_a_report_of_not_a_number_or_infinity_is_asked_again_by_its_indicator(web: LiveStack, orgs):
    # Babel reads "NaN", "Infinity" and "1e400" as numbers: passed on, the command refused
    # them as "results-1-achieved: Masukkan angka.", its field path for a name.
    province, regency = orgs
    agreement_id = await in_force_with_an_open_evaluation(web, province, regency)
    client = await web.signed_in_client(web.user(province, "staff"))
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    report = {"csrf": csrf_of(page), "type": "submit_evaluation_report", "evaluation": "1", "narrative": "Baik."}
    for number, written in enumerate(("NaN", "Infinity", "-inf", "1e400")):
        refused = await client.post(
            f"/ui/agreements/{agreement_id}/act",
            data=report | {"achieved-0": "12", "achieved-1": written, "idem": f"n{number}"},
        )
        assert refused.status_code == 422, written
        assert "Debit air: Masukkan angka, dengan titik pemisah ribuan dan koma desimal" in refused.text, written
        assert "results" not in visible_text(refused.text), written
    await client.aclose()


async def test_a_term_shows_its_months_until_its_end_is_known_then_its_end_alone(web: LiveStack, orgs):
    # A proposal's term read "1 Januari 2027 — (24 bulan)", its end left blank; and an
    # amendment that moved the end kept the proposal's months beside it, which then
    # disagreed with it ("10 Desember 2026 — 30 Juni 2029 (24 bulan)").
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    assert created.status_code == 201, created.text
    in_force, _ = await in_implementation_with_a_score(web, province, regency)
    client = await web.signed_in_client(staff)
    draft = visible_text((await client.get(f"/ui/agreements/{created.json()['id']}")).text)
    assert "1 Januari 2027, 24 bulan" in draft and "— (" not in draft
    signed = visible_text((await client.get(f"/ui/agreements/{in_force}")).text)
    end = (await web.api(staff, "GET", f"/agreements/{in_force}")).json()["end_date"]
    assert end.startswith("2028-01-01") and "1 Januari 2026 — 1 Januari 2028" in signed
    assert re.search(r"1 Januari 2028 \(\d+ bulan\)", signed) is None
    await client.aclose()


async def test_a_reader_with_nothing_to_do_is_told_so_and_a_closed_proposal_opens_no_edit_form(web: LiveStack, orgs):
    # An auditor, or anyone on a withdrawn agreement, saw "What you can do" over nothing;
    # the proposal form opened for a withdrawn agreement, whose save the decider refuses.
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = created.json()["id"]
    assert (await act(web, staff, agreement_id, {"type": "withdraw", "reason": "Ganda."})).status_code == 200
    for user in (web.user("bpk", "auditor"), staff):
        client = await web.signed_in_client(user)
        page = visible_text((await client.get(f"/ui/agreements/{agreement_id}")).text)
        assert "Tidak ada yang dapat Anda lakukan pada perjanjian ini sekarang." in page, user
        await client.aclose()
    client = await web.signed_in_client(staff)
    edit = await client.get(f"/ui/agreements/{agreement_id}/edit")
    assert edit.status_code == 303 and edit.headers["location"] == f"/ui/agreements/{agreement_id}"
    await client.aclose()


async def test_an_addendums_draft_is_named_as_the_addendum_it_belongs_to(web: LiveStack, orgs):
    # The drafts table read "ADENDUM (amendment-1)", the change's key.
    province, regency = orgs
    staff = web.user(province, "staff")
    agreement_id, _ = await in_implementation_with_a_score(web, province, regency)
    amendment = {"type": "propose_amendment", "summary": "Tambah SR."}
    assert (await act(web, staff, agreement_id, amendment)).status_code == 200
    text = await web.api(staff, "POST", "/documents", content=b"# Adendum\n", headers={"Content-Type": "text/markdown"})
    draft = {"type": "submit_draft", "document": text.json()["sha256"]}
    assert (await act(web, staff, agreement_id, draft)).status_code == 200
    client = await web.signed_in_client(staff)
    page = visible_text((await client.get(f"/ui/agreements/{agreement_id}")).text)
    assert "(Adendum #1)" in page and "amendment-1" not in page
    await client.aclose()


async def test_a_regions_staff_state_its_dprd_requirement_from_the_agreements_page(web: LiveStack, orgs):
    # The decider lets a government party's staff state the facts its DPRD approval follows
    # from; the page offered no form for it, so only the API could.
    province, regency = orgs
    staff = web.user(province, "staff")
    created = await web.api(staff, "POST", "/agreements", json=proposal(province, regency))
    agreement_id = created.json()["id"]
    client = await web.signed_in_client(staff)
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    assert "Nyatakan keperluan persetujuan DPRD" in page and 'name="request-aims"' in page
    form = {
        "csrf": csrf_of(page),
        "type": "set_dprd_requirement",
        "burdens_public": "on",
        "back": f"/ui/agreements/{agreement_id}",
        "idem": "dprd-1",
    }
    # Burdening the public needs the request to the DPRD on record: the page says so.
    refused = await client.post(f"/ui/agreements/{agreement_id}/act", data=form)
    assert refused.status_code == 422 and "DPRD" in refused.text
    request = {
        "request-aims": "Air minum bagi dua wilayah.",
        "request-object": "SPAM regional.",
        "request-rights_and_duties": "Provinsi membangun, kabupaten mengelola.",
        "request-benefits": "200 SR baru.",
        "request-burden": "Tarif air.",
        "request-apbd_contribution": "1.500.000.000",
        "request-duration_months": "24",
    }
    done = await client.post(f"/ui/agreements/{agreement_id}/act", data={**form, **request, "idem": "dprd-2"})
    assert done.status_code == 303, done.text
    party = next(
        p
        for p in (await web.api(staff, "GET", f"/agreements/{agreement_id}")).json()["parties"]
        if p["org"] == province
    )
    assert party["dprd"]["burdens_public"] is True and party["dprd"]["budgeted_in_apbd"] is False
    assert party["dprd"]["request"]["apbd_contribution"] == 1_500_000_000  # read as Indonesian writes it
    # The form shows what is on record when it is opened again.
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    assert "Air minum bagi dua wilayah." in page and 'value="1500000000"' in page
    await client.aclose()


async def test_the_deadline_extension_form_offers_only_the_deadlines_the_decider_would_extend(web: LiveStack, orgs):
    # Before an evaluation is open there is no report deadline to extend: the form offered it
    # anyway and the decider refused it.
    province, regency = orgs
    staff = web.user(province, "staff")
    agreement_id = (await web.api(staff, "POST", "/agreements", json=proposal(province, regency))).json()["id"]
    assert (await act(web, staff, agreement_id, {"type": "submit"})).status_code == 200
    client = await web.signed_in_client(staff)
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    assert 'name="deadline"' in page and '<option value="step">' in page
    assert '<option value="evaluation_report">' not in page
    await client.aclose()
