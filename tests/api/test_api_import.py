"""Agreements signed on paper before Pakta come in through `POST /agreements/import`,
already in force (or expired), with their schedule computed from their historical dates."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from tests.api.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


def record(ref: str, *, initiator: str, start: str, months: int, signed_on: str, document: str, **kw):
    return {
        "ref": ref,
        "signed_on": signed_on,
        "document": document,
        "proposal": {
            "title": f"Kerja sama lama {ref}",
            "kind": "ksdd",
            "objectives": "Dibawa dari arsip kertas.",
            "sector": "transport",
            "parties": [
                {"org": initiator, "role": "initiator", "sector": "government", "signatory": "Gubernur"},
                {"org": f"{initiator}-mitra", "role": "counterparty", "sector": "government", "signatory": "Bupati"},
            ],
            "start_date": start,
            "duration_months": months,
            "evaluation_interval_months": 6,
            **kw,
        },
    }


async def test_import_brings_paper_agreements_in_force_or_expired(stack: Stack):
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin, staff = stack.user(org, "admin"), stack.user(org, "staff")
    scan = await stack.upload(admin, f"scan of the signed PKS of {org}\n", media_type="application/pdf")
    batch = [
        record("PKS/01/2024", initiator=org, start="2024-03-01", months=60, signed_on="2024-02-20", document=scan),
        record("PKS/07/2019", initiator=org, start="2019-07-01", months=36, signed_on="2019-06-15", document=scan),
    ]
    resp = await stack.post(admin, "/agreements/import", batch)
    assert resp.status_code == 200, resp.text
    rows = resp.json()["imported"]
    assert [(r["ref"], r["stage"], r["created"]) for r in rows] == [
        ("PKS/01/2024", "implementation", True),
        ("PKS/07/2019", "expired", True),
    ]

    snap = await stack.snapshot(staff, rows[0]["id"])
    assert (snap["effective_date"], snap["end_date"]) == ("2024-03-01", "2029-03-01")
    assert {s["method"] for s in snap["signatures"]} == {"wet_ink"} and len(snap["signatures"]) == 2
    assert all(s["document"] == scan for s in snap["signatures"])
    # The next evaluation is the first one still ahead of today on the six-month schedule.
    upcoming = date.fromisoformat(snap["next_evaluation_at"][:10])
    assert upcoming > date.today() and upcoming.day == 1 and upcoming.month in (3, 9)
    assert "start_evaluation" in snap["allowed_actions"]
    await stack.expect_row(rows[0]["id"], stage="implementation", end_date=date(2029, 3, 1))
    await stack.expect_row(rows[1]["id"], stage="expired")
    events = (await stack.get(staff, f"/agreements/{rows[0]['id']}/events")).json()["events"]
    assert [e["type"] for e in events] == ["agreement_created", "agreement_imported"]

    again = await stack.post(admin, "/agreements/import", batch)
    assert [(r["id"], r["created"]) for r in again.json()["imported"]] == [(r["id"], False) for r in rows]


async def test_a_bad_batch_is_refused_whole_with_every_mistake(stack: Stack):
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin = stack.user(org, "admin")
    scan = await stack.upload(admin, f"scan {org}\n")
    good = record("A/1", initiator=org, start="2024-01-01", months=24, signed_on="2024-01-01", document=scan)
    bad_kind = record("A/2", initiator=org, start="2024-01-01", months=24, signed_on="2024-01-01", document=scan)
    bad_kind["proposal"]["kind"] = "ksdx"
    no_document = record(
        "A/3", initiator=org, start="2024-01-01", months=24, signed_on="2024-01-01", document="ab" * 32
    )
    future = record("A/4", initiator=org, start="2024-01-01", months=24, signed_on="2099-01-01", document=scan)
    resp = await stack.post(admin, "/agreements/import", [good, bad_kind, no_document, future, good])
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "invalid_import"
    assert [(r["row"], r["ref"]) for r in error["rows"]] == [(2, "A/2"), (3, "A/3"), (4, "A/4"), (5, "A/1")]
    listed = (await stack.get(admin, f"/agreements?org={org}")).json()["items"]
    assert listed == []  # nothing was imported, not even the good row

    staff = stack.user(org, "staff")
    assert (await stack.post(staff, "/agreements/import", [good])).status_code == 403


async def test_csv_sheets_import_too(stack: Stack):
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin = stack.user(org, "admin")
    scan = await stack.upload(admin, f"scan csv {org}\n")
    sheet = (
        "ref,title,kind,objectives,sector,start_date,duration_months,signed_on,document,"
        "initiator_org,initiator_signatory,initiator_time_zone,counterparty_org,counterparty_sector,"
        "counterparty_signatory,indicators\n"
        f"CSV/1,Beasiswa daerah,ksdpk,Beasiswa mahasiswa,education,2025-08-01,48,2025-07-20,{scan},"
        f"{org},Wali Kota,Asia/Makassar,{org}-univ,academia,Rektor,Mahasiswa|100|orang;Lulusan|80|orang\n"
    )
    resp = await stack.http.post(
        "/agreements/import", content=sheet.encode(), headers={**stack.auth(admin), "Content-Type": "text/csv"}
    )
    assert resp.status_code == 200, resp.text
    imported = resp.json()["imported"][0]
    snap = await stack.snapshot(admin, imported["id"])
    assert snap["kind"] == "ksdpk" and snap["stage"] == "implementation"
    assert [i["name"] for i in snap["indicators"]] == ["Mahasiswa", "Lulusan"]
    assert snap["parties"][0]["time_zone"] == "Asia/Makassar"
    # 09:00 WITA is 01:00 UTC: the schedule follows the region's own office hours.
    assert snap["next_evaluation_at"].endswith("T01:00:00Z") or snap["next_evaluation_at"].endswith("T01:00:00+00:00")

    resp = await stack.http.post(
        "/agreements/import", content=b"ref,title\nx,y\n", headers={**stack.auth(admin), "Content-Type": "text/csv"}
    )
    assert resp.status_code == 422 and "missing" in resp.json()["error"]["message"]
