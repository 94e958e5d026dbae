"""The organisation settings' PUT, now that a change reaches the organisation's open
agreements, attacked: every hostile value is a 4xx in the one error shape, nothing is
written, and the organisation's agreement still takes its next command."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.stack import Stack
from tests.api.test_api_organisations import proposal
from workflows.contracts import portfolio as c
from workflows.portfolio.sweep import PortfolioSweepWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

HOSTILE = [
    {"time_zone": "Asia/Jak\u0000arta"},
    {"time_zone": "../../../etc/passwd"},
    {"time_zone": "A" * 10_000},
    {"time_zone": "asia/jakarta"},  # differs only by case: the zone data's names are exact
    {"time_zone": "ASIA/MAKASSAR"},
    {"time_zone": "Asia/Jakarta\n"},
    {"time_zone": "Asia"},  # a folder of the zone data, not a zone
    {"time_zone": "posixrules"},
    {"days_off": ["2101-01-01"]},  # after the last date an agreement may hold
    {"days_off": ["1945-08-16"]},
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


async def test_settings_flipped_by_many_puts_at_once_leave_each_open_agreement_at_the_last_values_taking_commands(
    stack: Stack, temporal_env
):
    """A region with several open agreements (drafts and running reviews) whose staff save
    two settings back and forth, many PUTs in flight at once, the days off given with
    duplicates and at the far edges of the dates an agreement holds: every PUT is answered,
    every agreement ends at the register's last values (whichever PUT committed last), the
    night finds nothing to bring, and every agreement still takes its next command."""
    region, partner = f"papua-{uuid.uuid4().hex[:6]}", f"maluku-{uuid.uuid4().hex[:6]}"
    staff = stack.user(region, "staff")
    agreements = [await stack.create(staff, proposal(region, partner)) for _ in range(6)]
    for agreement in agreements[:3]:
        await stack.act(staff, agreement["id"], {"type": "submit"})
    near = datetime.now(UTC).date() + timedelta(days=3)
    a = {"time_zone": "Asia/Makassar", "days_off": [near.isoformat()] * 300 + ["2100-12-31", "1945-08-17"]}
    b = {"time_zone": "Asia/Jayapura", "days_off": [(near + timedelta(days=1)).isoformat()]}
    answers = await asyncio.gather(
        *(
            stack.http.put(f"/organisations/{region}/settings", headers=stack.auth(staff), json=body)
            for body in [a, b] * 6
        )
    )
    assert [r.status_code for r in answers] == [200] * 12, [r.text[:200] for r in answers]
    final = (await stack.get(staff, f"/organisations/{region}/settings")).json()
    assert final["days_off"] in (sorted(set(a["days_off"])), b["days_off"])

    def party_of(snapshot: dict[str, Any]) -> tuple[str, list[str]]:
        party = next(p for p in snapshot["parties"] if p["org"] == region)
        return party["time_zone"], party["days_off"]

    for _ in range(300):  # the last change's prompt reads the register after the last commit
        parties = [party_of(await stack.snapshot(staff, x["id"])) for x in agreements]
        if all(p == (final["time_zone"], final["days_off"]) for p in parties):
            break
        await asyncio.sleep(0.1)
    assert parties == [(final["time_zone"], final["days_off"])] * len(agreements)

    night = await temporal_env.client.execute_workflow(
        PortfolioSweepWorkflow.run,
        c.SweepInput(reconcile=True, digests=False, orgs=[region]),
        id=f"sweep-{uuid.uuid4()}",
        task_queue=stack.settings.temporal_task_queue,
        result_type=c.SweepResult,
    )
    assert "party_settings_stale" not in night.totals.by_kind
    for agreement in agreements:
        snapshot = await stack.snapshot(staff, agreement["id"])
        assert "comment" in snapshot["allowed_actions"], snapshot["allowed_actions"]
        await stack.act(staff, agreement["id"], {"type": "comment", "text": "Masih berjalan."})
