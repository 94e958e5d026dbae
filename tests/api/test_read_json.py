"""`GET /agreements/{id}` and its action plan write the decider's view as JSON themselves
(pydantic-core, no second validation and encoding by FastAPI): what they answer must be
what FastAPI writes of the same view through `response_model`, as creation still does."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, serialize_response

from services.api.routes.agreements import router
from tests.api.plans import names, proposal
from tests.api.stack import Stack
from workflows import messages as m

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


async def _as_fastapi_writes_it(body: bytes) -> bytes:
    """The snapshot in `body` as FastAPI writes an action's answer through its route's
    `response_model` (validated, then dumped by alias, nothing excluded): the route writes
    its answer itself, and must write the same bytes."""
    (route,) = [r for r in router.routes if isinstance(r, APIRoute) and r.path.endswith("/actions")]
    written: bytes = await serialize_response(
        field=route.response_field, response_content=m.Snapshot.model_validate_json(body), dump_json=True
    )
    return written


async def test_an_actions_answer_is_what_fastapi_would_write_through_its_response_model_and_what_the_get_reads(
    stack: Stack,
):
    own, party = names()
    staff, partner = stack.user(own, "staff"), stack.user(party, "staff")
    aid = (await stack.create(staff, proposal(own, party)))["id"]
    steps = [
        (staff, {"type": "submit"}, {"If-Match": '"1"'}),
        (staff, {"type": "comment", "text": '\u00e9\u2028\ud7ff "kutip" \\ <b>'}, {}),
        (partner, {"type": "comment", "text": "Baris\nkedua\tdan tab"}, {"Idempotency-Key": f"comment-{aid}"}),
    ]
    for version, (user, command, headers) in enumerate(steps, start=2):
        resp = await stack.post(user, f"/agreements/{aid}/actions", command, headers)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "application/json" and resp.headers["ETag"] == f'"{version}"'
        assert resp.content == await _as_fastapi_writes_it(resp.content)
        read = await stack.get(user, f"/agreements/{aid}")
        assert (read.headers["ETag"], read.json()) == (resp.headers["ETag"], resp.json())
    again = await stack.post(partner, f"/agreements/{aid}/actions", steps[-1][1], steps[-1][2])  # the replay
    assert (again.status_code, again.headers["ETag"], again.json()) == (200, resp.headers["ETag"], resp.json())
