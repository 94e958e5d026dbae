"""A recording's plan reads its recipients in one statement (`notifications.recipients`,
the function of migration 2026_12_01_0020): the contacts each audience reaches in
`contacts_for`'s order, and the parties' enabled endpoints in the order they were created.

Against the real (embedded, migrated) PostgreSQL, on organisations of the test's own.
"""

from __future__ import annotations

from datetime import timedelta

from services.store import notifications
from services.store.db import session_scope
from tests.store.test_store import token
from workflows.notify.rules import Audience


async def test_the_plan_reads_contacts_in_the_order_of_contacts_for_and_endpoints_as_created(sessionmaker):
    lead, other = f"a{token()}", f"b{token()}"
    async with session_scope(sessionmaker) as session:
        for org, email, roles in (
            (other, "zed@example.id", ["staff"]),
            (lead, "amir@example.id", ["staff", "approver"]),
            (other, "amir@example.id", ["staff"]),
            (lead, "budi@example.id", ["approver"]),
        ):
            await notifications.create_contact(session, org=org, name=email, email=email, roles=roles, created_by="t")
        for org, url in (
            (other, "https://b.example.id/1"),
            (lead, "https://a.example.id/1"),
            (other, "https://b.example.id/2"),
        ):
            await notifications.create_endpoint(
                session, org=org, url=url, events=["*"], secret="s" * 32, created_by="t"
            )
        off = await notifications.create_endpoint(
            session, org=lead, url="https://a.example.id/off", events=["*"], secret="s" * 32, created_by="t"
        )
        await notifications.endpoint_failed(session, endpoint_id=off.id)
        assert await notifications.disable_if_failing(session, endpoint_id=off.id, failing_for=timedelta(0), reason="t")
    staff_anywhere = (Audience(role="staff", org=None), "agreement.submitted")
    lead_approvers = (Audience(role="approver", org=lead), "agreement.submitted")
    async with sessionmaker() as session:
        # Created in one transaction, at one time: by creation is then by id.
        enabled = [
            e for org in (lead, other) for e in await notifications.list_endpoints(session, org=org) if e.enabled
        ]
        reached, endpoints = await notifications.recipients(
            session, asked=[staff_anywhere, lead_approvers], orgs=[lead, other]
        )
        for audience, template in (staff_anywhere, lead_approvers):
            expected = await notifications.contacts_for(session, audience=audience, template=template)
            mine = [c for c in reached[(audience.key, template)] if c.org in (lead, other)]
            assert [(c.email, c.org) for c in mine] == [(c.email, c.org) for c in expected if c.org in (lead, other)]
    assert [(c.email, c.org) for c in reached[(lead_approvers[0].key, lead_approvers[1])]] == [
        ("amir@example.id", lead),
        ("budi@example.id", lead),
    ]
    assert [e.id for e in endpoints] == [e.id for e in sorted(enabled, key=lambda e: (e.created_at, e.id))]
    assert len(endpoints) == 3
