"""The worker's concurrency, pollers and sticky cache come from the settings
(`PAKTA_WORKER_*`); its database connections are used without a ping first, the
recording's (the driver's connection, no session) as the sessions'."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.settings import Settings
from services.store.db import create_sessionmaker, driver_transaction, session_scope
from services.worker.activities.records import RecordActivities, refused_for_good
from services.worker.main import build_worker, worker_engine
from tests.builders import NOW, party, proposal, replay, staff
from workflows import lifecycle as L
from workflows.contracts.records import RecordEventsInput, RecordEventsResult


async def test_a_worker_runs_as_many_tasks_and_keeps_as_many_polls_and_workflows_as_its_settings_say(
    temporal_env, settings: Settings, sessionmaker, task_queue: str
):
    tuned = settings.model_copy(
        update={
            "worker_max_workflow_tasks": 7,
            "worker_max_activities": 11,
            "worker_max_local_activities": 13,
            "worker_workflow_pollers": 3,
            "worker_activity_pollers": 2,
            "worker_cached_workflows": 17,
        }
    )
    config = build_worker(temporal_env.client, tuned, sessionmaker=sessionmaker, task_queue=task_queue).config()
    assert (
        config["max_concurrent_workflow_tasks"],
        config["max_concurrent_activities"],
        config["max_concurrent_local_activities"],
        config["max_concurrent_workflow_task_polls"],
        config["max_concurrent_activity_task_polls"],
        config["max_cached_workflows"],
    ) == (7, 11, 13, 3, 2, 17)


async def test_a_worker_connection_the_database_dropped_costs_one_retry_not_a_ping_per_use(
    settings: Settings, sessionmaker
):
    engine = worker_engine(settings)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with session_scope(sessionmaker) as session:  # as a restart or failover would
            assert (await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar_one()
        with pytest.raises(DBAPIError) as failed:  # no ping found it: the use fails, once
            async with session_scope(create_sessionmaker(engine)) as session:
                await session.execute(text("SELECT 1"))
        assert failed.value.connection_invalidated
        async with session_scope(create_sessionmaker(engine)) as session:  # the retry has a new connection
            assert (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
    finally:
        await engine.dispose()


async def test_a_recording_whose_connection_the_database_dropped_is_recorded_on_a_new_one_by_its_retry(
    settings: Settings, sessionmaker
):
    engine = worker_engine(settings)
    records = RecordActivities(create_sessionmaker(engine))
    events = L.create(
        proposal([party("jabar", "initiator"), party("jateng")], "ksdd"), staff("jabar"), NOW, f"agr-{uuid.uuid4()}"
    )
    try:
        async with driver_transaction(engine) as driver:
            pid = await driver.fetchval("SELECT pg_backend_pid()")
        async with session_scope(sessionmaker) as session:  # as a restart or failover would
            assert (await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar_one()
        outcomes: list[RecordEventsResult | Exception] = []
        for _ in range(2):  # the first attempt and Temporal's retry
            try:
                outcomes.append(await records.record_events(RecordEventsInput(state=replay(events), events=events)))
                break
            except Exception as error:
                assert refused_for_good(error) is None  # a lost connection is retried, not refused
                outcomes.append(error)
        assert isinstance(outcomes[-1], RecordEventsResult) and outcomes[-1].inserted == len(events)
        async with driver_transaction(engine) as driver:  # the pool kept no dead connection
            assert await driver.fetchval("SELECT pg_backend_pid()") != pid
    finally:
        await engine.dispose()
