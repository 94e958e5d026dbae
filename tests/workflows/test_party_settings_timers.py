"""A region's new day off reaches a running agreement (`refresh_party_settings`, as the
worker sends it) and its workflow's next wake-up moves with it, on the time-skipping server:
the reminder that day would have carried comes on the office day before, and the due date
already recorded stays."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from temporalio.worker import Replayer

from services.temporal_client import DATA_CONVERTER
from services.worker.registry import WORKFLOWS, workflow_runner
from tests.readmodel import events_of
from tests.workflows.test_agreement_timeline import sleep_until, state_of
from tests.workflows.test_agreement_workflow import STAFF, act, start
from workflows import lifecycle
from workflows import messages as m

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_day_off_brought_to_a_running_agreement_moves_its_next_reminder_to_the_office_day_before(
    env, task_queue, sessionmaker
):
    handle, created = await start(env.client, task_queue)
    await act(handle, STAFF, m.Submit())
    submitted = await state_of(handle)
    assert submitted.calendar == "office_days"
    planned = lifecycle.next_wakeup(submitted)  # the first reminder of the review's due date
    assert planned is not None
    day_off = planned.astimezone(ZoneInfo("Asia/Jakarta")).date()

    await act(handle, m.SYSTEM, m.RefreshPartySettings(org="jabar", days_off=[day_off]))
    state = await state_of(handle)
    assert state.deadlines == submitted.deadlines
    moved = lifecycle.next_wakeup(state)
    assert moved is not None and moved < planned and moved.astimezone(ZoneInfo("Asia/Jakarta")).date() < day_off

    await sleep_until(env, handle, lambda s: any(key.startswith("step-reminder") for key in s.notices_sent))
    reminders = [e for e in await events_of(sessionmaker, created.id) if e.type == "deadline_reminder"]
    assert [e.at for e in reminders] == [moved]


async def test_a_day_off_inside_a_running_gate_moves_its_due_date_and_the_reminder_comes_on_the_new_date(
    env, task_queue, sessionmaker
):
    handle, created = await start(env.client, task_queue)
    await act(handle, STAFF, m.Submit())
    submitted = await state_of(handle)
    due, planned = submitted.deadlines["step"], lifecycle.next_wakeup(submitted)
    assert planned is not None
    calendar = lifecycle.calendar_of(submitted, "jabar", submitted.updated_at)
    # The first office day after the submission: inside the gate's ten days, before any reminder.
    day_off = calendar.add_office_days(submitted.updated_at.astimezone(ZoneInfo("Asia/Jakarta")).date(), 1)

    await act(handle, m.SYSTEM, m.RefreshPartySettings(org="jabar", days_off=[day_off], recount=True))
    state = await state_of(handle)
    recounted = [e for e in await events_of(sessionmaker, created.id) if e.type == "deadline_recounted"]
    assert [e.data["previous_due_at"] for e in recounted] == [due.isoformat()]
    moved_due = state.deadlines["step"]
    assert moved_due > due and recounted[0].data["due_at"] == moved_due.isoformat()
    moved = lifecycle.next_wakeup(state)
    assert moved is not None and moved > planned  # the first reminder, one office day later

    await sleep_until(env, handle, lambda s: any(key.startswith("step-reminder") for key in s.notices_sent))
    reminders = [e for e in await events_of(sessionmaker, created.id) if e.type == "deadline_reminder"]
    assert [(e.at, e.data["due_at"]) for e in reminders] == [(moved, moved_due.isoformat())]

    # The history recorded with the recount replays to the same commands.
    history = await handle.fetch_history()
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=workflow_runner())
    await replayer.replay_workflow(history)
