"""The portal's OCDS releases say only what the portal shows: their id and date follow the
published facts (publication, stage, signatures, evaluations), never a private command."""

from __future__ import annotations

from datetime import timedelta

from services.api.web.ocds import ocds_package, ocds_release
from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m

PORTAL = "https://pakta.example.go.id"


def published() -> m.AgreementState:
    state = b.implemented()
    state, _ = b.run(state, b.staff(), m.Publish(documents=[state.signatures[0].document]), b.NOW + timedelta(days=1))
    return state


def test_a_private_comment_changes_neither_the_release_nor_the_package() -> None:
    state = published()
    before = ocds_release(state, PORTAL)
    commented, _ = b.run(
        state, b.staff(), m.Comment(text="Catatan internal, bukan untuk publik."), b.NOW + timedelta(days=9)
    )
    assert commented.version > state.version or commented.seq > state.seq
    assert ocds_release(commented, PORTAL) == before
    assert ocds_package([commented], PORTAL) == ocds_package([state], PORTAL)


def test_the_release_is_dated_by_the_latest_public_fact_and_a_new_one_gives_a_new_id() -> None:
    state = published()
    release = ocds_release(state, PORTAL)
    assert release["date"] == state.publications[0].at.isoformat().replace("+00:00", "Z")
    taken_back, _ = b.run(state, b.staff(), m.Publish(), b.NOW + timedelta(days=3))
    again = ocds_release(taken_back, PORTAL)
    assert again["id"] != release["id"] and again["id"].startswith(release["ocid"])
    assert again["date"] == (b.NOW + timedelta(days=3)).isoformat().replace("+00:00", "Z")


def test_the_stage_an_agreement_entered_dates_its_release_and_the_request_before_it_does_not() -> None:
    state = published()
    asked, _ = b.run(state, b.staff(), m.Terminate(reason="Tidak lagi diperlukan."), b.NOW + timedelta(days=10))
    assert ocds_release(asked, PORTAL) == ocds_release(state, PORTAL)  # a request is not yet a fact
    closed = asked
    for slot in L.open_slots(asked):  # each government party's head approves
        decision = m.Decide(gate=slot.gate, outcome="approve")
        closed, _ = b.run(closed, b.gate_actor(slot), decision, b.NOW + timedelta(days=20))
    release = ocds_release(closed, PORTAL)
    assert closed.stage == "terminated" and release["tag"] == ["contractTermination"]
    assert release["date"] == (b.NOW + timedelta(days=20)).isoformat().replace("+00:00", "Z")
    assert ocds_package([closed, state], PORTAL)["publishedDate"] == release["date"]


def test_document_links_and_the_package_uri_start_with_the_public_url() -> None:
    package = ocds_package([published()], PORTAL + "/")
    assert package["uri"] == f"{PORTAL}/public/ocds.json"
    (contract,) = package["releases"][0]["contracts"]
    assert all(d["url"].startswith(f"{PORTAL}/public/agreements/") for d in contract["documents"])
