"""The lifecycle's promises over years, kept by the workflow on the time-skipping server with a
real worker (issue #11, branch life13): ten years of an agreement in force from a leap day,
its history continuing as new, every evaluation period on its day — none skipped, none twice —
and the run replaying. The rules themselves: tests/decider/test_lifecycle_years.py."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Replayer

from services.temporal_client import DATA_CONVERTER
from services.worker.registry import WORKFLOWS, workflow_runner
from tests.readmodel import events_of
from tests.workflows.test_agreement_timeline import report_and_conclude, sign_change, sleep_until
from tests.workflows.test_agreement_workflow import STAFF, act, drive_to_implementation, ksdpk, seen
from workflows import lifecycle
from workflows import messages as m
from workflows import timeline as t
from workflows.agreement import (
    EXPIRY_REMINDERS_AFTER_CHANGE,
    NOTIFY_OUTBOX,
    PERIODS_ANCHORED,
    AgreementInput,
    AgreementWorkflow,
    workflow_id,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def start_from(client, task_queue, start: date, months: int, interval: int, **extra):
    proposal = ksdpk().model_copy(
        update={"start_date": start, "duration_months": months, "evaluation_interval_months": interval}
    )
    agreement_id = str(uuid.uuid4())
    await client.start_workflow(
        AgreementWorkflow.run,
        AgreementInput(agreement_id=agreement_id, proposal=proposal, actor=STAFF, **extra),
        id=workflow_id(agreement_id),
        task_queue=task_queue,
    )
    handle = client.get_workflow_handle(workflow_id(agreement_id))
    return handle, await seen(handle, STAFF, await handle.execute_update(AgreementWorkflow.ready, STAFF))


async def test_ten_years_from_a_leap_day_open_every_quarter_on_its_day_across_continue_as_new(
    env, task_queue, sessionmaker
):
    handle, created = await start_from(env.client, task_queue, date(2028, 2, 29), 120, 3, commands_per_run=10)
    snapshot = await drive_to_implementation(handle)
    # Beside it, one in force from the 28th, whose periods are the same either way: its
    # history stays as before, without a marker for the patch.
    beside, _ = await start_from(env.client, task_queue, date(2028, 3, 28), 6, 1)
    await drive_to_implementation(beside)
    assert (snapshot.effective_date, snapshot.end_date) == (date(2028, 2, 29), date(2038, 2, 28))
    state = await handle.query(AgreementWorkflow.state)
    calendar = lifecycle.initiator_calendar(state, state.updated_at)
    # The 29th of every third month, the 28th in a February without a 29th.
    expected = [t.add_period(date(2028, 2, 29), 3 * n, date(2028, 2, 29)) for n in range(1, 40)]
    assert expected[3:5] == [date(2029, 2, 28), date(2029, 5, 29)] and date(2032, 2, 29) in expected

    for number in range(1, 40):
        state = await sleep_until(env, handle, lambda s, number=number: s.evaluations_opened >= number)
        evaluation = state.evaluations[-1]
        assert (evaluation.number, evaluation.final) == (number, False)
        assert evaluation.opened_at == calendar.opening(expected[number - 1])
        if number == 5:  # the run that stepped from 28 February 2029 to 29 May: its history
            ticked = await handle.fetch_history()
        await report_and_conclude(handle, number)

    state = await sleep_until(env, handle, lambda s: any(e.final for e in s.evaluations))
    assert state.evaluations[-1].opened_at == calendar.opening(date(2038, 2, 28))
    await report_and_conclude(handle, 40)
    assert (await handle.query(AgreementWorkflow.state)).stage == "expired"

    events = await events_of(sessionmaker, created.id)
    scheduled = [e.data["notice"] for e in events if e.type == "notice_due"]
    assert scheduled == [f"evaluation:{day.isoformat()}" for day in expected] + ["end-of-term:2038-02-28"]
    assert [e.type for e in events].count("agreement_expired") == 1
    # The history continued as new on the way (ten commands a run); the run that stepped
    # from the 28th back to the 29th asked for the patch, and replays on today's code.
    history = await handle.fetch_history()
    assert history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
    assert patches(ticked) == [NOTIFY_OUTBOX, PERIODS_ANCHORED]
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=workflow_runner())
    for run in (ticked, history):
        await replayer.replay_workflow(run)
    state = await sleep_until(env, beside, lambda s: s.stage == "expired")
    assert state.evaluations_opened == 6 and state.evaluations[0].opened_at == calendar.opening(date(2028, 4, 28))
    assert patches(await beside.fetch_history()) == [NOTIFY_OUTBOX]


def patches(history) -> list[str]:
    """The patches whose markers a run's history records."""
    data = [
        payload.data.decode()
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        for payloads in event.marker_recorded_event_attributes.details.values()
        for payload in payloads.payloads
    ]
    return [
        name
        for name in (NOTIFY_OUTBOX, PERIODS_ANCHORED, EXPIRY_REMINDERS_AFTER_CHANGE)
        if any(f'"{name}"' in d for d in data)
    ]


async def test_an_addendum_bringing_the_end_near_reminds_only_of_what_is_still_ahead_and_expires_once(
    env, task_queue, sessionmaker
):
    handle, created = await start_from(env.client, task_queue, date(2027, 1, 4), 36, 12)
    await drive_to_implementation(handle)
    signing = datetime(2027, 10, 20, 3, tzinfo=UTC)  # Wednesday 10:00 WIB, 41 days before the new end
    await env.sleep(signing - await env.get_current_time())
    await act(handle, STAFF, m.ProposeAmendment(summary="Diakhiri lebih awal", end_date=date(2027, 11, 30)))
    snapshot = await sign_change(handle, "c" * 64, ["legal"])
    assert snapshot.end_date == date(2027, 11, 30)

    state = await sleep_until(env, handle, lambda s: s.stage == "expired")
    events = await events_of(sessionmaker, created.id)
    reminders = [(e.at, e.data["days_before"]) for e in events if e.type == "expiry_reminder"]
    # 90 and 60 days before had passed at the signing: left out, not sent at once. 30 days
    # before is a Sunday: the Friday before. Each once, at 09:00 WIB.
    assert reminders == [
        (datetime(2027, 10, 29, 2, tzinfo=UTC), 30),
        (datetime(2027, 11, 23, 2, tzinfo=UTC), 7),
        (datetime(2027, 11, 30, 2, tzinfo=UTC), 0),
    ]
    assert [e.type for e in events].count("agreement_expired") == 1 and state.evaluations[-1].final
    history = await handle.fetch_history()
    assert patches(history) == [NOTIFY_OUTBOX, EXPIRY_REMINDERS_AFTER_CHANGE]
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=workflow_runner())
    await replayer.replay_workflow(history)
