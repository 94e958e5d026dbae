"""The action plan over HTTP (#13), end to end through the real stack: a plan in a proposal,
the implementation's commands with their documents, refusals and idempotency, the health
filter of the list, and `GET /agreements/{id}/action-plan`. Who may send each command is
the authorization matrix's (test_authorization_matrix.py). docs/implementation.md."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.plans import INDICATOR, day, in_force, names, proposal
from tests.api.stack import Stack
from tests.meetings import held_soon

# How soon a meeting the tests hold is held: time for it to be scheduled and its minutes
# refused as early (a few requests) even on a loaded machine, short as the tests wait it out.

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def listed(stack: Stack, org: str, health: str) -> list[str]:
    resp = await stack.get(stack.user(org, "staff"), f"/agreements?org={org}&health={health}")
    assert resp.status_code == 200, resp.text
    return [a["id"] for a in resp.json()["items"]]


async def test_a_proposal_carries_its_plan_and_binds_it_into_the_text(stack: Stack):
    own, party = names()
    staff = stack.user(own, "staff")
    created = await stack.create(staff, proposal(own, party))
    assert [g["code"] for g in created["goals"]] == ["11.2", "RPJMD-4.1"]
    assert [(o["id"], o["status"]) for o in created["obligations"]] == [("O1", "open"), ("O2", "open")]
    assert [a["id"] for a in created["activities"]] == ["A1", "A2"] and created["plan_hash"]
    assert created["health"] is None, "nothing to measure before it is in force"

    plan = (await stack.get(staff, f"/agreements/{created['id']}/action-plan")).json()
    assert plan["plan_hash"] == created["plan_hash"] and plan["stage"] == "draft"
    assert [(a["id"], a["percent_done"]) for a in plan["activities"]] == [("A1", 0), ("A2", 0)]

    # In draft the plan is edited with the proposal; in negotiation with edit_plan, and the
    # text's next version binds the new plan.
    retimed = proposal(own, party)["activities"]
    retimed[1]["ends_on"] = day(380)
    snap = await stack.act(staff, created["id"], {"type": "edit", "activities": retimed})
    assert snap["plan_hash"] != created["plan_hash"] and snap["activities"][1]["ends_on"] == day(380)
    await negotiating(stack, created["id"], own, party)
    text = await stack.upload(staff, "# Naskah KSB\n")
    snap = await stack.act(staff, created["id"], {"type": "submit_draft", "document": text})
    assert snap["drafts"][-1]["plan_hash"] == snap["plan_hash"]
    retimed[1]["ends_on"] = day(390)
    snap = await stack.act(staff, created["id"], {"type": "edit_plan", "activities": retimed})
    assert snap["drafts"][-1]["plan_hash"] != snap["plan_hash"]
    await stack.expect_refused(stack.user(party, "staff"), created["id"], {"type": "accept_draft", "version": 1}, 409)


async def negotiating(stack: Stack, aid: str, own: str, party: str) -> None:
    """Submitted, and each region's TKKSD approved its slot of the review: the text is next."""
    await stack.act(stack.user(own, "staff"), aid, {"type": "submit"})
    for org in (own, party):
        await stack.act(
            stack.user(org, "approver", gates=["review"]),
            aid,
            {"type": "decide", "gate": "review", "outcome": "approve"},
        )
    assert (await stack.snapshot(stack.user(own, "staff"), aid))["stage"] == "negotiation"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"goals": [{"scheme": "sdg", "code": "18.1"}]}, "goals.0.code"),
        (
            {"obligations": [{"id": "O1", "party": "outsider", "kind": "data", "description": "x", "due_on": day(9)}]},
            "obligations.0.party",
        ),
    ],
)
async def test_a_proposal_with_a_broken_plan_is_refused_naming_the_field(stack: Stack, change, field):
    own, party = names()
    staff = stack.user(own, "staff")
    resp = await stack.post(staff, "/agreements", {**proposal(own, party), **change})
    assert resp.status_code == 422, resp.text
    assert set(resp.json()) == {"error"} and resp.json()["error"]["field"] == field
    assert (await stack.get(staff, f"/agreements?org={own}")).json()["items"] == []


