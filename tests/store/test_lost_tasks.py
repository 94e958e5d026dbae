"""Recordings of workflow tasks that history never held, when the task after them saw the
same history length: an Update's speculative task is kept in the Temporal server's memory
only, so when the whole stack dies with it, its retry runs at the very same length. The
rows of the task that started later win; the answers that showed the lost rows are
forgotten with them, so a retry under the same Idempotency-Key performs the command again.

(Found by `tests/stack/test_faults.py`'s whole-stack kill: an agreement stayed at
`negotiation v4`, its driver replayed a stored 409 `record_conflict` forever.)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.store import idempotency, queries
from services.store.db import session_scope
from services.store.roles import grant_application_role
from services.worker.activities.records import RecordActivities
from tests.builders import NOW, party, proposal, replay, run, staff
from tests.readmodel import events_of
from tests.readmodel import row as agreement
from workflows import lifecycle as L
from workflows import messages as m
from workflows.contracts.records import Recorder, RecordEventsInput

RUN = "run-lost"
LENGTH = 34  # the history length the lost task and its retry both saw
LOST_TASK_STARTED = datetime(2026, 12, 1, 18, 18, 31, tzinfo=UTC)
RETRY_STARTED = LOST_TASK_STARTED + timedelta(seconds=8)  # after the stack came back


def task(started: datetime | None, length: int = LENGTH) -> Recorder:
    return Recorder(run_id=RUN, history_length=length, task_started_at=started)


async def record_as(sessionmaker, recorder: Recorder, state: m.AgreementState, events: list[m.Event]):
    async with session_scope(sessionmaker) as session:
        return await queries.append_events(session, state=state, events=events, recorder=recorder)


async def a_lost_comment(sessionmaker, lost_task: Recorder):
    """An agreement whose last recorded rows — a comment — come from `lost_task`, which never
    completed; and the command its retry decides instead under the same seq (a submit:
    what history will hold)."""
    prop = proposal([party("jabar", "initiator"), party("jateng")], "ksdd")
    created = L.create(prop, staff("jabar"), NOW, f"agr-{uuid.uuid4()}")
    state = replay(created)
    await record_as(sessionmaker, task(None, length=3), state, created)
    lost_state, lost = run(state, staff("jabar"), m.Comment(text="Tercatat, lalu server Temporal mati"))
    await record_as(sessionmaker, lost_task, lost_state, lost)
    truth_state, truth = run(state, staff("jabar"), m.Submit(), NOW + timedelta(minutes=1))
    return (lost_state, lost), (truth_state, truth)


async def test_a_task_lost_with_the_server_gives_way_to_its_retry_at_the_same_history_length(sessionmaker):
    _, (truth_state, truth) = await a_lost_comment(sessionmaker, task(LOST_TASK_STARTED))
    result = await record_as(sessionmaker, task(RETRY_STARTED), truth_state, truth)
    assert result.superseded == 1 and result.inserted == len(truth)
    trail = await events_of(sessionmaker, truth_state.id)
    assert [e.type for e in trail][1:] == [e.type for e in truth]
    assert (await agreement(sessionmaker, truth_state.id)).stage == "review"
    async with sessionmaker() as session:
        [apart] = await queries.list_superseded(session, agreement_id=truth_state.id)
    assert (apart["type"], apart["task_started_at"], apart["superseded_by_task_started_at"]) == (
        "comment_added",
        LOST_TASK_STARTED,
        RETRY_STARTED,
    )


async def test_the_task_that_started_first_writing_late_never_displaces_the_later_ones_rows(sessionmaker):
    # The later task recorded first; the earlier one, stalled, writes after: it is the stale one.
    _, (truth_state, truth) = await a_lost_comment(sessionmaker, task(RETRY_STARTED))
    with pytest.raises(queries.ChainConflict, match="newer task"):
        await record_as(sessionmaker, task(LOST_TASK_STARTED), truth_state, truth)
    assert [e.type for e in await events_of(sessionmaker, truth_state.id)][-1] == "comment_added"


@pytest.mark.parametrize("unknown", ["row", "recorder"])
async def test_at_the_same_length_a_task_without_its_start_does_not_supersede(sessionmaker, unknown):
    """Rows recorded before tasks noted their start (and recorders that do not say) keep the
    old rule: only a longer history is newer."""
    lost_task, retry = (task(None), task(RETRY_STARTED)) if unknown == "row" else (task(LOST_TASK_STARTED), task(None))
    _, (truth_state, truth) = await a_lost_comment(sessionmaker, lost_task)
    with pytest.raises(queries.ChainConflict):
        await record_as(sessionmaker, retry, truth_state, truth)


async def remember(sessionmaker, key: str, *, agreement_id: str, version: int) -> None:
    async with session_scope(sessionmaker) as session:
        await idempotency.remember_response(
            session,
            scope="jabar/staf@jabar",
            key=key,
            fingerprint="f" * 64,
            status=200,
            body={"id": agreement_id, "version": version},
            etag=f'"{version}"',
            expired_before=NOW - timedelta(days=365),
            agreement_id=agreement_id,
            version=version,
        )


async def stored(sessionmaker, key: str) -> idempotency.StoredResponse | None:
    async with sessionmaker() as session:
        return await idempotency.find_response(
            session, scope="jabar/staf@jabar", key=key, since=NOW - timedelta(days=365)
        )


async def test_superseding_a_recording_forgets_the_answers_that_showed_it_so_a_retry_performs_again(sessionmaker):
    (lost_state, _), (truth_state, truth) = await a_lost_comment(sessionmaker, task(LOST_TASK_STARTED))
    before, showed_lost = f"create-{uuid.uuid4()}", f"comment-{uuid.uuid4()}"
    await remember(sessionmaker, before, agreement_id=truth_state.id, version=lost_state.version - 1)
    await remember(sessionmaker, showed_lost, agreement_id=truth_state.id, version=lost_state.version)
    await record_as(sessionmaker, task(RETRY_STARTED), truth_state, truth)
    assert await stored(sessionmaker, showed_lost) is None  # the retry reaches the workflow again
    kept = await stored(sessionmaker, before)  # history holds what it showed
    assert kept is not None and kept.body["version"] == lost_state.version - 1


@pytest_asyncio.fixture(loop_scope="session")
async def as_the_application(pg) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A sessionmaker connected as a role with exactly the application's rights
    (services/store/roles.py), as the worker runs under `pakta dev` and in production."""
    role = f"app_{uuid.uuid4().hex[:8]}"
    superuser = create_async_engine(pg.url)
    async with superuser.begin() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
    await superuser.dispose()
    await grant_application_role(pg.url, role)
    engine = create_async_engine(make_url(pg.url).set(username=role))
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


