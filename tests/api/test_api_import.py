"""Agreements signed on paper before Pakta come in through `POST /agreements/import`,
already in force (or expired), with their schedule computed from their historical dates."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from services.store import register
from services.store.db import session_scope
from tests.api.plans import day
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


def plan_sheets(org: str, scan: str, start: str) -> dict[str, str]:
    """An agreement sheet and its plan's sheets (#13): goals, obligations and activities,
    one row per item keyed by the agreement's ref."""
    univ = f"{org}-univ"
    return {
        "agreements": (
            "ref,title,kind,objectives,sector,start_date,duration_months,signed_on,document,"
            "initiator_org,initiator_signatory,counterparty_org,counterparty_sector,counterparty_signatory,indicators\n"
            f"RA/1,Riset pangan,ksdpk,Riset bersama,agriculture,{start},36,{start},{scan},"
            f"{org},Bupati,{univ},academia,Rektor,Petani didampingi|200|orang\n"
        ),
        "goals": "ref,scheme,code,text\nRA/1,sdg,2.3,\nRA/1,regional,RPJMD-2.1,Produktivitas pertanian naik\n",
        "obligations": (
            "ref,id,party,kind,description,amount,source,due_on\n"
            f"RA/1,O1,{org},funds,Dana hibah riset,750000000,apbd,{day(120)}\n"
            f"RA/1,O2,{univ},staff,Sepuluh peneliti,,,{day(200)}\n"
        ),
        "activities": (
            "ref,id,name,party,responsible,starts_on,ends_on,deliverables,indicators,budget,milestones\n"
            f"RA/1,A1,Survei lahan,{org},Kepala Dinas Pertanian,{start},{day(300)},Peta lahan; Laporan survei,"
            f'Petani didampingi,"{org}:400000000;{univ}:50000000:other",Desain;Survei lapangan\n'
        ),
    }


async def import_sheets(stack: Stack, admin, sheets: dict[str, str]):
    files = {name: (f"{name}.csv", text.encode(), "text/csv") for name, text in sheets.items()}
    return await stack.http.post("/agreements/import", files=files, headers=stack.auth(admin))


async def test_csv_sheets_bring_each_agreement_s_action_plan(stack: Stack):
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin = stack.user(org, "admin")
    scan = await stack.upload(admin, f"scan plan {org}\n")
    resp = await import_sheets(stack, admin, plan_sheets(org, scan, day(-20)))
    assert resp.status_code == 200, resp.text
    snap = await stack.snapshot(admin, resp.json()["imported"][0]["id"])
    assert snap["stage"] == "implementation" and snap["plan_hash"]
    assert [(g["scheme"], g["code"]) for g in snap["goals"]] == [("sdg", "2.3"), ("regional", "RPJMD-2.1")]
    assert [(o["id"], o["amount"], o["source"]) for o in snap["obligations"]] == [
        ("O1", 750000000, "apbd"),
        ("O2", None, None),
    ]
    (activity,) = snap["activities"]
    assert activity["deliverables"] == ["Peta lahan", "Laporan survei"]
    assert activity["milestones"] == ["Desain", "Survei lapangan"]
    assert activity["budget"] == [
        {"party": org, "amount": 400000000, "source": "apbd"},
        {"party": f"{org}-univ", "amount": 50000000, "source": "other"},
    ]
    assert snap["health"]["status"] == "on_track"


@pytest.mark.parametrize(
    ("sheet", "line", "says"),
    [
        ("obligations", "RA/9,O3,{org},data,Data,,,{due}\n", "no agreement with ref 'RA/9'"),
        ("obligations", "RA/1,O3,outsider,data,Data,,,{due}\n", "O3 belongs to outsider, which is no party"),
        ("obligations", "RA/1,O3,{org},data,Data,,,soon\n", "due_on"),
        ("goals", "RA/1,sdg,18,\n", "no SDG goal or target"),
    ],
)
async def test_a_plan_sheet_with_a_mistake_imports_nothing(stack: Stack, sheet: str, line: str, says: str):
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin = stack.user(org, "admin")
    scan = await stack.upload(admin, f"scan bad plan {org}\n")
    sheets = plan_sheets(org, scan, day(-20))
    sheets[sheet] += line.format(org=org, due=day(50))
    resp = await import_sheets(stack, admin, sheets)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_import"
    assert says in resp.text
    assert (await stack.get(admin, f"/agreements?org={org}")).json()["items"] == []


