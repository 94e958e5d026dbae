"""A refusal the agreement's page words by its code, in the reader's language: one more
extension of a due date extended the most times (422 `too_many_extensions`, trust17),
whose API message is English with a count in it."""

from __future__ import annotations

import html as markup
import re

import pytest

from tests.web.live import LiveStack, csrf_of
from tests.web.test_pages import proposal
from tests.web.test_public import act
from workflows.lifecycle.bounds import EXTENSIONS_PER_DUE_DATE

WORDS = {
    "id": f"Tenggat ini sudah diperpanjang {EXTENSIONS_PER_DUE_DATE} kali, batas untuk satu tenggat; "
    "tidak ada yang diubah.",
    "en": f"This due date has been extended {EXTENSIONS_PER_DUE_DATE} times, the most one due date may be; "
    "nothing was changed.",
}


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_one_more_extension_of_a_due_date_extended_the_most_times_is_refused_in_the_readers_language(
    web: LiveStack, orgs, lang
):
    province, regency = orgs
    staff = web.user(province, "staff")
    agreement_id = (await web.api(staff, "POST", "/agreements", json=proposal(province, regency))).json()["id"]
    assert (await act(web, staff, agreement_id, {"type": "submit"})).status_code == 200
    for i in range(EXTENSIONS_PER_DUE_DATE):
        extension = {"type": "extend_deadline", "deadline": "step", "days": 1, "reason": f"Perpanjangan {i + 1}"}
        assert (await act(web, staff, agreement_id, extension)).status_code == 200
    refused = await act(web, staff, agreement_id, {**extension, "reason": "Sekali lagi"})
    assert refused.status_code == 422 and refused.json()["error"]["message"] == WORDS["en"]  # the API's stays

    client = await web.signed_in_client(staff)
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    if lang == "en":
        await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
        page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    form = {"csrf": csrf_of(page), "type": "extend_deadline", "deadline": "step", "days": "1", "reason": "Lagi"}
    answer = await client.post(f"/ui/agreements/{agreement_id}/act", data=form)
    assert answer.status_code == 422, answer.text
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', answer.text, re.S)
    assert alert is not None, answer.text
    text = markup.unescape(re.sub(r"<[^>]+>", "", alert.group(1)))
    assert WORDS[lang] in text, text
    await client.aclose()


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_a_refusal_of_the_decider_reads_in_the_readers_language_with_the_rules_particulars(
    web: LiveStack, orgs, lang
):
    """A form the decider refuses as not possible now (accepting a draft of a proposal: 409
    `invalid_transition`, branch left18): the Indonesian page says so in Indonesian, the stage
    in words, and keeps the rule's own English words after it, marked as such; the English
    page shows the API's message."""
    province, regency = orgs
    staff = web.user(province, "staff")
    agreement_id = (await web.api(staff, "POST", "/agreements", json=proposal(province, regency))).json()["id"]
    refused = await act(web, staff, agreement_id, {"type": "accept_draft", "version": 1})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_transition", refused.text
    message = refused.json()["error"]["message"]

    client = await web.signed_in_client(staff)
    page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    if lang == "en":
        await client.post("/ui/prefs", data={"csrf": csrf_of(page), "lang": "en", "next": "/ui/"})
        page = (await client.get(f"/ui/agreements/{agreement_id}")).text
    form = {"csrf": csrf_of(page), "type": "accept_draft", "version": "1"}
    answer = await client.post(f"/ui/agreements/{agreement_id}/act", data=form)
    assert answer.status_code == 409, answer.text
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', answer.text, re.S)
    assert alert is not None, answer.text
    text = markup.unescape(re.sub(r"<[^>]+>", "", alert.group(1)))
    if lang == "id":
        assert (
            "Ditolak: Tindakan ini tidak dapat dilakukan pada keadaan perjanjian saat ini; tidak ada yang diubah. "
            "Tahap perjanjian saat ini: Draf."
        ) in text, text
        assert f"Rincian aturan (dalam bahasa Inggris): “{message}”" in text, text
    else:
        assert message in text and "Tindakan" not in text, text
    await client.aclose()
