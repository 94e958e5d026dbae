"""`Idempotency-Key` on actions: a retry of the same request gets the first response again
(status, body, ETag) however often it is sent; the same key on another request is refused
with 422 naming the key; keys belong to their caller."""

from __future__ import annotations

from typing import Any

import pytest

from services.store import idempotency as kept_answers
from services.store.db import session_scope
from tests.api.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


def proposal(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "kind": "ksdd",
        "objectives": "Pengelolaan air baku bersama.",
        "sector": "water",
        "parties": [
            {"org": "kota-cirebon", "role": "initiator", "sector": "government", "signatory": "Wali Kota Cirebon"},
            {"org": "kab-kuningan", "role": "counterparty", "sector": "government", "signatory": "Bupati Kuningan"},
        ],
        "start_date": "2027-03-01",
        "duration_months": 24,
    }


async def send(stack: Stack, user: Any, aid: str, command: dict[str, Any], key: str, **headers: str) -> Any:
    return await stack.post(user, f"/agreements/{aid}/actions", command, headers={"Idempotency-Key": key, **headers})


async def test_a_retry_with_if_match_gets_the_first_response_not_a_stale_version(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    aid = (await stack.create(staff, proposal("Air baku: coba lagi")))["id"]
    first = await send(stack, staff, aid, {"type": "submit"}, "submit-1", **{"If-Match": '"1"'})
    again = await send(stack, staff, aid, {"type": "submit"}, "submit-1", **{"If-Match": '"1"'})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["ETag"] == first.headers["ETag"] == '"2"'
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await stack.snapshot(staff, aid))["version"] == 2


async def test_the_same_key_on_another_command_is_refused_naming_the_key_and_changes_nothing(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    aid = (await stack.create(staff, proposal("Air baku: kunci lain")))["id"]
    assert (await send(stack, staff, aid, {"type": "comment", "text": "Pertama."}, "k-1")).status_code == 200
    reused = await send(stack, staff, aid, {"type": "comment", "text": "Kedua, lain."}, "k-1")
    assert reused.status_code == 422
    error = reused.json()["error"]
    assert error["code"] == "idempotency_key_reused" and error["key"] == "k-1"
    assert [c["text"] for c in (await stack.snapshot(staff, aid))["comments"]] == ["Pertama."]


async def test_a_refusal_is_replayed_to_its_retries(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    aid = (await stack.create(staff, proposal("Air baku: penolakan")))["id"]
    first = await send(stack, staff, aid, {"type": "accept_draft", "version": 7}, "acc-7")
    again = await send(stack, staff, aid, {"type": "accept_draft", "version": 7}, "acc-7")
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"


async def test_keys_belong_to_their_caller(stack: Stack):
    staff = stack.user("kota-cirebon", "staff")
    other = stack.user("kab-kuningan", "staff")
    aid = (await stack.create(staff, proposal("Air baku: dua pemanggil")))["id"]
    mine = await send(stack, staff, aid, {"type": "comment", "text": "Dari Cirebon."}, "same-key")
    theirs = await send(stack, other, aid, {"type": "comment", "text": "Dari Kuningan."}, "same-key")
    assert mine.status_code == theirs.status_code == 200
    texts = [c["text"] for c in (await stack.snapshot(staff, aid))["comments"]]
    assert texts == ["Dari Cirebon.", "Dari Kuningan."]


async def test_an_answer_forgotten_with_its_superseded_recording_sends_the_retry_to_the_workflow_again(stack: Stack):
    """What the recording that supersedes a version does to the answers that showed it
    (services.store.queries): the retry is not replayed but sent to the workflow, which
    performs the command only if its history does not hold it — here it does, so the
    comment is there once and the retry is told so afresh."""
    staff = stack.user("kota-cirebon", "staff")
    aid = (await stack.create(staff, proposal("Air baku: jawaban terlupa")))["id"]
    first = await send(stack, staff, aid, {"type": "comment", "text": "Sekali saja."}, "c-forgotten")
    assert first.status_code == 200 and first.json()["version"] == 2
    async with session_scope(stack.sessionmaker) as session:
        assert await kept_answers.forget_answers_from(session, agreement_id=aid, version=2) == 1
    again = await send(stack, staff, aid, {"type": "comment", "text": "Sekali saja."}, "c-forgotten")
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
    assert again.json()["version"] == 2
    assert [c["text"] for c in (await stack.snapshot(staff, aid))["comments"]] == ["Sekali saja."]
    replayed = await send(stack, staff, aid, {"type": "comment", "text": "Sekali saja."}, "c-forgotten")
    assert replayed.headers["Idempotent-Replayed"] == "true"