async def test_the_application_role_may_do_all_that_superseding_does(as_the_application):
    """Moving rows apart, detaching, dropping the outbox's unsent deliveries and forgetting
    stored answers — the recording that supersedes does it all in its transaction, as the
    worker's role (a DELETE on `deliveries` it was not granted stuck the fault run's
    recording, retried until the driver's deadline)."""
    records = RecordActivities(as_the_application)
    (lost_state, lost), (truth_state, truth) = await a_lost_comment(as_the_application, task(LOST_TASK_STARTED))
    answer = f"comment-{uuid.uuid4()}"
    await remember(as_the_application, answer, agreement_id=lost_state.id, version=lost_state.version)
    result = await records.record_events(
        RecordEventsInput(state=truth_state, events=truth, recorder=task(RETRY_STARTED), plan_notifications=True)
    )
    assert result.superseded == len(lost) and result.inserted == len(truth)
    assert await stored(as_the_application, answer) is None


async def notifications_of(sessionmaker, event_id: str) -> list[tuple[str, str]]:
    async with sessionmaker() as session:
        inbox = await session.execute(
            text("SELECT event_type, audience_key FROM notifications WHERE event_id = :id"), {"id": event_id}
        )
        logged = await session.execute(text("SELECT count(*) FROM deliveries WHERE event_id = :id"), {"id": event_id})
        return [(row.event_type, row.audience_key) for row in inbox] + [("deliveries", str(logged.scalar_one()))]


async def test_the_notifications_of_superseded_events_go_with_them_and_their_seq_is_announced_anew(
    as_the_application,
):
    """Even when a `resync`, which records and plans nothing, supersedes them: the inbox
    must not announce a comment that history never held, nor keep its place from the
    submit history holds under the same event id."""
    records = RecordActivities(as_the_application)

    async def record(state, events, recorder, *, plan=True):
        return await records.record_events(
            RecordEventsInput(state=state, events=events, recorder=recorder, plan_notifications=plan)
        )

    prop = proposal([party("jabar", "initiator"), party("jateng")], "ksdd")
    created = L.create(prop, staff("jabar"), NOW, f"agr-{uuid.uuid4()}")
    state = replay(created)
    await record(state, created, task(None, length=3))
    lost_state, lost = run(state, staff("jabar"), m.Comment(text="Tercatat, lalu server Temporal mati"))
    await record(lost_state, lost, task(LOST_TASK_STARTED))
    announced = await notifications_of(as_the_application, lost[0].id)
    assert {kind for kind, _ in announced} == {"comment_added", "deliveries"}

    resynced = await record(state, [], task(RETRY_STARTED), plan=False)
    assert resynced.superseded == len(lost)
    assert await notifications_of(as_the_application, lost[0].id) == [("deliveries", "0")]

    truth_state, truth = run(state, staff("jabar"), m.Submit(), NOW + timedelta(minutes=1))
    assert truth[0].id == lost[0].id  # ids derive from the agreement and the seq
    await record(truth_state, truth, task(RETRY_STARTED, length=LENGTH + 4))
    assert {kind for kind, _ in await notifications_of(as_the_application, truth[0].id)} == {
        "agreement_submitted",
        "deliveries",
    }
