"""Documents belong to their uploader's organisation: readable by it, and by whoever may see
an agreement where the document is attached (a draft, a signature's evidence, an import's
signed text). Only an organisation's own uploads can be attached; everyone else gets 404
whether or not the hash exists."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from tests.api.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


def ksdd(lead: str, other: str) -> dict[str, Any]:
    return {
        "title": "Pengelolaan sampah regional",
        "kind": "ksdd",
        "objectives": "TPPAS regional bersama.",
        "sector": "environment",
        "parties": [
            {"org": lead, "role": "initiator", "sector": "government", "signatory": "Wali Kota"},
            {"org": other, "role": "counterparty", "sector": "government", "signatory": "Bupati"},
        ],
        "start_date": "2027-02-01",
        "duration_months": 60,
    }


async def document(stack: Stack, user, sha: str):
    return await stack.http.get(f"/documents/{sha}", headers=stack.auth(user))


async def advance(stack: Stack, aid: str, lead: str, other: str, until: str) -> dict[str, Any]:
    """Follow the happy path (drafts uploaded by the lead, accepted by the other party,
    every pending gate approved) until `until` is an allowed action of the lead's staff or
    the stage."""
    staff, partner = stack.user(lead, "staff"), stack.user(other, "partner")
    for _ in range(20):
        snap = await stack.snapshot(staff, aid)
        if until in snap["allowed_actions"] or snap["stage"] == until:
            return snap
        if "submit" in snap["allowed_actions"]:
            await stack.act(staff, aid, {"type": "submit"})
        elif "submit_draft" in snap["allowed_actions"]:
            sha = await stack.upload(staff, f"# Naskah {uuid.uuid4()}\n")
            snap = await stack.act(staff, aid, {"type": "submit_draft", "document": sha})
            await stack.act(partner, aid, {"type": "accept_draft", "version": snap["drafts"][-1]["version"]})
        else:
            gates = [g for g in snap["gates"] if g["status"] == "pending"]
            assert gates, snap
            for g in gates:
                approver = stack.user(g["org"], "approver", gates=[g["gate"]])
                await stack.act(approver, aid, {"type": "decide", "gate": g["gate"], "outcome": "approve"})
    raise AssertionError(f"never reached {until}")


async def test_a_document_is_read_by_its_organisation_and_where_it_is_attached(stack: Stack, orgs):
    lead, other = orgs
    stranger = f"kota-{uuid.uuid4().hex[:8]}"
    staff, partner, outsider = stack.user(lead, "staff"), stack.user(other, "partner"), stack.user(stranger, "staff")
    sha = await stack.upload(staff, f"# Naskah {uuid.uuid4()}\nPasal 1.\n")
    assert (await document(stack, stack.user(lead, "partner"), sha)).status_code == 200  # anyone of the owner org
    # Not attached anywhere: a party-to-be, an outsider, an auditor get what an unknown hash gets.
    unknown = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    for user in (partner, outsider, stack.user("bpk", "auditor")):
        for probe in (sha, unknown):
            resp = await document(stack, user, probe)
            assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"

    aid = (await stack.create(staff, ksdd(lead, other)))["id"]
    # Mentioning the hash attaches nothing.
    await stack.act(staff, aid, {"type": "comment", "text": f"lihat {sha}"})
    assert (await document(stack, partner, sha)).status_code == 404
    await advance(stack, aid, lead, other, "submit_draft")
    await stack.act(staff, aid, {"type": "submit_draft", "document": sha})
    for user in (partner, stack.user("bpk", "auditor")):  # parties, and those who see every agreement
        got = await document(stack, user, sha)
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/markdown")
    assert (await document(stack, outsider, sha)).status_code == 404
    version = (await stack.snapshot(staff, aid))["drafts"][-1]["version"]
    diff = await stack.get(partner, f"/agreements/{aid}/drafts/diff?from={version}&to={version}")
    assert diff.status_code == 200
    assert (await stack.get(outsider, f"/agreements/{aid}/drafts/diff?from=1&to=1")).status_code == 404


async def test_only_an_organisations_own_uploads_can_be_attached(stack: Stack, orgs):
    lead, other = orgs
    stranger = f"kota-{uuid.uuid4().hex[:8]}"
    victim = stack.user(stranger, "staff")
    secret = await stack.upload(victim, f"# Rahasia {uuid.uuid4()}\n")
    staff = stack.user(lead, "staff")
    aid = (await stack.create(staff, ksdd(lead, other)))["id"]
    await advance(stack, aid, lead, other, "submit_draft")
    for sha in (secret, hashlib.sha256(b"never uploaded").hexdigest()):
        body = await stack.expect_refused(staff, aid, {"type": "submit_draft", "document": sha}, 422)
        assert body["error"]["code"] == "unknown_document" and body["error"]["field"] == "document"
        assert body["error"]["errors"][0]["loc"] == ["body", "document"]
    # The attempt leaked nothing: the would-be thief still cannot read it.
    assert (await document(stack, staff, secret)).status_code == 404
    assert (await document(stack, stack.user(other, "partner"), secret)).status_code == 404


async def test_signature_evidence_must_be_the_signing_organisations_own(stack: Stack, orgs):
    lead, other = orgs
    staff = stack.user(lead, "staff")
    aid = (await stack.create(staff, ksdd(lead, other)))["id"]
    await advance(stack, aid, lead, other, "signing")
    snap = await stack.snapshot(staff, aid)
    assert snap["stage"] == "signing", snap["stage"]
    version = snap["drafts"][-1]["version"]
    signatory = stack.user(other, "signatory")
    foreign_scan = await stack.upload(stack.user(lead, "staff"), f"scan {uuid.uuid4()}\n", "text/plain")
    sign = {"type": "sign", "version": version, "method": "wet_ink", "evidence": foreign_scan}
    body = await stack.expect_refused(signatory, aid, sign, 422)
    assert body["error"]["field"] == "evidence"
    # A letter of authority (surat kuasa) is attached too: only the signing party's own.
    delegated = {
        **sign,
        "evidence": None,
        "method": "electronic",
        "delegation": {"official": "Sekretaris Daerah", "letter": foreign_scan},
    }
    body = await stack.expect_refused(signatory, aid, delegated, 422)
    assert body["error"]["field"] == "delegation.letter"
    own_scan = await stack.upload(stack.user(other, "staff"), f"scan {uuid.uuid4()}\n", "text/plain")
    await stack.act(signatory, aid, {**sign, "evidence": own_scan})
    # The evidence is now the lead's to read too, as a party of the agreement.
    assert (await document(stack, staff, own_scan)).status_code == 200


async def test_the_same_bytes_from_two_organisations_are_two_documents(stack: Stack, orgs):
    a, b = orgs
    content = f"same bytes {uuid.uuid4()}\n"
    sha_a = await stack.upload(stack.user(a, "staff"), content, "text/plain")
    sha_b = await stack.upload(stack.user(b, "staff"), content, "text/markdown")
    assert sha_a == sha_b
    got_a = await document(stack, stack.user(a, "staff"), sha_a)
    got_b = await document(stack, stack.user(b, "staff"), sha_b)
    assert got_a.headers["content-type"].startswith("text/plain")
    assert got_b.headers["content-type"].startswith("text/markdown")


@pytest.mark.parametrize("declared", [b"\xb2", b"\xb2\xb3", b"9" * 5000, b"+12", b"1_2"])
async def test_an_upload_whose_content_length_only_looks_like_digits_is_read_for_what_it_carries(
    stack: Stack, orgs, declared: bytes
):
    # `str.isdigit` is true of "²" (a Latin-1 header byte) and of 5,000 digits, which `int`
    # refuses: a 500. Real uvicorn refuses such a header; an ASGI server that passes it
    # through reaches the route, as this in-process transport does.
    content = f"Draf {uuid.uuid4().hex}".encode()
    headers: list[tuple[str, str | bytes]] = [
        *stack.auth(stack.user(orgs[0], "staff")).items(),
        ("Content-Type", "text/markdown"),
        ("Content-Length", declared),
    ]
    resp = await stack.http.post("/documents", content=content, headers=headers)
    assert resp.status_code == 201, resp.text
    assert resp.json()["sha256"] == hashlib.sha256(content).hexdigest()