async def test_sheets_other_than_the_plan_s_are_refused(stack: Stack):
    admin = stack.user(f"imp-{uuid.uuid4().hex[:8]}", "admin")
    resp = await import_sheets(stack, admin, {"goals": "ref,scheme,code\n"})
    assert resp.status_code == 422 and "agreements required" in resp.json()["error"]["message"]
    resp = await import_sheets(stack, admin, {"agreements": "ref\n", "budgets": "ref\n"})
    assert resp.status_code == 422 and "'budgets'" in resp.json()["error"]["message"]


def settled_sheets(org: str, scan: str) -> dict[str, str]:
    """The plan's sheets of an agreement signed 60 days ago whose first obligation fell due
    on paper and was fulfilled, and whose activity was reported 40% done."""
    sheets = plan_sheets(org, scan, day(-60))
    sheets["obligations"] = (
        "ref,id,party,kind,description,amount,source,due_on,status,settled_on,note\n"
        f"RA/1,O1,{org},funds,Dana hibah riset,750000000,apbd,{day(-30)},fulfilled,{day(-35)},SP2D terbit\n"
        f"RA/1,O2,{org}-univ,staff,Sepuluh peneliti,,,{day(200)},,,\n"
    )
    activities = sheets["activities"].splitlines()
    sheets["activities"] = f"{activities[0]},percent\n{activities[1]},40\n"
    return sheets


async def test_csv_sheets_carry_what_was_settled_and_done_on_paper(stack: Stack):
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin = stack.user(org, "admin")
    scan = await stack.upload(admin, f"scan settled plan {org}\n")
    resp = await import_sheets(stack, admin, settled_sheets(org, scan))
    assert resp.status_code == 200, resp.text
    agreement_id = resp.json()["imported"][0]["id"]
    plan = (await stack.get(admin, f"/agreements/{agreement_id}/action-plan")).json()
    (o1, o2) = plan["obligations"]
    assert (o1["status"], o1["note"], o1["settled_at"][:10]) == ("fulfilled", "SP2D terbit", day(-35))
    assert o2["status"] == "open"
    assert plan["activities"][0]["percent_done"] == 40
    assert plan["health"]["status"] == "on_track"  # O1 fell due, but it was fulfilled on paper


async def test_json_import_carries_settlements_and_progress_and_refuses_unknown_items(stack: Stack):
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin = stack.user(org, "admin")
    scan = await stack.upload(admin, f"scan settled json {org}\n")
    obligation = {"id": "O1", "party": org, "kind": "data", "description": "Data penduduk", "due_on": day(-30)}
    activity = {
        "id": "A1",
        "name": "Integrasi data",
        "party": org,
        "responsible": "Kepala Dinas",
        "starts_on": day(-60),
        "ends_on": day(100),
    }
    paper = record(
        "PKS/S1",
        initiator=org,
        start=day(-60),
        months=24,
        signed_on=day(-60),
        document=scan,
        obligations=[obligation],
        activities=[activity],
    )
    missed = {"obligation": "O1", "outcome": "missed", "settled_on": day(-20), "note": "Data tidak dikirim"}
    wrong = {**paper, "settled": [{**missed, "obligation": "O7"}]}
    refused = await stack.http.post("/agreements/import", json=[wrong], headers=stack.auth(admin))
    assert refused.status_code == 422, refused.text
    (row,) = refused.json()["error"]["rows"]
    assert row["errors"][0]["loc"] == ["settled"] and "O7" in row["errors"][0]["message"]
    assert (await stack.get(admin, f"/agreements?org={org}")).json()["items"] == []

    right = {**paper, "settled": [missed], "progress": [{"activity": "A1", "percent": 35}]}
    resp = await stack.http.post("/agreements/import", json=[right], headers=stack.auth(admin))
    assert resp.status_code == 200, resp.text
    plan = (await stack.get(admin, f"/agreements/{resp.json()['imported'][0]['id']}/action-plan")).json()
    assert [(o["status"], o["note"]) for o in plan["obligations"]] == [("missed", "Data tidak dikirim")]
    assert plan["activities"][0]["percent_done"] == 35
    assert [r["ref"] for r in plan["health"]["reasons"]] == ["O1"]  # missed, as it was on paper


