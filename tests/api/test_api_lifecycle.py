"""End to end over the real stack: HTTP → FastAPI → Temporal dev server → workflow → local
activity → embedded PostgreSQL, and back through the read model and the audit chain."""

from __future__ import annotations

import pytest

from tests.api.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


def ksdpl_body(**overrides):
    body = {
        "title": "Kerja sama kesehatan Jawa Barat – Western Australia",
        "kind": "ksdpl",
        "objectives": "Pertukaran tenaga kesehatan dan data penyakit menular.",
        "sector": "health",
        "parties": [
            {
                "org": "jabar",
                "role": "initiator",
                "sector": "government",
                "signatory": "Gubernur Jawa Barat",
                "foreign": False,
                "requires_dprd_approval": True,
            },
            {
                "org": "wa-gov",
                "role": "counterparty",
                "sector": "government",
                "signatory": "Premier of Western Australia",
                "foreign": True,
            },
        ],
        "start_date": "2027-01-01",
        "duration_months": 36,
        "evaluation_interval_months": 6,
        "indicators": [{"name": "Tenaga kesehatan dilatih", "target": 100, "unit": "orang"}],
        "value": 1_500_000_000,
    }
    body.update(overrides)
    return body


def ksdd_body():
    return {
        "title": "Pengelolaan sampah regional Bandung – Sumedang",
        "kind": "ksdd",
        "objectives": "TPPAS regional bersama.",
        "sector": "environment",
        "parties": [
            {"org": "kota-bandung", "role": "initiator", "sector": "government", "signatory": "Wali Kota Bandung"},
            {"org": "kab-sumedang", "role": "counterparty", "sector": "government", "signatory": "Bupati Sumedang"},
        ],
        "start_date": "2027-02-01",
        "duration_months": 60,
    }


