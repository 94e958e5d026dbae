"""`GET /agreements/{id}` and its action plan write the decider's view as JSON themselves
(pydantic-core, no second validation and encoding by FastAPI): what they answer must be
what FastAPI writes of the same view through `response_model`, as creation still does."""

from __future__ import annotations

import pytest

from tests.api.plans import names, proposal
from tests.api.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_agreement_read_is_what_its_creation_answered_with_its_version_as_etag(stack: Stack):
    own, party = names()
    staff = stack.user(own, "staff")
    created = await stack.create(staff, proposal(own, party))
    resp = await stack.get(staff, f"/agreements/{created['id']}")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    assert resp.headers["ETag"] == '"1"'
    assert resp.json() == created


async def test_an_action_plan_read_carries_the_agreement_s_version_as_etag(stack: Stack):
    own, party = names()
    staff = stack.user(own, "staff")
    created = await stack.create(staff, proposal(own, party))
    resp = await stack.get(staff, f"/agreements/{created['id']}/action-plan")
    assert resp.status_code == 200 and resp.headers["ETag"] == '"1"'
    assert resp.json()["plan_hash"] == created["plan_hash"]


async def test_an_agreement_the_caller_may_not_see_is_still_a_404_in_the_one_error_shape(stack: Stack):
    own, party = names()
    created = await stack.create(stack.user(own, "staff"), proposal(own, party))
    outsider, _ = names()
    for path in (f"/agreements/{created['id']}", f"/agreements/{created['id']}/action-plan"):
        resp = await stack.get(stack.user(outsider, "staff"), path)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found", resp.text
