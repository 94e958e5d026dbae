"""Publishing on the public portal (#12): a party's staff publish the signed agreement for
their organisation, marking which signed documents are public, and take it back; every
decision is an event of the audit trail."""

from __future__ import annotations

import pytest

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m


def refusal(state: m.AgreementState, actor: m.Actor, command: m.Command) -> L.DomainError:
    with pytest.raises(L.DomainError) as info:
        L.decide(state, command, actor, b.NOW)
    return info.value


def test_a_party_s_staff_publish_the_signed_agreement_with_its_signed_text() -> None:
    state = b.implemented()
    text = state.signatures[0].document
    state, events = b.run(state, b.staff(b.REGION), m.Publish(documents=[text]))
    assert b.types(events) == ["agreement_published"]
    assert events[0].data == {"org": b.REGION, "documents": [text]}
    (publication,) = state.publications
    assert (publication.org, publication.documents, publication.by) == (b.REGION, [text], events[0].actor.sub)
    assert L.public_documents(state) == {text}


def test_publishing_is_offered_to_party_staff_only_once_the_agreement_is_signed() -> None:
    signing = b.advance(b.created(), "signing")
    assert "publish" not in L.allowed_actions(signing, b.staff(), b.NOW)
    assert refusal(signing, b.staff(), m.Publish()).status == 409
    state = b.implemented()
    assert {"publish"} <= set(L.allowed_actions(state, b.staff(), b.NOW))
    assert "unpublish" not in L.allowed_actions(state, b.staff(), b.NOW)
    for outsider in (b.partner(b.REGION), b.signatory(b.INITIATOR), b.staff(b.OUTSIDER), b.operator()):
        assert "publish" not in L.allowed_actions(state, outsider, b.NOW)
        assert refusal(state, outsider, m.Publish()).status == 403


def test_only_signed_texts_and_the_party_s_own_evidence_can_be_made_public() -> None:
    state = b.implemented()
    refused = refusal(state, b.staff(), m.Publish(documents=[b.doc("a private draft")]))
    assert refused.status == 422 and refused.details["field"] == "documents"
    scan = b.doc("scan")
    record = m.ImportRecord(ref="PKS/1", signed_on="2026-06-01", document=scan, proposal=b.ksdpk_proposal())
    imported = b.replay(L.import_agreement(record, b.operator(), b.NOW, "agr-imported"))
    assert scan in L.signed_documents(imported, L.initiator(imported).org)
    published, _ = b.run(imported, b.staff(L.initiator(imported).org), m.Publish(documents=[scan, scan]))
    assert published.publications[0].documents == [scan]


def test_publishing_again_replaces_the_marked_documents_and_the_same_again_is_refused() -> None:
    state = b.implemented()
    text = state.signatures[0].document
    state, _ = b.run(state, b.staff(), m.Publish(documents=[text]))
    assert refusal(state, b.staff(), m.Publish(documents=[text])).status == 409
    state, _ = b.run(state, b.staff(), m.Publish())
    assert [p.documents for p in state.publications] == [[]]
    assert "publish" not in L.allowed_actions(state, b.staff(), b.NOW)  # already, without documents


def test_taking_a_publication_back_leaves_the_other_party_s_and_the_trail_keeps_both() -> None:
    state = b.implemented()
    state, first = b.run(state, b.staff(), m.Publish())
    state, second = b.run(state, b.staff(b.REGION), m.Publish())
    assert "unpublish" in L.allowed_actions(state, b.staff(), b.NOW)
    state, taken_back = b.run(state, b.staff(), m.Unpublish(reason="Ditinjau ulang"))
    assert [p.org for p in state.publications] == [b.REGION]
    assert taken_back[0].data == {"org": b.INITIATOR, "reason": "Ditinjau ulang"}
    assert refusal(state, b.staff(), m.Unpublish()).status == 409
    assert b.types(first + second + taken_back) == ["agreement_published"] * 2 + ["agreement_unpublished"]


def test_an_agreement_stays_publishable_during_an_amendment_and_keeps_its_publication_when_closed() -> None:
    state, _ = b.run(b.implemented(), b.staff(), m.ProposeAmendment(summary="Target baru"))
    state, _ = b.run(state, b.staff(), m.Publish())
    assert state.publications
    state, _ = b.run(state, b.staff(), m.Terminate(reason="Selesai"))
    assert "unpublish" in L.allowed_actions(state, b.staff(), b.NOW)
    for slot in L.open_slots(state):
        state, _ = b.run(state, b.gate_actor(slot), m.Decide(gate=slot.gate, outcome="approve"))
    assert state.stage == "terminated" and [p.org for p in state.publications] == [b.INITIATOR]
    assert L.allowed_actions(state, b.staff(), b.NOW) == []