async def test_ksdpl_runs_every_step_into_implementation(stack: Stack):
    staff = stack.user("jabar", "staff")
    partner = stack.user("wa-gov", "partner")
    approver = stack.user("jabar", "approver", gates=["review", "dprd", "legal", "head"])
    minister = stack.user("kemendagri", "approver", gates=["ministry"])

    created = await stack.create(staff, ksdpl_body())
    aid = created["id"]
    assert created["stage"] == "draft" and created["version"] == 1
    assert created["procedure"] == {"key": "ksdpl", "version": "2020.1"}
    # Issue #10: each Indonesian government party's staff state its own DPRD facts in draft.
    assert set(created["allowed_actions"]) == {"edit", "submit", "withdraw", "comment", "set_dprd_requirement"}
    await stack.expect_row(aid, stage="draft", version=1)

    snap = await stack.act(staff, aid, {"type": "submit"})
    assert snap["stage"] == "negotiation" and snap["step"]["key"] == "pernyataan_kehendak"
    assert snap["step"]["document"] == "loi" and "Permendagri 25/2020" in snap["step"]["basis"]
    assert snap["step"]["name"]["en"].startswith("Initiative")
    assert [(g["gate"], g["org"], g["status"]) for g in snap["gates"]] == [
        ("dprd", "jabar", "waiting"),
        ("review", "jabar", "waiting"),
        ("ministry", None, "waiting"),
    ]

    # Letter of intent: two versions; the second clears the first's acceptance.
    loi1 = await stack.upload(staff, "# LoI v1\nKerja sama kesehatan.\n")
    loi2 = await stack.upload(partner, "# LoI v2\nKerja sama kesehatan dan pendidikan.\n")
    snap = await stack.act(staff, aid, {"type": "submit_draft", "document": loi1, "note": "first"})
    assert snap["drafts"][-1] == {**snap["drafts"][-1], "version": 1, "accepted_by": ["jabar"]}
    snap = await stack.act(partner, aid, {"type": "submit_draft", "document": loi2, "note": "counter"})
    assert snap["drafts"][-1]["accepted_by"] == ["wa-gov"]
    diff = (await stack.get(staff, f"/agreements/{aid}/drafts/diff?from=1&to=2")).json()
    assert "+Kerja sama kesehatan dan pendidikan." in diff["diff"]
    await stack.expect_refused(staff, aid, {"type": "accept_draft", "version": 1}, 409)
    snap = await stack.act(staff, aid, {"type": "accept_draft", "version": 2})
    assert snap["step"]["key"] == "rencana_kerja_sama"

    plan = await stack.upload(staff, "# Rencana kerja sama\n")
    await stack.act(staff, aid, {"type": "submit_draft", "document": plan})
    snap = await stack.act(partner, aid, {"type": "accept_draft", "version": 3})
    assert snap["stage"] == "approval" and snap["step"]["key"] == "persetujuan_dprd"
    assert stack.gate(snap, "dprd", "jabar") == "pending"
    await stack.expect_row(aid, stage="approval", step_key="persetujuan_dprd")
    assert "decide" in (await stack.snapshot(approver, aid))["allowed_actions"]
    assert "decide" not in (await stack.snapshot(staff, aid))["allowed_actions"]

    snap = await stack.act(approver, aid, {"type": "decide", "gate": "dprd", "outcome": "approve"})
    assert snap["stage"] == "review" and snap["step"]["key"] == "verifikasi"
    snap = await stack.act(approver, aid, {"type": "decide", "gate": "review", "outcome": "approve"})
    assert snap["step"]["key"] == "rancangan_naskah"

    text = await stack.upload(staff, "# Naskah perjanjian\nPasal 1.\n")
    await stack.act(staff, aid, {"type": "submit_draft", "document": text})
    snap = await stack.act(partner, aid, {"type": "accept_draft", "version": 4})
    assert snap["step"]["key"] == "persetujuan_menteri"
    # The ministry sees the agreement only now that its gate is open.
    assert (await stack.get(minister, f"/agreements/{aid}")).status_code == 200
    # ... and lists it, while an approver holding the gate in a ministry the agreement does
    # not name lists it no more than it reads it.
    assert aid in [a["id"] for a in (await stack.get(minister, "/agreements?kind=ksdpl")).json()["items"]]
    elsewhere = stack.user("kemenlu", "approver", gates=["ministry"])
    assert (await stack.get(elsewhere, f"/agreements/{aid}")).status_code == 404
    assert aid not in [a["id"] for a in (await stack.get(elsewhere, "/agreements?kind=ksdpl")).json()["items"]]
    snap = await stack.act(minister, aid, {"type": "decide", "gate": "ministry", "outcome": "approve"})
    assert snap["stage"] == "signing" and snap["step"]["key"] == "penandatanganan"

    scan = await stack.upload(partner, "scan of the wet-ink signature page\n")
    await stack.act(stack.user("jabar", "signatory"), aid, {"type": "sign", "version": 4, "method": "electronic"})
    snap = await stack.act(
        stack.user("wa-gov", "signatory"), aid, {"type": "sign", "version": 4, "method": "wet_ink", "evidence": scan}
    )
    assert snap["stage"] == "implementation" and snap["step"] is None
    assert snap["effective_date"] == "2027-01-01" and snap["end_date"] == "2030-01-01"
    assert {(s["org"], s["method"]) for s in snap["signatures"]} == {("jabar", "electronic"), ("wa-gov", "wet_ink")}
    assert all(s["document"] == text for s in snap["signatures"])
    await stack.expect_row(aid, stage="implementation", version=snap["version"])

    verify = (await stack.get(stack.user("jabar", "auditor"), f"/agreements/{aid}/events/verify")).json()
    events = (await stack.get(staff, f"/agreements/{aid}/events")).json()["events"]
    assert verify["valid"] is True and verify["count"] == len(events) and verify["head"] == events[-1]["hash"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "agreement_created" and events[-1]["type"] == "implementation_started"

    listed = (await stack.get(staff, "/agreements?stage=implementation&kind=ksdpl")).json()
    assert aid in [a["id"] for a in listed["items"]]


async def test_ksdd_asks_both_regions_and_skips_dprd_when_none_is_required(stack: Stack):
    bandung, sumedang = stack.user("kota-bandung", "staff"), stack.user("kab-sumedang", "staff")
    created = await stack.create(bandung, ksdd_body())
    aid = created["id"]
    # Created from 2026-12-01: procedure 2026.1, with the TKKSD's approval of the drafted KSB.
    assert created["procedure"] == {"key": "ksdd", "version": "2026.1"}
    snap = await stack.act(bandung, aid, {"type": "submit"})
    assert snap["stage"] == "review" and snap["step"]["key"] == "persiapan"
    assert {(g["step"], g["org"]) for g in snap["gates"]} == {
        ("persiapan", "kota-bandung"),
        ("persiapan", "kab-sumedang"),
        ("persetujuan_ksb", "kota-bandung"),
        ("persetujuan_ksb", "kab-sumedang"),
        ("telaah_hukum", "kota-bandung"),
        ("telaah_hukum", "kab-sumedang"),
    }
    assert not any(g["gate"] == "dprd" for g in snap["gates"])

    # Each region's TKKSD reviews for its own side; one approval does not complete the step.
    snap = await stack.act(
        stack.user("kota-bandung", "approver", gates=["review"]),
        aid,
        {"type": "decide", "gate": "review", "outcome": "approve"},
    )
    assert snap["step"]["key"] == "persiapan"
    # Deciding its slot again (the loser of a race on it) is told it is already decided: 409.
    body = await stack.expect_refused(
        stack.user("kota-bandung", "approver", gates=["review"]),
        aid,
        {"type": "decide", "gate": "review", "outcome": "approve"},
        409,
    )
    assert body["error"]["code"] == "invalid_transition" and "already decided" in body["error"]["message"]
    snap = await stack.act(
        stack.user("kab-sumedang", "approver", gates=["review"]),
        aid,
        {"type": "decide", "gate": "review", "outcome": "approve"},
    )
    assert snap["step"]["key"] == "penyusunan_ksb"

    ksb = await stack.upload(bandung, "# KSB\n")
    await stack.act(bandung, aid, {"type": "submit_draft", "document": ksb})
    snap = await stack.act(sumedang, aid, {"type": "accept_draft", "version": 1})
    # Each region's TKKSD approves the drafted KSB before the heads sign it.
    assert snap["stage"] == "review" and snap["step"]["key"] == "persetujuan_ksb"
    snap = await stack.act(
        stack.user("kota-bandung", "approver", gates=["review"]),
        aid,
        {"type": "decide", "gate": "review", "outcome": "approve"},
    )
    assert snap["step"]["key"] == "persetujuan_ksb"
    snap = await stack.act(
        stack.user("kab-sumedang", "approver", gates=["review"]),
        aid,
        {"type": "decide", "gate": "review", "outcome": "approve"},
    )
    assert snap["stage"] == "signing" and snap["step"]["document"] == "ksb"
    for org in ("kota-bandung", "kab-sumedang"):
        snap = await stack.act(
            stack.user(org, "signatory"), aid, {"type": "sign", "version": 1, "method": "electronic"}
        )
    # No party needs its DPRD: straight from the signed KSB to drafting the PKS.
    assert snap["step"]["key"] == "penyusunan_pks"
    events = (await stack.get(bandung, f"/agreements/{aid}/events")).json()["events"]
    assert any(e["type"] == "step_skipped" and e["data"]["step"] == "persetujuan_dprd" for e in events)

    pks = await stack.upload(sumedang, "# PKS\nPasal 1\n")
    await stack.act(sumedang, aid, {"type": "submit_draft", "document": pks})
    snap = await stack.act(bandung, aid, {"type": "accept_draft", "version": 2})
    assert snap["step"]["key"] == "telaah_hukum"
    for org in ("kota-bandung", "kab-sumedang"):
        snap = await stack.act(
            stack.user(org, "approver", gates=["legal"]), aid, {"type": "decide", "gate": "legal", "outcome": "approve"}
        )
    assert snap["step"]["key"] == "penandatanganan_pks"
    for org in ("kota-bandung", "kab-sumedang"):
        snap = await stack.act(
            stack.user(org, "signatory"), aid, {"type": "sign", "version": 2, "method": "electronic"}
        )
    assert snap["stage"] == "implementation"
    await stack.expect_row(aid, stage="implementation", orgs=["kota-bandung", "kab-sumedang"])
    verify = (await stack.get(sumedang, f"/agreements/{aid}/events/verify")).json()
    assert verify["valid"] is True


async def test_refusals_have_their_status_and_change_nothing(stack: Stack):
    staff = stack.user("jabar", "staff")
    aid = (await stack.create(staff, ksdpl_body()))["id"]

    # Wrong role: a partner of the counterparty cannot submit the initiator's proposal.
    await stack.expect_refused(stack.user("wa-gov", "partner"), aid, {"type": "submit"}, 403)
    # Wrong organisation: not a party, so the agreement does not exist for it.
    await stack.expect_refused(stack.user("jatim", "staff"), aid, {"type": "submit"}, 404)
    assert (await stack.get(stack.user("jatim", "staff"), f"/agreements/{aid}")).status_code == 404
    # Wrong stage: signing a draft.
    body = await stack.expect_refused(
        stack.user("jabar", "signatory"), aid, {"type": "sign", "version": 1, "method": "electronic"}, 409
    )
    assert body["error"]["stage"] == "draft" and body["error"]["allowed_actions"] == ["comment"]
    body = await stack.expect_refused(staff, aid, {"type": "accept_draft", "version": 1}, 409)
    assert set(body["error"]["allowed_actions"]) == {"edit", "submit", "withdraw", "comment", "set_dprd_requirement"}
    # Stale version.
    await stack.expect_refused(staff, aid, {"type": "submit"}, 412, headers={"If-Match": '"7"'})
    # Malformed bodies.
    await stack.expect_refused(staff, aid, {"type": "fly"}, 422)
    await stack.expect_refused(staff, aid, {"type": "decide", "gate": "review"}, 422)
    await stack.expect_refused(staff, aid, {"type": "withdraw"}, 422)
    # Only the agreement's own timer ticks: not part of the public API.
    await stack.expect_refused(staff, aid, {"type": "tick"}, 422)
    # A document that was never uploaded.
    await stack.act(staff, aid, {"type": "submit"})
    before = await stack.snapshot(staff, aid)
    await stack.expect_refused(staff, aid, {"type": "submit_draft", "document": "ab" * 32}, 422)
    assert (await stack.snapshot(staff, aid))["version"] == before["version"]

    # Matching If-Match goes through.
    resp = await stack.post(
        staff,
        f"/agreements/{aid}/actions",
        {"type": "comment", "text": "ok"},
        headers={"If-Match": f'"{before["version"]}"'},
    )
    assert resp.status_code == 200 and resp.headers["ETag"] == f'"{before["version"] + 1}"'

    # Unauthenticated and bad tokens.
    resp = await stack.http.get(f"/agreements/{aid}")
    assert resp.status_code == 401 and resp.json()["error"]["code"] in {"unauthorized", "invalid_token"}
    resp = await stack.http.get(f"/agreements/{aid}", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401


async def test_idempotency_keys_apply_once(stack: Stack):
    staff = stack.user("jabar", "staff")
    first = await stack.post(staff, "/agreements", ksdpl_body(), headers={"Idempotency-Key": "create-1"})
    again = await stack.post(staff, "/agreements", ksdpl_body(), headers={"Idempotency-Key": "create-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    other = await stack.post(
        staff, "/agreements", ksdpl_body(title="Something else entirely"), headers={"Idempotency-Key": "create-1"}
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.json()["error"]["key"] == "create-1"

    aid = first.json()["id"]
    comment = {"type": "comment", "text": "Mohon ditinjau."}
    r1 = await stack.post(staff, f"/agreements/{aid}/actions", comment, headers={"Idempotency-Key": "c-1"})
    r2 = await stack.post(staff, f"/agreements/{aid}/actions", comment, headers={"Idempotency-Key": "c-1"})
    assert r1.status_code == r2.status_code == 200
    assert r1.json()["version"] == r2.json()["version"] == 2
    assert len((await stack.snapshot(staff, aid))["comments"]) == 1


async def test_documents_are_content_addressed_and_limited(stack: Stack):
    staff = stack.user("jabar", "staff")
    resp = await stack.http.post(
        "/documents", content=b"# Draft\n", headers={**stack.auth(staff), "Content-Type": "text/markdown"}
    )
    assert resp.status_code == 201
    sha = resp.json()["sha256"]
    again = await stack.http.post(
        "/documents", content=b"# Draft\n", headers={**stack.auth(staff), "Content-Type": "text/markdown"}
    )
    assert again.json()["sha256"] == sha
    got = await stack.http.get(f"/documents/{sha}", headers=stack.auth(staff))
    assert got.status_code == 200 and got.content == b"# Draft\n"
    # Another organisation sees it only once it is a draft of an agreement it is party to.
    outsider = stack.user("wa-gov", "partner")
    assert (await stack.http.get(f"/documents/{sha}", headers=stack.auth(outsider))).status_code == 404
    aid = (await stack.create(staff, ksdpl_body()))["id"]
    await stack.act(staff, aid, {"type": "submit"})
    await stack.act(staff, aid, {"type": "submit_draft", "document": sha})
    assert (await stack.http.get(f"/documents/{sha}", headers=stack.auth(outsider))).status_code == 200
    assert (
        await stack.http.get(f"/documents/{sha}", headers=stack.auth(stack.user("jatim", "staff")))
    ).status_code == 404
    too_big = b"x" * (stack.settings.document_max_bytes + 1)
    resp = await stack.http.post(
        "/documents", content=too_big, headers={**stack.auth(staff), "Content-Type": "text/plain"}
    )
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"
    resp = await stack.http.post("/documents", content=b"x", headers={**stack.auth(staff), "Content-Type": "image/png"})
    assert resp.status_code == 415


async def test_withdraw_and_reject_close_the_agreement(stack: Stack):
    staff = stack.user("kota-bandung", "staff")
    aid = (await stack.create(staff, ksdd_body()))["id"]
    await stack.act(staff, aid, {"type": "submit"})
    snap = await stack.act(
        stack.user("kab-sumedang", "approver", gates=["review"]),
        aid,
        {"type": "decide", "gate": "review", "outcome": "reject", "comment": "Tidak sesuai RPJMD."},
    )
    assert snap["stage"] == "rejected" and snap["allowed_actions"] == []
    await stack.expect_row(aid, stage="rejected")
    await stack.expect_refused(staff, aid, {"type": "withdraw", "reason": "late"}, 409)

    aid2 = (await stack.create(staff, ksdd_body()))["id"]
    snap = await stack.act(staff, aid2, {"type": "withdraw", "reason": "Digabung dengan usulan lain."})
    assert snap["stage"] == "withdrawn" and snap["closed_reason"] == "Digabung dengan usulan lain."
    listed = (await stack.get(staff, "/agreements?stage=withdrawn")).json()["items"]
    assert aid2 in [a["id"] for a in listed]


async def test_a_read_model_ahead_of_the_workflow_is_brought_back_to_its_history(stack: Stack):
    """The stack died after a task recorded a submit and before Temporal held it: the read
    model says review, the workflow says draft. A command decided on the read model is
    refused by the workflow — and the read model comes back to the workflow's history."""
    from services.store import queries
    from services.store.db import session_scope
    from tests.builders import replay
    from workflows import lifecycle as L
    from workflows import messages as m

    staff = stack.user("kota-bandung", "staff")
    created = await stack.create(staff, ksdd_body())
    aid = created["id"]
    async with stack.sessionmaker() as session:
        trail = await queries.list_events(session, agreement_id=aid)
    state = replay([e.to_event() for e in trail])
    actor = m.Actor(sub=staff.sub, org=staff.org, roles=list(staff.roles))
    lost = L.decide(state, m.Submit(), actor, state.updated_at)
    after = state
    for event in lost:
        after = L.evolve(after, event)
    async with session_scope(stack.sessionmaker) as session:  # as the dead task wrote it
        await queries.append_events(session, state=after, events=lost)
    assert (await stack.snapshot(staff, aid))["stage"] == "review"

    approver = stack.user("kota-bandung", "approver", gates=["review"])
    refused = await stack.post(
        approver, f"/agreements/{aid}/actions", {"type": "decide", "gate": "review", "outcome": "approve"}
    )
    assert refused.status_code == 409 and refused.json()["error"]["version"] == 1
    back = await stack.snapshot(staff, aid)
    assert (back["stage"], back["version"]) == ("draft", 1) and "submit" in back["allowed_actions"]
    verify = (await stack.get(stack.user("kota-bandung", "auditor"), f"/agreements/{aid}/events/verify")).json()
    assert verify["valid"] and verify["superseded"] == len(lost)
    # And it takes commands: the submit, for real this time.
    assert (await stack.act(staff, aid, {"type": "submit"}))["stage"] == "review"


async def test_whose_approvers_give_the_ministers_approval_is_the_platforms_to_say(stack: Stack):
    """A proposal naming its own region as the ministry gets the platform's ministry instead."""
    from services.store import queries

    staff = stack.user("jabar", "staff")
    created = await stack.create(staff, ksdpl_body(title="Kerja sama pendidikan Jabar – WA", ministry_orgs=["jabar"]))
    async with stack.sessionmaker() as session:
        record = await queries.get_agreement(session, agreement_id=created["id"])
    assert record is not None and record.state.ministry_orgs == list(stack.settings.ministry_orgs) == ["kemendagri"]