async def test_an_agreement_imported_from_a_months_end_is_evaluated_on_each_months_last_day(stack: Stack):
    """Periods on the effective date's day of the month: from 31 January, the next one is the
    last day of a month — not the 28th that stepping month by month from February would give."""
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin, staff = stack.user(org, "admin"), stack.user(org, "staff")
    scan = await stack.upload(admin, f"scan of a month end's PKS of {org}\n", media_type="application/pdf")
    monthly = record(
        "PKS/31/2025",
        initiator=org,
        start="2025-01-31",
        months=60,
        signed_on="2025-01-31",
        document=scan,
        evaluation_interval_months=1,
    )
    resp = await stack.post(admin, "/agreements/import", [monthly])
    assert resp.status_code == 200, resp.text
    snap = await stack.snapshot(staff, resp.json()["imported"][0]["id"])
    upcoming = date.fromisoformat(snap["next_evaluation_at"][:10])
    last_day = (upcoming.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    assert upcoming > date.today() and upcoming == last_day


async def test_a_batch_run_again_after_a_partys_register_rename_adds_nothing_and_refuses_nothing(stack: Stack):
    # A record's fingerprint is of the record as sent: a party's name the register gave it
    # at the first run, renamed since, makes the second run no different import.
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin = stack.user(org, "admin")
    scan = await stack.upload(admin, f"scan of the signed PKS of {org}\n", media_type="application/pdf")
    batch = [record("PKS/03/2025", initiator=org, start="2025-03-01", months=36, signed_on="2025-02-20", document=scan)]

    async def name(partner_name: str) -> None:
        async with session_scope(stack.sessionmaker) as session:
            entry = register.Entry(org=f"{org}-mitra", name_id=partner_name, level="agency")
            await register.put(session, entry=entry, updated_by="operator@pakta")

    await name("Dinas Perhubungan")
    first = await stack.post(admin, "/agreements/import", batch)
    assert first.status_code == 200, first.text
    await name("Dinas Perhubungan dan Transportasi")
    again = await stack.post(admin, "/agreements/import", batch)
    assert again.status_code == 200, again.text
    assert [(r["id"], r["created"]) for r in again.json()["imported"]] == [
        (r["id"], False) for r in first.json()["imported"]
    ]


async def test_a_batch_imported_from_the_spreadsheet_and_run_again_as_json_is_the_same_import(stack: Stack):
    # The sheet spells out what JSON leaves to the defaults (`foreign: false`,
    # `requires_dprd_approval: false`, no indicators): the same agreements, so the run as
    # JSON adds nothing and refuses nothing, as before a fingerprint of the record as sent.
    org = f"imp-{uuid.uuid4().hex[:8]}"
    admin = stack.user(org, "admin")
    scan = await stack.upload(admin, f"scan of the signed PKS of {org}\n", media_type="application/pdf")
    sheet = (
        "ref,title,kind,objectives,sector,start_date,duration_months,signed_on,document,"
        "initiator_org,initiator_signatory,counterparty_org,counterparty_sector,counterparty_signatory\n"
        f"PKS/04/2025,Beasiswa daerah,ksdpk,Beasiswa mahasiswa,education,2025-08-01,48,2025-07-20,{scan},"
        f"{org},Wali Kota,{org}-univ,academia,Rektor\n"
    )
    first = await stack.http.post(
        "/agreements/import", content=sheet.encode(), headers={**stack.auth(admin), "Content-Type": "text/csv"}
    )
    assert first.status_code == 200, first.text
    batch = [
        {
            "ref": "PKS/04/2025",
            "signed_on": "2025-07-20",
            "document": scan,
            "proposal": {
                "title": "Beasiswa daerah",
                "kind": "ksdpk",
                "objectives": "Beasiswa mahasiswa",
                "sector": "education",
                "parties": [
                    {"org": org, "role": "initiator", "sector": "government", "signatory": "Wali Kota"},
                    {"org": f"{org}-univ", "role": "counterparty", "sector": "academia", "signatory": "Rektor"},
                ],
                "start_date": "2025-08-01",
                "duration_months": 48,
            },
        }
    ]
    again = await stack.post(admin, "/agreements/import", batch)
    assert again.status_code == 200, again.text
    assert [(r["id"], r["created"]) for r in again.json()["imported"]] == [
        (r["id"], False) for r in first.json()["imported"]
    ]
    # Other data under the same reference is still another import.
    batch[0]["proposal"]["duration_months"] = 36
    refused = await stack.post(admin, "/agreements/import", batch)
    assert refused.status_code == 409, refused.text
