"""A plain recording in one statement (`queries.append_at_once`): the workflow hands the
recording the head its rows follow, and the rows, the read model and the plan go to
PostgreSQL in one round trip after the plan's one read — no BEGIN, no COMMIT. Whenever it is
not that plain (a wrong head, a retry, rows to supersede, another writer holding the lock)
nothing is written and the recording takes the careful path, under the lock, in a
transaction (docs/performance-log.md, `perf-record2`)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from services.store import notifications as inbox
from services.store import queries
from services.store.audit import GENESIS
from services.store.db import driver_dsn, session_scope
from services.worker.activities.records import RecordActivities
from tests.builders import NOW, party, proposal, replay, run, staff
from tests.readmodel import events_of
from tests.readmodel import row as agreement
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts.records import Recorder, RecordEventsInput
from workflows.notify.rules import notifications_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

RUN = "run-at-once"


def recorder(length: int) -> Recorder:
    return Recorder(run_id=RUN, history_length=length, task_started_at=datetime.now(UTC))


def a_created_agreement() -> tuple[m.AgreementState, list[m.Event]]:
    created = L.create(
        proposal([party("jabar", "initiator"), party("jateng")], "ksdd"), staff("jabar"), NOW, f"agr-{uuid.uuid4()}"
    )
    return replay(created), created


async def record(activities: RecordActivities, state, events, *, follows: str | None, length: int):
    return await activities.record_events(
        RecordEventsInput(
            state=state, events=events, recorder=recorder(length), plan_notifications=True, follows=follows
        )
    )


async def outbox_of(sessionmaker, agreement_id: str) -> list[tuple[str, str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            text("SELECT event_id, recipient, channel FROM deliveries WHERE agreement_id = :id ORDER BY 1, 2, 3"),
            {"id": agreement_id},
        )
        return [tuple(row) for row in rows]


async def inbox_of(sessionmaker, agreement_id: str) -> list[tuple[str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            text("SELECT event_id, audience_key FROM notifications WHERE agreement_id = :id ORDER BY 1, 2"),
            {"id": agreement_id},
        )
        return [tuple(row) for row in rows]


async def chain_is_valid(sessionmaker, agreement_id: str) -> bool:
    async with session_scope(sessionmaker) as session:
        return (await queries.verify_chain(session, agreement_id=agreement_id))["valid"]


async def test_a_plain_recording_after_the_head_the_workflow_knows_is_two_statements_and_no_transaction(statements):
    sessionmaker, sent = statements
    activities = RecordActivities(sessionmaker)
    state, created = a_created_agreement()
    head = (await record(activities, state, created, follows=None, length=3)).head
    after, submitted = run(state, staff("jabar"), m.Submit())
    await asyncio.sleep(0)
    sent.clear()

    result = await record(activities, after, submitted, follows=head, length=9)
    await asyncio.sleep(0)

    assert result.inserted == len(submitted)
    assert len(sent) == 2, sent  # the plan's read, then everything else
    assert not any(statement.upper().startswith(("BEGIN", "COMMIT")) for statement in sent)
    row = await agreement(sessionmaker, after.id)
    assert row is not None and row.version == after.version and row.head_hash == result.head
    assert [e.hash for e in await events_of(sessionmaker, after.id)][-1] == result.head
    assert await chain_is_valid(sessionmaker, after.id)
    assert await inbox_of(sessionmaker, after.id)


async def test_a_recording_stores_its_inbox_notifications_without_a_line_each_in_the_delivery_log(sessionmaker):
    activities = RecordActivities(sessionmaker)
    state, created = a_created_agreement()
    head = (await record(activities, state, created, follows=None, length=3)).head
    after, submitted = run(state, staff("jabar"), m.Submit())

    await record(activities, after, submitted, follows=head, length=9)

    notified = {event_id for event_id, _ in await inbox_of(sessionmaker, after.id)}
    assert {event.id for event in submitted} & notified
    assert [row for row in await outbox_of(sessionmaker, after.id) if row[2] == "inbox"] == []


async def test_a_retry_of_a_recording_at_once_inserts_nothing_twice_and_plans_nothing_twice(sessionmaker):
    activities = RecordActivities(sessionmaker)
    state, created = a_created_agreement()
    head = (await record(activities, state, created, follows=None, length=3)).head
    after, submitted = run(state, staff("jabar"), m.Submit())
    first = await record(activities, after, submitted, follows=head, length=9)
    planned = await outbox_of(sessionmaker, after.id)
    stored = await inbox_of(sessionmaker, after.id)

    retried = await record(activities, after, submitted, follows=head, length=9)

    assert (first.inserted, retried.inserted) == (len(submitted), 0)
    assert retried.head == first.head
    assert await outbox_of(sessionmaker, after.id) == planned
    assert await inbox_of(sessionmaker, after.id) == stored
    assert len(await events_of(sessionmaker, after.id)) == after.seq


async def test_a_plain_recording_at_once_writes_its_plan_without_a_speculative_insert(sessionmaker):
    """The plan's rows are the new events', so they are plain inserts: no look-up before
    each and no second WAL record confirming it, as `ON CONFLICT` writes (`HEAP_CONFIRM`)."""
    activities = RecordActivities(sessionmaker)
    state, created = a_created_agreement()
    head = (await record(activities, state, created, follows=None, length=3)).head
    after, submitted = run(state, staff("jabar"), m.Submit())
    async with session_scope(sessionmaker) as session:
        await session.execute(text("CREATE EXTENSION IF NOT EXISTS pg_walinspect"))
        start = (await session.execute(text("SELECT pg_current_wal_insert_lsn()::text"))).scalar_one()

    await record(activities, after, submitted, follows=head, length=9)

    async with session_scope(sessionmaker) as session:
        written = dict(
            (
                await session.execute(
                    text(
                        "SELECT record_type, count(*) FROM pg_get_wal_records_info("
                        " CAST(CAST(:start AS text) AS pg_lsn), pg_current_wal_insert_lsn())"
                        " WHERE resource_manager = 'Heap' GROUP BY 1"
                    ),
                    {"start": start},
                )
            ).all()
        )
    planned = await outbox_of(sessionmaker, after.id) + await inbox_of(sessionmaker, after.id)
    assert await inbox_of(sessionmaker, after.id)
    assert written.get("INSERT", 0) + written.get("INSERT+INIT", 0) >= len(planned)
    assert "HEAP_CONFIRM" not in written


async def test_a_plan_row_already_there_sends_the_recording_the_careful_way_which_leaves_it_as_it_is(sessionmaker):
    activities = RecordActivities(sessionmaker)
    state, created = a_created_agreement()
    head = (await record(activities, state, created, follows=None, length=3)).head
    after, submitted = run(state, staff("jabar"), m.Submit())
    # One of the plan's notifications stored before (as a replayed plan would have).
    note = next(n for event in submitted for n in notifications_for(event, after))
    async with session_scope(sessionmaker) as session:
        assert await inbox.add_to_inbox(session, notification=note)

    result = await record(activities, after, submitted, follows=head, length=9)

    assert result.inserted == len(submitted)
    assert await chain_is_valid(sessionmaker, after.id)
    stored = await inbox_of(sessionmaker, after.id)
    assert stored.count((note.event_id, note.audience.key)) == 1
    assert len(stored) == len(set(stored)) > 1


async def test_a_head_the_chain_is_not_at_sends_the_recording_the_careful_way_which_supersedes_a_lost_task(
    sessionmaker,
):
    """The workflow's head is the one before a lost task's rows: the statement writes
    nothing, and the careful path moves the lost rows apart and records the batch."""
    activities = RecordActivities(sessionmaker)
    state, created = a_created_agreement()
    head = (await record(activities, state, created, follows=None, length=3)).head
    lost_state, lost = run(state, staff("jabar"), m.Comment(text="Tercatat, lalu tugasnya hilang"))
    await record(activities, lost_state, lost, follows=head, length=9)
    truth_state, truth = run(state, staff("jabar"), m.Submit())

    result = await record(activities, truth_state, truth, follows=head, length=12)

    assert (result.inserted, result.superseded) == (len(truth), len(lost))
    assert [e.type for e in await events_of(sessionmaker, state.id)][-len(truth) :] == [e.type for e in truth]
    assert await chain_is_valid(sessionmaker, state.id)


async def test_a_head_that_is_wrong_writes_nothing_at_once_and_the_recording_still_follows_the_real_one(
    sessionmaker,
):
    activities = RecordActivities(sessionmaker)
    state, created = a_created_agreement()
    await record(activities, state, created, follows=None, length=3)
    after, submitted = run(state, staff("jabar"), m.Submit())

    result = await record(activities, after, submitted, follows="f" * 64, length=9)

    assert result.inserted == len(submitted)
    assert await chain_is_valid(sessionmaker, after.id)


async def test_two_recordings_of_one_agreement_at_once_never_both_follow_the_same_head(sessionmaker, settings):
    """Two writers race for the same seq after the same head, each on its own connection:
    in every round exactly one statement writes, and the chain stays whole."""
    state, created = a_created_agreement()
    activities = RecordActivities(sessionmaker)
    head = (await record(activities, state, created, follows=None, length=3)).head
    first, second = [await asyncpg.connect(driver_dsn(settings.database_url)) for _ in range(2)]
    try:
        for round_ in range(20):
            mine_state, mine = run(state, staff("jabar"), m.Comment(text=f"satu {round_}"))
            theirs_state, theirs = run(state, staff("jabar"), m.Comment(text=f"dua {round_}"))
            outcomes = await asyncio.gather(
                queries.append_at_once(first, state=mine_state, events=mine, recorder=None, follows=head),
                queries.append_at_once(second, state=theirs_state, events=theirs, recorder=None, follows=head),
            )
            written = [outcome for outcome in outcomes if outcome is not None]
            assert len(written) == 1, round_
            state, head = (mine_state if outcomes[0] else theirs_state), written[0].result.head
    finally:
        await first.close()
        await second.close()
    assert await chain_is_valid(sessionmaker, state.id)


async def test_the_head_is_read_after_the_lock_though_the_statements_snapshot_was_taken_before(sessionmaker, settings):
    """Why `agreement_chain_head` exists (migration 0019): a statement waiting for the lock
    began before the holder committed, so its own snapshot misses the holder's row; the
    function reads the head as the holder left it."""
    state, created = a_created_agreement()
    activities = RecordActivities(sessionmaker)
    head = (await record(activities, state, created, follows=None, length=3)).head
    after, submitted = run(state, staff("jabar"), m.Submit())
    holder, waiter = [await asyncpg.connect(driver_dsn(settings.database_url)) for _ in range(2)]
    try:
        holding = holder.transaction()
        await holding.start()
        await holder.execute("SELECT pg_advisory_xact_lock(hashtext($1))", state.id)
        await queries.append_events(holder, state=after, events=submitted)
        waiting = asyncio.ensure_future(
            waiter.fetchrow(
                """
                WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtext($1)) AS locked)
                SELECT (SELECT hash FROM agreement_events WHERE agreement_id = $1 ORDER BY seq DESC LIMIT 1) AS seen,
                    agreement_chain_head($1) AS current
                FROM locked
                """,
                state.id,
            )
        )
        await until_waiting_for_a_lock(holder)
        await holding.commit()
        row: Any = await waiting
    finally:
        await holder.close()
        await waiter.close()
    recorded = await events_of(sessionmaker, state.id)
    assert row["seen"] == head != GENESIS
    assert row["current"] == recorded[-1].hash != head


async def until_waiting_for_a_lock(connection: asyncpg.Connection) -> None:
    for _ in range(3000):
        if await connection.fetchval(
            "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)"
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("No statement came to wait for the agreement's lock.")