async def test_the_parties_report_on_the_plan_with_their_own_documents(stack: Stack):
    own, party = names()
    aid = await in_force(stack, own, party)
    staff, partner, other = stack.user(own, "staff"), stack.user(own, "partner"), stack.user(party, "staff")
    evidence = await stack.upload(partner, "# Laporan survei\n")
    theirs = await stack.upload(other, "# Dokumen mitra\n")

    # Evidence must be the caller's organisation's own upload: 422 naming it, nothing changes.
    body = await stack.expect_refused(
        partner, aid, {"type": "report_progress", "activity": "A1", "percent": 20, "evidence": [evidence, theirs]}, 422
    )
    assert body["error"]["code"] == "unknown_document" and body["error"]["field"] == "evidence.1"
    # Only the owner party reports on its activity; a lower percentage needs a note.
    await stack.expect_refused(other, aid, {"type": "report_progress", "activity": "A1", "percent": 20}, 403)
    await stack.expect_refused(staff, aid, {"type": "report_progress", "activity": "A9", "percent": 20}, 422)
    snap = await stack.act(
        partner,
        aid,
        {"type": "report_progress", "activity": "A1", "percent": 20, "milestone": "Survei", "evidence": [evidence]},
    )
    assert snap["activities"][0]["progress"][-1]["evidence"] == [evidence]
    await stack.expect_refused(staff, aid, {"type": "report_progress", "activity": "A1", "percent": 10}, 422)
    # Once attached, the other party may read the evidence.
    assert (await stack.get(other, f"/documents/{evidence}")).status_code == 200

    measurement = {
        "type": "record_measurement",
        "indicator": INDICATOR,
        "value": 2,
        "measured_on": day(-1),
        "source": "Dishub",
    }
    await stack.act(other, aid, measurement)
    await stack.expect_refused(other, aid, {**measurement, "measured_on": day(3)}, 422)
    await stack.expect_refused(other, aid, {**measurement, "indicator": "Jalan"}, 422)

    # Obligations: fulfilled by the owner with evidence; not twice.
    await stack.expect_refused(
        other, aid, {"type": "settle_obligation", "obligation": "O1", "outcome": "fulfilled"}, 422
    )
    data = await stack.upload(other, "# Data trayek\n")
    fulfilled = {"type": "settle_obligation", "obligation": "O1", "outcome": "fulfilled", "evidence": [data]}
    await stack.act(other, aid, fulfilled)
    await stack.expect_refused(other, aid, fulfilled, 409)

    plan = (await stack.get(staff, f"/agreements/{aid}/action-plan")).json()
    assert [(a["id"], a["percent_done"]) for a in plan["activities"]] == [("A1", 20), ("A2", 0)]
    assert plan["activities"][0]["percent_planned"] >= 0 and plan["activities"][1]["percent_planned"] == 0
    assert [(o["id"], o["status"]) for o in plan["obligations"]] == [("O1", "fulfilled"), ("O2", "open")]
    assert [(x["indicator"], x["value"], x["org"]) for x in plan["measurements"]] == [(INDICATOR, 2.0, party)]
    assert plan["health"]["status"] == "on_track" and plan["health"]["reasons"] == []


async def test_a_revision_of_the_plan_is_accepted_by_every_party_or_needs_an_addendum(stack: Stack):
    own, party = names()
    aid = await in_force(stack, own, party)
    staff, other = stack.user(own, "staff"), stack.user(party, "partner")
    activities = proposal(own, party)["activities"]
    more = [{**activities[0], "budget": [{"party": own, "amount": 900_000_000}]}, activities[1]]
    body = await stack.expect_refused(
        staff, aid, {"type": "propose_plan_revision", "summary": "Tambah", "activities": more}, 422
    )
    assert body["error"]["needs_addendum"] == [f"{own} would spend 900000000 instead of 100000000"]

    split = [
        activities[0],
        {**activities[1], "ends_on": day(200)},
        {**activities[1], "id": "A3", "starts_on": day(201), "budget": []},
    ]
    await stack.act(staff, aid, {"type": "propose_plan_revision", "summary": "Uji coba dua tahap", "activities": split})
    await stack.expect_refused(staff, aid, {"type": "accept_plan_revision", "revision": 1}, 409)
    assert "accept_plan_revision" in (await stack.get(other, "/inbox")).text
    snap = await stack.act(other, aid, {"type": "accept_plan_revision", "revision": 1})
    assert [a["id"] for a in snap["activities"]] == ["A1", "A2", "A3"] and snap["plan_revisions"][0][
        "status"
    ] == "adopted"

    await stack.act(
        other, aid, {"type": "propose_plan_revision", "summary": "Geser", "activities": split[:1] + split[1:]}
    )
    snap = await stack.act(staff, aid, {"type": "withdraw_plan_revision", "revision": 2, "reason": "Belum perlu."})
    assert snap["plan_revisions"][1]["status"] == "withdrawn" and len(snap["activities"]) == 3


