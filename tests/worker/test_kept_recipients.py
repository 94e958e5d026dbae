"""A worker keeps the plan's recipients it read (`services.worker.recipients`): the next
plain recording reaching the same audiences and parties is one statement, and its statement
writes only while no contact or endpoint changed since they were read (the version kept by
migration 2026_12_02_0027's triggers) — a change is in the very next plan, as when every
recording read them afresh."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import text

from services.store import notifications as store
from services.store.db import create_engine, session_scope
from services.worker.activities.records import RecordActivities
from services.worker.recipients import KnownRecipients
from tests.builders import NOW, party, proposal, replay, run, staff
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts.records import Recorder, RecordEventsInput
from workflows.notify.rules import notifications_for

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def left_as_found(settings) -> AsyncIterator[None]:
    """The shared database without what a test here added: its deliveries (none is sent
    here) would be claimed by the next tests' dispatchers — filling their claims, its
    webhooks to a host that does not answer — and its endpoints and contacts reached by
    their recordings."""
    engine = create_engine(settings)
    async with engine.begin() as connection:
        started = (await connection.execute(text("SELECT clock_timestamp()"))).scalar_one()
    yield
    async with engine.begin() as connection:
        for table in ("deliveries", "webhook_endpoints", "contacts"):
            await connection.execute(text(f"DELETE FROM {table} WHERE created_at >= :started"), {"started": started})
    await engine.dispose()


class Submission:
    """An agreement between jabar and jateng, created and recorded, and its submission
    decided (not yet recorded)."""

    def __init__(self) -> None:
        created = L.create(
            proposal([party("jabar", "initiator"), party("jateng")], "ksdd"),
            staff("jabar"),
            NOW,
            f"agr-{uuid.uuid4()}",
        )
        self.created_state, self.created = replay(created), created
        self.state, self.events = run(self.created_state, staff("jabar"), m.Submit())
        self.head = ""

    async def create(self, activities: RecordActivities) -> None:
        self.head = (await self._record(activities, self.created_state, self.created, follows=None, length=3)).head

    async def submit(self, activities: RecordActivities) -> None:
        await self._record(activities, self.state, self.events, follows=self.head, length=9)

    @staticmethod
    async def _record(activities: RecordActivities, state, events, *, follows: str | None, length: int):
        recorder = Recorder(run_id="run-kept", history_length=length, task_started_at=datetime.now(UTC))
        return await activities.record_events(
            RecordEventsInput(state=state, events=events, recorder=recorder, plan_notifications=True, follows=follows)
        )

    async def outbox(self, sessionmaker) -> set[tuple[str, str]]:
        """The submission's mails and webhooks (not the creation's)."""
        async with sessionmaker() as session:
            rows = await session.execute(
                text(
                    "SELECT recipient, channel FROM deliveries"
                    " WHERE event_id = ANY(CAST(:events AS text[])) AND channel <> 'inbox'"
                ),
                {"events": [event.id for event in self.events]},
            )
            return {(recipient, channel) for recipient, channel in rows}


async def submissions(activities: RecordActivities, count: int) -> list[Submission]:
    made = [Submission() for _ in range(count)]
    for submission in made:
        await submission.create(activities)
    return made


async def recipients_version(sessionmaker) -> int:
    async with sessionmaker() as session:
        return (await session.execute(text("SELECT version FROM notification_recipients_version"))).scalar_one()


async def test_a_worker_that_read_a_plans_recipients_records_the_next_plan_to_them_in_one_statement(statements):
    sessionmaker, sent = statements
    async with session_scope(sessionmaker) as session:
        await store.create_endpoint(
            session, org="jateng", url="https://hooks.example.go.id/one", events=["*"], secret="s" * 32, created_by="t"
        )
    activities = RecordActivities(sessionmaker)
    first, second = await submissions(activities, 2)
    await first.submit(activities)
    await asyncio.sleep(0)
    sent.clear()

    await second.submit(activities)
    await asyncio.sleep(0)

    assert len(sent) == 1, sent  # everything at once, without reading the recipients again
    assert not any(statement.upper().startswith(("BEGIN", "COMMIT")) for statement in sent)
    assert await second.outbox(sessionmaker) == await first.outbox(sessionmaker) != set()


async def test_a_worker_holding_more_recipients_than_its_bound_reads_them_again_rather_than_keep_more(statements):
    """The bound counts the contacts and endpoints kept, not only the audiences: one
    audience of a whole ministry's staff is thousands of records."""
    sessionmaker, sent = statements
    async with session_scope(sessionmaker) as session:
        await store.create_endpoint(
            session, org="jateng", url="https://hooks.example.go.id/b", events=["*"], secret="s" * 32, created_by="t"
        )
    activities = RecordActivities(sessionmaker)
    activities.recipients = KnownRecipients(records_at_most=0)
    first, second = await submissions(activities, 2)
    await first.submit(activities)
    assert activities.recipients.records > 0
    await asyncio.sleep(0)
    sent.clear()

    await second.submit(activities)
    await asyncio.sleep(0)

    assert len(sent) == 2, sent  # the recipients read again, then the recording
    assert await second.outbox(sessionmaker) == await first.outbox(sessionmaker) != set()


