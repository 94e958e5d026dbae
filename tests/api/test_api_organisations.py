"""Organisation settings give new agreements their defaults: the region's time zone for
office hours, and its expiry reminder days."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from services.store import register
from services.store.db import session_scope
from tests.api.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


def proposal(org: str, partner: str, **extra):
    return {
        "title": "Kerja sama pariwisata",
        "kind": "ksdd",
        "objectives": "Promosi bersama.",
        "sector": "tourism",
        "parties": [
            {"org": org, "role": "initiator", "sector": "government", "signatory": "Gubernur"},
            {
                "org": partner,
                "role": "counterparty",
                "sector": "government",
                "signatory": "Bupati",
                "time_zone": "Asia/Jakarta",
            },
        ],
        "start_date": "2027-01-01",
        "duration_months": 24,
        **extra,
    }


async def test_settings_are_the_defaults_of_new_agreements(stack: Stack):
    org, partner = f"ntb-{uuid.uuid4().hex[:6]}", f"bali-{uuid.uuid4().hex[:6]}"
    staff = stack.user(org, "staff")
    assert (await stack.get(staff, f"/organisations/{org}/settings")).json() == {
        "org": org,
        "time_zone": None,
        "expiry_reminder_days": None,
        "days_off": None,
    }
    resp = await stack.http.put(
        f"/organisations/{org}/settings",
        headers=stack.auth(staff),
        json={"time_zone": "Asia/Makassar", "expiry_reminder_days": [7, 30, 30]},
    )
    assert resp.status_code == 200
    assert resp.json() == {"org": org, "time_zone": "Asia/Makassar", "expiry_reminder_days": [30, 7], "days_off": None}
    # the partner set its zone explicitly; the initiator did not, so its organisation's applies
    snap = await stack.create(staff, proposal(org, partner))
    assert [p["time_zone"] for p in snap["parties"]] == ["Asia/Makassar", "Asia/Jakarta"]
    assert snap["expiry_reminder_days"] == [30, 7]
    await stack.act(staff, snap["id"], {"type": "submit"})
    submitted = await stack.snapshot(staff, snap["id"])
    # A due date is the end of an office day (16:00) in the deciding party's zone: the
    # review gate waits for both regions, and the later of their days wins — 16:00 WIB
    # (09:00 UTC) ends after 16:00 WITA (08:00 UTC) of the same day.
    assert submitted["deadlines"]["step"].endswith(("T08:00:00Z", "T09:00:00Z"))
    explicit = await stack.create(staff, proposal(org, partner, expiry_reminder_days=[60]))
    assert explicit["expiry_reminder_days"] == [60]


async def test_a_party_named_by_no_one_is_named_as_the_register_names_it(stack: Stack):
    # A proposal gives its parties by id; the pages and the portal read a party's name, so an
    # unnamed party takes its official name from the register, and a name given is kept.
    org, partner, unknown = (f"{p}-{uuid.uuid4().hex[:6]}" for p in ("sulsel", "gowa", "maros"))
    async with session_scope(stack.sessionmaker) as session:
        for entry in (
            register.Entry(org=org, name_id=f"Badan Pariwisata {org}", level="agency"),
            register.Entry(org=partner, name_id=f"PT Wisata {partner}", level="business"),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    staff = stack.user(org, "staff")
    body = proposal(org, partner)
    body["parties"][1]["name"] = "Pemkab Gowa"
    snap = await stack.create(staff, body)
    assert [p["name"] for p in snap["parties"]] == [f"Badan Pariwisata {org}", "Pemkab Gowa"]
    # an organisation the register does not hold keeps no name: its page shows the id
    snap = await stack.create(staff, proposal(org, unknown))
    assert [p["name"] for p in snap["parties"]] == [f"Badan Pariwisata {org}", None]


async def test_settings_are_the_organisations_own(stack: Stack):
    org = f"ntt-{uuid.uuid4().hex[:6]}"
    other = stack.user("jabar", "staff")
    resp = await stack.http.put(
        f"/organisations/{org}/settings", headers=stack.auth(other), json={"time_zone": "Asia/Makassar"}
    )
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    staff = stack.user(org, "staff")
    resp = await stack.http.put(
        f"/organisations/{org}/settings", headers=stack.auth(staff), json={"time_zone": "Mars/Olympus"}
    )
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "validation_error"
    resp = await stack.http.put(
        f"/organisations/{org}/settings", headers=stack.auth(staff), json={"expiry_reminder_days": [-1]}
    )
    assert resp.status_code == 422


async def test_a_regions_own_days_off_are_the_days_off_of_its_new_agreements(stack: Stack):
    tag = uuid.uuid4().hex[:6]
    org, partner = f"kab-{tag}", f"kota-{tag}"
    staff = stack.user(org, "staff")
    days = ["2027-01-05", "2026-12-31"]
    put = await stack.http.put(f"/organisations/{org}/settings", json={"days_off": days}, headers=stack.auth(staff))
    assert put.status_code == 200 and put.json()["days_off"] == ["2026-12-31", "2027-01-05"]
    assert (await stack.get(staff, f"/organisations/{org}/settings")).json()["days_off"] == ["2026-12-31", "2027-01-05"]
    bad = await stack.http.put(
        f"/organisations/{org}/settings", json={"days_off": ["9999-01-01"]}, headers=stack.auth(staff)
    )
    assert bad.status_code == 422
    snap = await stack.create(staff, proposal(org, partner))
    assert [p["days_off"] for p in snap["parties"]] == [["2026-12-31", "2027-01-05"], []]


def without_zone(party: dict) -> dict:
    return {k: v for k, v in party.items() if k != "time_zone"}


async def test_a_keyed_create_retried_after_a_register_rename_and_a_new_time_zone_gets_its_agreement_again(
    stack: Stack,
):
    # The key's request is what its caller sent: the defaults applied to it (the register's
    # names, the settings' time zone) may change between a create and its retry.
    org, partner = f"sulbar-{uuid.uuid4().hex[:6]}", f"mamuju-{uuid.uuid4().hex[:6]}"
    async with session_scope(stack.sessionmaker) as session:
        for entry in (
            register.Entry(org=org, name_id=f"Pemerintah Provinsi {org}", level="agency"),
            register.Entry(org=partner, name_id=f"Pemerintah Kabupaten {partner}", level="agency"),
        ):
            await register.put(session, entry=entry, updated_by="operator@pakta")
    staff = stack.user(org, "staff")
    key = {"Idempotency-Key": f"usul-{uuid.uuid4()}"}
    first = await stack.post(staff, "/agreements", proposal(org, partner), headers=key)
    assert first.status_code == 201, first.text
    async with session_scope(stack.sessionmaker) as session:
        renamed = register.Entry(org=partner, name_id=f"Pemerintah Kabupaten {partner} (baru)", level="agency")
        await register.put(session, entry=renamed, updated_by="operator@pakta")
    zone = await stack.http.put(
        f"/organisations/{org}/settings", headers=stack.auth(staff), json={"time_zone": "Asia/Makassar"}
    )
    assert zone.status_code == 200, zone.text
    again = await stack.post(staff, "/agreements", proposal(org, partner), headers=key)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    # The party names as created; the time zone may since have been brought to the agreement
    # by the settings change (`party_settings_changed`), which runs after the PUT's answer.
    assert [without_zone(p) for p in again.json()["parties"]] == [without_zone(p) for p in first.json()["parties"]]
    listed = (await stack.get(staff, f"/agreements?org={partner}")).json()["items"]
    assert [a["id"] for a in listed] == [first.json()["id"]]
    # Another body under the key is still another request.
    other = await stack.post(staff, "/agreements", proposal(org, partner, title="Lain sama sekali"), headers=key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


async def test_settings_whose_zone_the_zone_data_no_longer_knows_are_shown_and_can_be_set_anew(stack: Stack):
    """A zone saved before the zone data was pinned (the host's files knew it) or one a later
    tzdata release dropped: the settings are still shown as saved, and a new zone replaces
    it. Read back, the view refused its own zone: every GET, and a PUT of the days off
    alone (after its commit), answered 500, and the organisation could not see what to fix."""
    org = f"jambi-{uuid.uuid4().hex[:6]}"
    async with session_scope(stack.sessionmaker) as session:
        await session.execute(
            text(
                "INSERT INTO organisation_settings (org, time_zone, updated_by) VALUES (:org, 'Asia/Atlantis', 'test')"
            ),
            {"org": org},
        )
    staff = stack.user(org, "staff")
    shown = await stack.get(staff, f"/organisations/{org}/settings")
    assert shown.status_code == 200, shown.text
    assert shown.json()["time_zone"] == "Asia/Atlantis"
    days_alone = await stack.http.put(
        f"/organisations/{org}/settings", headers=stack.auth(staff), json={"days_off": ["2027-06-01"]}
    )
    assert days_alone.status_code == 200, days_alone.text
    anew = await stack.http.put(
        f"/organisations/{org}/settings", headers=stack.auth(staff), json={"time_zone": "Asia/Makassar"}
    )
    assert anew.status_code == 200 and anew.json()["time_zone"] == "Asia/Makassar"
