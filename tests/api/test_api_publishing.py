"""Publishing through the API (#12): `publish`/`unpublish` are actions like any other — the
decider says who may, a bad document list is a 422 naming the field that changes nothing,
and the read model's `published` follows the parties' decisions."""

from __future__ import annotations

import uuid

import pytest

from tests.api.stack import Stack
from tests.api.test_api_import import record

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_parties_publish_and_take_back_through_the_actions_endpoint(stack: Stack):
    org = f"pub-{uuid.uuid4().hex[:8]}"
    admin, staff = stack.user(org, "admin"), stack.user(org, "staff")
    partner_staff = stack.user(f"{org}-mitra", "staff")
    scan = await stack.upload(admin, "PKS bertanda tangan\n", media_type="text/plain")
    body = record("PKS/9", initiator=org, start="2026-01-01", months=36, signed_on="2025-12-20", document=scan)
    imported = await stack.post(admin, "/agreements/import", [body])
    agreement_id = imported.json()["imported"][0]["id"]
    await stack.expect_row(agreement_id, published=False)

    refused = await stack.expect_refused(staff, agreement_id, {"type": "publish", "documents": ["a" * 64]}, 422)
    assert refused["error"]["field"] == "documents"
    await stack.expect_refused(stack.user(org, "partner"), agreement_id, {"type": "publish"}, 403)
    await stack.expect_refused(staff, agreement_id, {"type": "unpublish"}, 409)

    snap = await stack.act(staff, agreement_id, {"type": "publish", "documents": [scan]})
    assert [(p["org"], p["documents"]) for p in snap["publications"]] == [(org, [scan])]
    await stack.expect_row(agreement_id, published=True)
    snap = await stack.act(partner_staff, agreement_id, {"type": "publish"})
    assert "unpublish" in snap["allowed_actions"]
    await stack.act(staff, agreement_id, {"type": "unpublish", "reason": "Ditinjau ulang"})
    await stack.expect_row(agreement_id, published=True)  # the partner still publishes it
    await stack.act(partner_staff, agreement_id, {"type": "unpublish"})
    await stack.expect_row(agreement_id, published=False)
    events = (await stack.get(admin, f"/agreements/{agreement_id}/events")).json()["events"]
    assert [e["type"] for e in events if "published" in e["type"]] == [
        "agreement_published",
        "agreement_published",
        "agreement_unpublished",
        "agreement_unpublished",
    ]