async def test_a_contact_added_after_the_worker_read_the_recipients_is_mailed_by_the_next_recording(sessionmaker):
    activities = RecordActivities(sessionmaker)
    first, second = await submissions(activities, 2)
    await first.submit(activities)
    audience = next(n for e in second.events for n in notifications_for(e, second.state)).audience
    address = f"baru-{uuid.uuid4().hex[:8]}@example.go.id"
    async with session_scope(sessionmaker) as session:
        await store.create_contact(
            session,
            org=audience.org or "jabar",
            name="Kontak Baru",
            email=address,
            roles=[audience.role],
            gates=[audience.gate] if audience.gate else [],
            created_by="staff@jabar",
        )

    await second.submit(activities)

    assert (address, "email") in await second.outbox(sessionmaker)
    assert (address, "email") not in await first.outbox(sessionmaker)


async def test_an_endpoint_switched_off_after_the_worker_read_the_recipients_hears_nothing_from_the_next_recording(
    sessionmaker,
):
    async with session_scope(sessionmaker) as session:
        endpoint = await store.create_endpoint(
            session, org="jabar", url="https://hooks.example.go.id/kept", events=["*"], secret="s" * 32, created_by="t"
        )
    activities = RecordActivities(sessionmaker)
    first, second = await submissions(activities, 2)
    await first.submit(activities)
    async with session_scope(sessionmaker) as session:
        await session.execute(text("UPDATE webhook_endpoints SET enabled = false WHERE id = :id"), {"id": endpoint.id})

    await second.submit(activities)

    assert (endpoint.id, "webhook") in await first.outbox(sessionmaker)
    assert (endpoint.id, "webhook") not in await second.outbox(sessionmaker)


async def test_an_endpoints_delivery_bookkeeping_leaves_the_recipients_version_as_it_was(sessionmaker):
    """Failures, successes and a new secret change no plan: the kept recipients stay good.
    A change of what the endpoint hears does."""
    async with session_scope(sessionmaker) as session:
        endpoint = await store.create_endpoint(
            session, org="jateng", url="https://hooks.example.go.id/b", events=["*"], secret="s" * 32, created_by="t"
        )
    before = await recipients_version(sessionmaker)
    async with session_scope(sessionmaker) as session:
        await store.endpoint_failed(session, endpoint_id=endpoint.id)
        await store.endpoint_succeeded(session, endpoint_id=endpoint.id)
    assert await recipients_version(sessionmaker) == before

    async with session_scope(sessionmaker) as session:
        await session.execute(
            text("UPDATE webhook_endpoints SET events = '{agreement_signed}' WHERE id = :id"), {"id": endpoint.id}
        )
    assert await recipients_version(sessionmaker) != before


