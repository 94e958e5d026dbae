"""The organisation settings' PUT, now that a change reaches the organisation's open
agreements, attacked: every hostile value is a 4xx in the one error shape, nothing is
written, and the organisation's agreement still takes its next command."""

from __future__ import annotations

import uuid

import pytest

from tests.api.stack import Stack
from tests.api.test_api_organisations import proposal

pytestmark = pytest.mark.asyncio(loop_scope="session")

HOSTILE = [
    {"time_zone": "Asia/Jak\u0000arta"},
    {"time_zone": "../../../etc/passwd"},
    {"time_zone": "A" * 10_000},
    {"days_off": ["9999-12-31"]},
    {"days_off": ["2027-02-30"]},
    {"days_off": ["2027-01-01"] * 367},
    {"expiry_reminder_days": [2**63]},
    {"expiry_reminder_days": ["NaN"]},
    {"time_zone": None, "days_off": None, "surprise": 1},
]


async def test_hostile_settings_are_refused_in_the_one_shape_and_leave_the_settings_and_agreements_as_they_were(
    stack: Stack,
):
    org, partner = f"ntt-{uuid.uuid4().hex[:6]}", f"sulut-{uuid.uuid4().hex[:6]}"
    staff = stack.user(org, "staff")
    snap = await stack.create(staff, proposal(org, partner))
    before = (await stack.get(staff, f"/organisations/{org}/settings")).json()
    for body in HOSTILE:
        resp = await stack.http.put(f"/organisations/{org}/settings", headers=stack.auth(staff), json=body)
        assert 400 <= resp.status_code < 500, (body, resp.status_code, resp.text[:200])
        assert set(resp.json()) >= {"error"}, resp.text[:200]
    other = stack.user(partner, "staff")
    resp = await stack.http.put(
        f"/organisations/{org}/settings", headers=stack.auth(other), json={"days_off": ["2027-03-01"]}
    )
    assert resp.status_code == 403 and "error" in resp.json()
    assert (await stack.get(staff, f"/organisations/{org}/settings")).json() == before
    await stack.act(staff, snap["id"], {"type": "submit"})