async def test_a_meeting_s_minutes_become_action_items_of_their_owners(stack: Stack):
    own, party = names()
    aid = await in_force(stack, own, party)
    staff, other = stack.user(own, "staff"), stack.user(party, "staff")
    meeting = {
        "type": "schedule_meeting",
        "title": "Rapat koordinasi",
        "at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "participants": [own, party],
        "agenda": ["Trayek"],
    }
    await stack.expect_refused(staff, aid, {**meeting, "at": "2020-01-01T09:00:00+07:00"}, 422)
    await stack.expect_refused(staff, aid, {**meeting, "participants": [own, "outsider"]}, 422)
    minutes = await stack.upload(other, "# Notulen rapat\n")
    record = {
        "type": "record_minutes",
        "meeting": 1,
        "document": minutes,
        "decisions": [{"text": "Kirim data trayek", "party": party, "due_on": day(14)}],
    }
    # Meeting 1 tomorrow: not held yet, whatever the time the command takes.
    await stack.act(staff, aid, meeting)
    await stack.expect_refused(other, aid, record, 409)
    # Meeting 2 held a moment from now (scheduled again further ahead if the machine was slow).
    await held_soon(lambda at: stack.post(staff, f"/agreements/{aid}/actions", {**meeting, "at": at.isoformat()}))
    record["meeting"] = 2
    await stack.expect_refused(staff, aid, record, 422)  # the minutes are the other party's upload
    snap = await stack.act(other, aid, record)
    assert snap["action_items"] == [{**snap["action_items"][0], "id": "M2-1", "party": party, "done_at": None}]
    assert (await stack.get(staff, f"/documents/{minutes}")).status_code == 200
    await stack.expect_refused(staff, aid, {"type": "complete_action_item", "item": "M2-1"}, 403)
    inbox = (await stack.get(other, "/inbox")).json()
    assert any(aid == i.get("agreement_id") and "complete_action_item" in str(i) for i in inbox["items"]), inbox
    await stack.act(other, aid, {"type": "complete_action_item", "item": "M2-1", "note": "Terkirim."})
    await stack.expect_refused(other, aid, {"type": "complete_action_item", "item": "M2-1"}, 409)
    plan = (await stack.get(staff, f"/agreements/{aid}/action-plan")).json()
    assert [(m["number"], m["minutes"]) for m in plan["meetings"]] == [(1, None), (2, minutes)]
    assert plan["action_items"][0]["done_at"] is not None


async def test_a_command_retried_with_its_idempotency_key_is_recorded_once(stack: Stack):
    own, party = names()
    aid = await in_force(stack, own, party)
    staff, auditor = stack.user(own, "staff"), stack.user(own, "auditor")
    command = {"type": "report_progress", "activity": "A1", "percent": 5}
    key = {"Idempotency-Key": f"progress-{aid}"}
    first = await stack.post(staff, f"/agreements/{aid}/actions", command, key)
    again = await stack.post(staff, f"/agreements/{aid}/actions", command, key)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    events = (await stack.get(auditor, f"/agreements/{aid}/events")).json()["events"]
    assert [e["type"] for e in events].count("progress_reported") == 1
    other = await stack.post(staff, f"/agreements/{aid}/actions", {**command, "percent": 6}, key)
    assert other.status_code == 422 and set(other.json()) == {"error"}