async def test_a_contact_added_after_a_restore_is_mailed_though_the_worker_kept_recipients_from_before_it(
    sessionmaker,
):
    """A database restored from a backup (or migrated down and up again, or swapped) brings
    its recipients back with the version they had: the changes made since must not land on
    the version a worker kept from before, with other recipients, as a count of changes does
    (a backup at n, a change to n + 1 kept by the worker, the restore to n, another change:
    n + 1 again)."""
    activities = RecordActivities(sessionmaker)
    first, second = await submissions(activities, 2)
    audience = next(n for e in second.events for n in notifications_for(e, second.state)).audience
    backup = await recipients_version(sessionmaker)

    async def added(name: str) -> str:
        address = f"{name}-{uuid.uuid4().hex[:8]}@example.go.id"
        async with session_scope(sessionmaker) as session:
            await store.create_contact(
                session,
                org=audience.org or "jabar",
                name=name,
                email=address,
                roles=[audience.role],
                gates=[audience.gate] if audience.gate else [],
                created_by="staff@jabar",
            )
        return address

    lost = await added("hilang")
    await first.submit(activities)  # kept: the recipients with `lost`
    async with session_scope(sessionmaker) as session:  # the restore: as at the backup
        await session.execute(text("DELETE FROM contacts WHERE email = :email"), {"email": lost})
        await session.execute(text("UPDATE notification_recipients_version SET version = :v"), {"v": backup})
    kept = await added("baru")

    await second.submit(activities)

    assert (lost, "email") in await first.outbox(sessionmaker)
    assert (kept, "email") in await second.outbox(sessionmaker)
    assert (lost, "email") not in await second.outbox(sessionmaker)


async def test_a_recording_plans_from_recipients_read_afresh_when_the_version_row_is_gone(sessionmaker):
    """No version to keep them by (its one row deleted by hand): every recording reads its
    recipients and plans from them, as before there was one, rather than fail for ever."""
    activities = RecordActivities(sessionmaker)
    first, second = await submissions(activities, 2)
    await first.submit(activities)
    async with session_scope(sessionmaker) as session:
        await session.execute(text("DELETE FROM notification_recipients_version"))
    try:
        await second.submit(activities)
    finally:
        async with session_scope(sessionmaker) as session:
            await session.execute(text("INSERT INTO notification_recipients_version DEFAULT VALUES"))

    assert activities.recipients.version is None
    assert await second.outbox(sessionmaker) == await first.outbox(sessionmaker)


async def test_a_contact_added_by_a_write_that_skips_the_triggers_is_mailed_once_the_kept_recipients_are_old(
    sessionmaker,
):
    """A restore with `--disable-triggers` or a replicated write draws no new version: the
    kept recipients are read afresh once they are older than their bound, without a restart."""
    now = [1000.0]
    activities = RecordActivities(sessionmaker)
    activities.recipients = KnownRecipients(kept_for_at_most=300.0, clock=lambda: now[0])
    first, second, third = await submissions(activities, 3)
    await first.submit(activities)
    audience = next(n for e in second.events for n in notifications_for(e, second.state)).audience
    address = f"dipulihkan-{uuid.uuid4().hex[:8]}@example.go.id"
    async with session_scope(sessionmaker) as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))  # the triggers skipped
        await store.create_contact(
            session,
            org=audience.org or "jabar",
            name="Kontak Dipulihkan",
            email=address,
            roles=[audience.role],
            gates=[audience.gate] if audience.gate else [],
            created_by="staff@jabar",
        )

    now[0] += 299.0
    await second.submit(activities)
    now[0] += 2.0
    await third.submit(activities)

    assert (address, "email") not in await second.outbox(sessionmaker)  # kept, and still young
    assert (address, "email") in await third.outbox(sessionmaker)
