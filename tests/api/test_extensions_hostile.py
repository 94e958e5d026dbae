"""A running due date's extensions attacked over the API: absurd lengths, and several sent at
once when the date holds one fewer than the bound (`EXTENSIONS_PER_DUE_DATE`). Each refusal
is a 4xx in the one error shape that changes nothing; exactly the bound is taken, whatever
the interleaving; the agreement still takes its next command. Issue #11, branch attack18."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.api.stack import Stack
from tests.api.test_api_organisations import proposal
from workflows.lifecycle.bounds import EXTENSIONS_PER_DUE_DATE

pytestmark = pytest.mark.asyncio(loop_scope="session")

ABSURD = [0, -1, 366, 2**63, 1.5, None, "NaN", [], {}]


async def test_extensions_sent_at_once_at_the_bound_take_exactly_the_bound_and_the_agreement_goes_on(stack: Stack):
    org, partner = f"sulsel-{uuid.uuid4().hex[:6]}", f"gorontalo-{uuid.uuid4().hex[:6]}"
    staff = stack.user(org, "staff")
    agreement = (await stack.create(staff, proposal(org, partner)))["id"]
    await stack.act(staff, agreement, {"type": "submit"})
    for days in ABSURD:
        body = await stack.expect_refused(
            staff, agreement, {"type": "extend_deadline", "days": days, "reason": "Absurd"}, 422
        )
        assert body["error"]["code"] in ("validation_error", "invalid_command"), body

    async def extend(i: int):
        return await stack.post(
            staff, f"/agreements/{agreement}/actions", {"type": "extend_deadline", "days": 1, "reason": f"Ke-{i}"}
        )

    for i in range(EXTENSIONS_PER_DUE_DATE - 2):
        assert (await extend(i)).status_code == 200
    answers = await asyncio.gather(*(extend(100 + i) for i in range(4)))

    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 200, 422, 422], [r.text[:200] for r in answers]
    refused = [r.json() for r in answers if r.status_code == 422]
    assert all(set(body) == {"error"} and body["error"]["code"] == "too_many_extensions" for body in refused)
    events = (await stack.get(stack.user("audit", "auditor"), f"/agreements/{agreement}/events")).json()["events"]
    assert sum(e["type"] == "deadline_extended" for e in events) == EXTENSIONS_PER_DUE_DATE
    snapshot = await stack.snapshot(staff, agreement)
    assert snapshot["allowed_actions"], snapshot
    await stack.act(staff, agreement, {"type": "comment", "text": "Tenggat tidak dapat diperpanjang lagi."})