async def test_lists_filter_on_the_implementation_s_health(stack: Stack):
    own, party = names()
    behind = await in_force(stack, own, party, overdue=True)
    fine = await in_force(stack, own, party)
    await stack.expect_row(behind, health="at_risk")
    assert await listed(stack, own, "at_risk") == [behind]
    assert await listed(stack, own, "on_track") == [fine]
    staff = stack.user(own, "staff")
    plan = (await stack.get(staff, f"/agreements/{behind}/action-plan")).json()
    assert plan["health"]["status"] == "at_risk"
    assert [(r["code"], r["ref"]) for r in plan["health"]["reasons"]] == [("obligation_overdue", "O3")]

    # The coordinators record it missed: off track.
    await stack.act(
        staff,
        behind,
        {"type": "settle_obligation", "obligation": "O3", "outcome": "missed", "note": "Tidak ada petugas."},
    )
    assert await listed(stack, own, "at_risk") == [] and await listed(stack, own, "off_track") == [behind]
    resp = await stack.get(staff, "/agreements?health=sideways")
    assert resp.status_code == 422 and set(resp.json()) == {"error"}


async def test_the_action_plan_is_read_by_whoever_may_read_the_agreement(stack: Stack):
    own, party = names()
    aid = await in_force(stack, own, party)
    for user, status in (
        (stack.user(own, "signatory"), 200),
        (stack.user(party, "partner"), 200),
        (stack.user("prov-elsewhere", "staff"), 404),
        (stack.user("prov-elsewhere", "auditor"), 200),
    ):
        resp = await stack.get(user, f"/agreements/{aid}/action-plan")
        assert resp.status_code == status, resp.text
        if status == 404:
            assert resp.json()["error"]["code"] == "not_found"
    resp = await stack.get(stack.user(own, "staff"), f"/agreements/{aid}/action-plan")
    assert resp.headers["ETag"] == f'"{(await stack.snapshot(stack.user(own, "staff"), aid))["version"]}"'
    assert (await stack.get(stack.user(own, "staff"), "/agreements/no-such-id/action-plan")).status_code == 404


async def test_the_report_upward_shows_each_agreement_s_health_as_the_decider_computes_it(stack: Stack):
    own, party = names()
    aid = await in_force(stack, own, party, overdue=True)
    staff = stack.user(own, "staff")
    period = f"from={day(-60)}&to={day(0)}"
    report = (await stack.get(staff, f"/reports/upward?{period}")).json()
    (reported,) = [a for a in report["agreements"] if a["id"] == aid]
    plan = (await stack.get(staff, f"/agreements/{aid}/action-plan")).json()
    health = reported["action_plan"]["health"]
    assert health["status"] == plan["health"]["status"] == "at_risk"
    assert health["reasons"] == plan["health"]["reasons"]
    assert [(i["kind"], i["id"]) for i in reported["action_plan"]["late"]] == [("obligation", "O3")]
    sheet = (await stack.get(staff, f"/reports/upward.csv?{period}")).text
    (row,) = [r for r in csv.DictReader(io.StringIO(sheet)) if r["agreement_id"] == aid]
    assert row["plan_health"] == "at_risk"
    assert row["plan_health_reasons"] == f"The obligation “Petugas terminal” of {party} is overdue."


async def test_the_report_s_csv_words_each_health_reason_in_english_with_the_partner_s_name_and_no_plan_id(
    stack: Stack,
):
    """A sheet is read by staff, who know the obligation by its words and the partner by its
    name, not by the plan's `O3` or the register's id; the columns stay as they were."""
    own, party = names()
    admin = stack.user(own, "admin")
    body = proposal(own, party, overdue=True)
    body["parties"][1]["name"] = "Pemerintah Kota Contoh"
    scan = await stack.upload(admin, f"scan of the signed PKS {uuid.uuid4()}\n", media_type="application/pdf")
    record = {"ref": f"PKS/{uuid.uuid4().hex[:8]}", "signed_on": day(-35), "document": scan, "proposal": body}
    resp = await stack.post(admin, "/agreements/import", [record])
    assert resp.status_code == 200, resp.text
    (imported,) = resp.json()["imported"]
    sheet = (await stack.get(stack.user(own, "staff"), f"/reports/upward.csv?from={day(-60)}&to={day(0)}")).text
    header, *rows = csv.reader(io.StringIO(sheet))
    assert header[-2:] == ["plan_health", "plan_health_reasons"] and len(header) == 26
    (row,) = [dict(zip(header, r, strict=True)) for r in rows if r[3] == imported["id"]]
    reasons = row["plan_health_reasons"]
    assert reasons == "The obligation “Petugas terminal” of Pemerintah Kota Contoh is overdue.", reasons
    assert "O3" not in reasons and party not in reasons
