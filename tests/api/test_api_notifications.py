"""Notifications over HTTP on the real stack: /webhooks, /contacts, /notifications, /inbox
and /dev/mail. Each test uses organisations of its own, so what it registers never reaches
another test's agreements."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from services.api.app import create_app
from services.embedded.mailsink import start_mail_sink
from services.embedded.ports import free_port
from services.store import register
from services.store.db import session_scope
from tests.api.stack import Stack
from tests.fixtures.api import app_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


def ksdd(a: str, b: str) -> dict:
    return {
        "title": "Pengelolaan sampah regional",
        "kind": "ksdd",
        "objectives": "TPPAS regional bersama.",
        "sector": "environment",
        "start_date": "2027-02-01",
        "duration_months": 60,
        "parties": [
            {"org": a, "role": "initiator", "sector": "government", "signatory": "Gubernur"},
            {"org": b, "role": "counterparty", "sector": "government", "signatory": "Bupati"},
        ],
    }


async def eventually(probe, timeout: float = 30.0):  # noqa: ASYNC109 -- a test helper's own bound
    """Deliveries run in the background (the worker's outbox dispatcher): wait for them."""
    async with asyncio.timeout(timeout):
        while True:
            result = await probe()
            if result:
                return result
            await asyncio.sleep(0.1)


# ---------------------------------------------------------------- webhooks


async def test_webhook_registration_is_the_organisations_business(stack: Stack, orgs):
    a, b = orgs
    staff, other_staff = stack.user(a, "staff"), stack.user(b, "staff")
    resp = await stack.post(
        staff,
        "/webhooks",
        {"url": "https://hooks.example.test/pakta", "events": ["agreement_submitted", "agreement_submitted"]},
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["secret"].startswith("whsec_") and created["org"] == a and created["enabled"]
    assert created["events"] == ["agreement_submitted"] and resp.headers["Location"] == f"/webhooks/{created['id']}"
    hook = f"/webhooks/{created['id']}"

    shown = (await stack.get(staff, hook)).json()
    assert "secret" not in shown and shown["url"] == "https://hooks.example.test/pakta"
    assert [w["id"] for w in (await stack.get(staff, "/webhooks")).json()] == [created["id"]]
    assert (await stack.get(other_staff, hook)).status_code == 404  # not theirs: not there
    assert (await stack.get(other_staff, "/webhooks")).json() == []
    assert (await stack.post(stack.user(a, "partner"), "/webhooks", {"url": "https://x.test"})).status_code == 403
    assert (await stack.post(other_staff, "/webhooks", {"url": "https://x.test", "org": a})).status_code == 403

    for bad in (
        {"url": "ftp://x.test/h"},
        {"url": "not a url"},
        {"url": "https://x.test", "events": ["Bad Type"]},
        {"url": "https://x.test", "events": []},
    ):
        resp = await stack.post(staff, "/webhooks", bad)
        assert resp.status_code == 422 and "error" in resp.json(), bad

    rotated = (await stack.post(staff, f"{hook}/rotate-secret", {})).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"]
    # Another organisation's administrator registers nothing for it (nor rotates its secrets);
    # its own administrator does; the platform's operators see endpoints, and change none.
    assert (
        await stack.post(stack.user("pakta-ops", "admin"), "/webhooks", {"url": "https://x.test/b", "org": b})
    ).status_code == 403
    assert (await stack.post(stack.user(b, "admin"), "/webhooks", {"url": "https://x.test/b", "org": b})).json()[
        "org"
    ] == b
    operator = stack.user("pakta-ops", "operator")
    assert {w["org"] for w in (await stack.get(operator, f"/webhooks?org={b}")).json()} == {b}
    assert (await stack.post(operator, "/webhooks", {"url": "https://x.test/c", "org": b})).status_code == 403

    assert (await stack.http.delete(hook, headers=stack.auth(other_staff))).status_code == 404
    assert (await stack.http.delete(hook, headers=stack.auth(staff))).status_code == 204
    assert (await stack.get(staff, hook)).status_code == 404


async def test_parties_endpoints_receive_signed_events_of_their_agreements(stack: Stack, orgs, receiver):
    a, b = orgs
    staff = stack.user(a, "staff")
    resp = await stack.post(staff, "/webhooks", {"url": receiver.url("/a"), "events": ["*"]})
    receiver.secrets["/a"] = resp.json()["secret"]
    hook_id = resp.json()["id"]
    only_submitted = await stack.post(
        stack.user(b, "staff"), "/webhooks", {"url": receiver.url("/b"), "events": ["agreement_submitted"]}
    )
    receiver.secrets["/b"] = only_submitted.json()["secret"]

    created = await stack.create(staff, ksdd(a, b))
    await stack.act(staff, created["id"], {"type": "submit"})
    trail = (await stack.get(staff, f"/agreements/{created['id']}/events")).json()["events"]
    assert [e["type"] for e in trail] == ["agreement_created", "agreement_submitted", "step_entered"]

    await eventually(lambda: _ready(len(receiver.processed) == 4))
    for event in trail:
        body = receiver.processed[("/a", event["id"])]
        assert (body["id"], body["type"], body["seq"], body["agreement_id"]) == (
            event["id"],
            event["type"],
            event["seq"],
            created["id"],
        )
        assert body["data"] == event["data"]
    assert set(receiver.raw_counts("/b")) == {trail[1]["id"]}  # subscribed to submissions only
    assert all(r.verified for r in receiver.requests)

    async def all_recorded():
        # The receiver answers before the worker records the attempt's outcome: wait for it.
        page = (await stack.get(staff, f"/webhooks/{hook_id}/deliveries")).json()
        done = [i for i in page["items"] if i["outcome"] != "unfinished"]
        return page if len(done) >= len(trail) else None

    attempts = await eventually(all_recorded)
    assert {i["event_id"] for i in attempts["items"]} == {e["id"] for e in trail}
    assert all(i["status_code"] == 200 and i["outcome"] == "succeeded" and i["attempt"] == 1 for i in attempts["items"])
    page = (await stack.get(staff, f"/webhooks/{hook_id}/deliveries?limit=2")).json()
    assert len(page["items"]) == 2 and page["next_before"] == page["items"][-1]["id"]
    rest = (await stack.get(staff, f"/webhooks/{hook_id}/deliveries?before={page['next_before']}")).json()
    assert len(rest["items"]) == 1
    for hook in (hook_id, only_submitted.json()["id"]):  # leave nothing behind for other tests
        await stack.http.delete(f"/webhooks/{hook}", headers=stack.auth(stack.user(a, "admin")))


async def _ready(value):
    return value


# ---------------------------------------------------------------- contacts


async def test_contacts_are_managed_by_their_organisation(stack: Stack, orgs):
    a, b = orgs
    staff = stack.user(a, "staff")
    body = {
        "name": "Siti Rahma",
        "email": "Siti@Example.go.id",
        "roles": ["staff", "partner"],
        "language": "en",
        "time_zone": "Asia/Makassar",
        "opt_out": ["comment_added"],
    }
    resp = await stack.post(staff, "/contacts", body)
    assert resp.status_code == 201, resp.text
    contact = resp.json()
    assert contact["email"] == "siti@example.go.id" and contact["org"] == a and contact["gates"] == []
    assert (await stack.post(staff, "/contacts", body)).json()["error"]["code"] == "contact_exists"
    assert [c["id"] for c in (await stack.get(staff, "/contacts")).json()] == [contact["id"]]

    for bad in (
        {**body, "email": "not-an-address"},
        {**body, "time_zone": "Mars/Olympus"},
        {**body, "roles": []},
        {**body, "roles": ["auditor"]},
        {**body, "language": "fr"},
        {**body, "gates": ["treasury"]},
    ):
        assert (await stack.post(staff, "/contacts", bad)).status_code == 422, bad
    assert (await stack.post(stack.user(a, "partner"), "/contacts", body)).status_code == 403
    assert (await stack.get(stack.user(a, "approver"), "/contacts")).status_code == 403
    assert (await stack.get(stack.user(b, "staff"), "/contacts")).json() == []
    approver = {
        "name": "Kepala Biro Hukum",
        "email": "hukum@example.go.id",
        "roles": ["approver"],
        "gates": ["legal"],
        "org": b,
    }
    # An administrator is its own organisation's: another organisation's is refused.
    assert (await stack.post(stack.user("pakta-ops", "admin"), "/contacts", approver)).status_code == 403
    assert (await stack.post(stack.user(b, "admin"), "/contacts", approver)).json()["gates"] == ["legal"]
    # The platform's operators see every organisation's contacts (support), and change none.
    operator = stack.user("pakta-ops", "operator")
    assert [c["email"] for c in (await stack.get(operator, f"/contacts?org={b}")).json()] == ["hukum@example.go.id"]
    assert (await stack.post(operator, "/contacts", {**approver, "email": "lain@example.go.id"})).status_code == 403

    path = f"/contacts/{contact['id']}"
    assert (await stack.http.delete(path, headers=stack.auth(stack.user(b, "staff")))).status_code == 404
    assert (await stack.http.delete(path, headers=stack.auth(staff))).status_code == 204
    assert (await stack.get(staff, "/contacts")).json() == []


# ---------------------------------------------------------------- notifications and inbox


async def test_notifications_and_inbox_follow_the_agreement(stack: Stack, orgs):
    a, b = orgs
    staff_a, partner_b = stack.user(a, "staff"), stack.user(b, "partner")
    approver_a = stack.user(a, "approver", gates=["review", "legal"])
    approver_b = stack.user(b, "approver", gates=["review"])
    outsider = stack.user(f"x-{a}", "staff")

    created = await stack.create(staff_a, ksdd(a, b))
    aid = created["id"]
    inbox = (await stack.get(staff_a, "/inbox")).json()
    assert [(i["agreement_id"], i["action"]) for i in inbox["items"]] == [(aid, "submit")]

    await stack.act(staff_a, aid, {"type": "submit"})
    # The review gate awaits each region's approvers.
    for approver, org in ((approver_a, a), (approver_b, b)):
        items = (await stack.get(approver, "/inbox")).json()["items"]
        assert [(i["action"], i["gates"], i["step"]["key"]) for i in items] == [
            ("decide", [{"gate": "review", "org": org}], "persiapan")
        ]
        assert items[0]["due_at"] and items[0]["title"] == "Pengelolaan sampah regional"
    assert (await stack.get(staff_a, "/inbox")).json() == {"items": [], "count": 0}

    notes = await eventually(lambda: _items(stack, approver_a, "gate_opened"))
    note = notes[0]
    assert note["agreement_id"] == aid and not note["read"] and note["event_type"] == "step_entered"
    assert note["summary"] == "Menunggu keputusan Anda (kajian TKKSD): Pengelolaan sampah regional"
    english = (
        await stack.http.get("/notifications", headers={**stack.auth(approver_a), "Accept-Language": "en-GB,en;q=0.8"})
    ).json()
    assert english["items"][0]["summary"].startswith("Awaiting your decision (TKKSD review)")
    listed = (await stack.get(approver_a, "/notifications")).json()
    assert listed["unread"] == 1 and len(listed["items"]) == 1
    submitted = await eventually(lambda: _items(stack, partner_b, "agreement_submitted"))
    assert submitted[0]["summary"] == "Kerja sama diajukan: Pengelolaan sampah regional"

    # Read marks are per user; a notification not for the caller is not there for them.
    resp = await stack.http.post(f"/notifications/{note['id']}/read", headers=stack.auth(approver_a))
    assert resp.status_code == 204
    after = (await stack.get(approver_a, "/notifications")).json()
    assert after["unread"] == 0 and after["items"][0]["read"] and after["items"][0]["read_at"]
    assert (await stack.get(approver_a, "/notifications?unread_only=true")).json()["items"] == []
    assert (await stack.http.post(f"/notifications/{note['id']}/read", headers=stack.auth(outsider))).status_code == 404
    assert (await stack.get(outsider, "/notifications")).json() == {"items": [], "unread": 0}

    # Both regions approve: the KSB negotiation opens, a version awaits the other party.
    await stack.act(approver_a, aid, {"type": "decide", "gate": "review", "outcome": "approve"})
    await stack.act(approver_b, aid, {"type": "decide", "gate": "review", "outcome": "approve"})
    assert [i["action"] for i in (await stack.get(staff_a, "/inbox")).json()["items"]] == ["submit_draft"]
    ksb = await stack.upload(staff_a, "# KSB\nPengelolaan sampah.\n")
    await stack.act(staff_a, aid, {"type": "submit_draft", "document": ksb})
    assert (await stack.get(staff_a, "/inbox")).json()["items"] == []  # waiting on the other party
    items = (await stack.get(partner_b, "/inbox")).json()["items"]
    assert [(i["action"], i["version"]) for i in items] == [("accept_draft", 1)]
    drafts = await eventually(lambda: _items(stack, partner_b, "draft_submitted"))
    assert drafts[0]["data"]["version"] == 1 and drafts[0]["data"]["by_org"] == a

    await stack.act(partner_b, aid, {"type": "accept_draft", "version": 1})
    # The agreed KSB awaits each region's TKKSD approval (procedure 2026.1) before signing.
    for approver, org in ((approver_a, a), (approver_b, b)):
        items = (await stack.get(approver, "/inbox")).json()["items"]
        assert [(i["action"], i["gates"], i["step"]["key"]) for i in items] == [
            ("decide", [{"gate": "review", "org": org}], "persetujuan_ksb")
        ]
    assert (await stack.get(stack.user(a, "signatory"), "/inbox")).json()["items"] == []
    approval = await eventually(
        lambda: _items(stack, approver_a, "gate_opened", lambda i: i["data"].get("step") == "persetujuan_ksb")
    )
    assert approval[0]["summary"] == "Menunggu keputusan Anda (kajian TKKSD): Pengelolaan sampah regional"
    assert approval[0]["data"]["step_name"]["id"] == "Persetujuan rancangan KSB oleh TKKSD"
    await stack.act(approver_a, aid, {"type": "decide", "gate": "review", "outcome": "approve"})
    await stack.act(approver_b, aid, {"type": "decide", "gate": "review", "outcome": "approve"})
    for org in (a, b):
        items = (await stack.get(stack.user(org, "signatory"), "/inbox")).json()["items"]
        assert [(i["action"], i["version"]) for i in items] == [("sign", 1)]
    marked = (await stack.http.post("/notifications/read-all", headers=stack.auth(partner_b))).json()
    assert marked["marked"] >= 2
    assert (await stack.get(partner_b, "/notifications")).json()["unread"] == 0


async def test_an_inbox_line_names_a_party_recorded_without_a_name_as_the_register_does(stack: Stack, orgs):
    # The regency is registered only after the agreement recorded its party (without a name,
    # as agreements before 53e132c did): the line names it as the register does, and the
    # notification's data keeps its id.
    a, b = orgs
    staff_a, staff_b = stack.user(a, "staff"), stack.user(b, "staff")
    created = await stack.create(staff_a, ksdd(a, b))
    assert [p["name"] for p in created["parties"]] == [None, None]
    async with session_scope(stack.sessionmaker) as session:
        entry = register.Entry(org=b, name_id=f"Pemerintah Kabupaten {b}", name_en=f"Regency of {b}", level="academia")
        await register.put(session, entry=entry, updated_by="operator@pakta")
    await stack.act(staff_a, created["id"], {"type": "submit"})
    await stack.act(staff_b, created["id"], {"type": "comment", "text": "Kami siap."})
    (line,) = await eventually(lambda: _items(stack, staff_a, "comment_added"))
    assert line["summary"] == f"Komentar baru dari Pemerintah Kabupaten {b}: Pengelolaan sampah regional"
    assert line["data"]["by_org"] == b
    english = (await stack.http.get("/notifications", headers={**stack.auth(staff_a), "Accept-Language": "en"})).json()
    assert [i["summary"] for i in english["items"] if i["type"] == "comment_added"] == [
        f"New comment from Regency of {b}: Pengelolaan sampah regional"
    ]


async def _items(stack: Stack, user, template: str, where=lambda item: True) -> list[dict]:
    items = (await stack.get(user, "/notifications")).json()["items"]
    return [i for i in items if i["type"] == template and where(i)]


# ---------------------------------------------------------------- dev mail


async def test_dev_mail_shows_what_the_sink_caught(settings, tmp_path: Path):
    port = free_port()
    sink = await start_mail_sink(tmp_path / "mail", port)
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "pakta@localhost", "siti@example.go.id", "Halo"
        message["Content-Language"] = "id"
        message.set_content("Isi pesan.")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
    finally:
        sink.close()
        await sink.wait_closed()

    dev = settings.model_copy(update={"dev_mail_dir": str(tmp_path / "mail")})
    async with app_client(create_app(dev)) as client:
        caught = (await client.get("/dev/mail")).json()
    assert [(m["to"], m["subject"], m["text"].strip()) for m in caught] == [
        ("siti@example.go.id", "Halo", "Isi pesan.")
    ]
    for hidden in (
        settings,
        dev.model_copy(update={"env": "production", "jwt_secret": "pW3x9LqZ7vN2mK8rT4yB6hJ1cF5dG0sA"}),
    ):
        async with app_client(create_app(hidden)) as client:
            assert (await client.get("/dev/mail")).status_code == 404
