"""A newer national edition that takes a day off inside a running gate reaches an agreement
that decides nothing meanwhile at its next timer, on the time-skipping server with a real
worker: the tick counts the gate's due date again (`deadline_recounted`, reason
"national_calendar") and records it alone, the first reminder comes on the new date, and
the history — with its patch marker — replays (docs/lifecycle.md, "Days of service")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.worker import Replayer

from services.temporal_client import DATA_CONVERTER
from services.worker.registry import WORKFLOWS, workflow_runner
from tests.readmodel import events_of
from tests.workflows.test_agreement_timeline import sleep_until, state_of
from tests.workflows.test_agreement_workflow import STAFF, act, start
from tests.workflows.test_national_days_editions import WIB, due_after, with_day_off
from workflows import lifecycle, national_days
from workflows import messages as m
from workflows.national_days import EDITIONS

pytestmark = pytest.mark.asyncio(loop_scope="session")
# The patch the workflow records its first recount at a new edition behind (workflows/agreement.py).
DEADLINES_FOLLOW_EDITIONS = "deadlines-follow-national-editions"
FIRST = EDITIONS[0]


async def test_an_asleep_gate_is_recounted_at_its_next_timer_after_a_newer_edition_and_reminds_on_the_new_date(
    env, task_queue, sessionmaker, monkeypatch
):
    handle, created = await start(env.client, task_queue)
    await act(handle, STAFF, m.Submit())
    submitted = await state_of(handle)
    opened, due = submitted.updated_at, submitted.deadlines["step"]
    planned = lifecycle.next_wakeup(submitted)  # the first reminder, timed with edition 1
    assert planned is not None
    # The decree takes the gate's second day of service off; its edition applies an hour
    # after the submission, long before the first reminder.
    decreed = due_after(FIRST, opened, 2).astimezone(WIB).date()
    later = with_day_off(FIRST, 2, opened + timedelta(hours=1), decreed)
    monkeypatch.setattr(national_days, "EDITIONS", (FIRST, later))
    moved_due = due_after(later, opened, 10)
    assert due == due_after(FIRST, opened, 10) < moved_due

    # Past the edition's start nothing is decided, so the recorded date stays until a
    # decision comes: the workflow's next timer.
    await env.sleep(timedelta(hours=2))
    assert (await state_of(handle)).deadlines["step"] == due
    state = await sleep_until(env, handle, lambda s: s.deadlines["step"] != due)
    assert state.deadlines["step"] == moved_due
    recounted = [e for e in await events_of(sessionmaker, created.id) if e.type == "deadline_recounted"]
    assert [(e.at, e.data) for e in recounted] == [
        (
            planned,
            {
                "deadline": "step",
                "due_at": moved_due.isoformat(),
                "previous_due_at": due.isoformat(),
                "reason": "national_calendar",
                "edition": 2,
            },
        )
    ]
    assert not state.notices_sent  # the old date's reminder is moot; the tick recorded the recount alone
    reminder_at = lifecycle.next_wakeup(state)
    assert reminder_at is not None and reminder_at > planned

    await sleep_until(env, handle, lambda s: any(key.startswith("step-reminder") for key in s.notices_sent))
    reminders = [e for e in await events_of(sessionmaker, created.id) if e.type == "deadline_reminder"]
    assert [(e.at, e.data["due_at"]) for e in reminders] == [(reminder_at, moved_due.isoformat())]

    # Recorded behind its patch, the history replays to the same commands.
    history = await handle.fetch_history()
    patches = [
        payload.data
        for e in history.events
        if e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]
    assert any(DEADLINES_FOLLOW_EDITIONS.encode() in patch for patch in patches)
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=workflow_runner())
    await replayer.replay_workflow(history)


async def test_an_asleep_gate_whose_newer_edition_applies_a_second_before_its_date_is_recounted_by_the_tick_at_it(
    env, task_queue, sessionmaker, monkeypatch
):
    """The edition applies one second before the gate's date, after its last reminder: the
    timer at the date is the first decision since. It counts the date again and escalates
    nothing; the escalation comes at the date the edition in force gives (attack18)."""
    handle, created = await start(env.client, task_queue)
    await act(handle, STAFF, m.Submit())
    submitted = await state_of(handle)
    opened, due = submitted.updated_at, submitted.deadlines["step"]
    decreed = due_after(FIRST, opened, 2).astimezone(WIB).date()
    later = with_day_off(FIRST, 2, due - timedelta(seconds=1), decreed)
    monkeypatch.setattr(national_days, "EDITIONS", (FIRST, later))
    moved_due = due_after(later, opened, 10)
    assert due < moved_due

    state = await sleep_until(env, handle, lambda s: s.deadlines["step"] != due or s.updated_at >= due)
    assert state.deadlines["step"] == moved_due
    events = await events_of(sessionmaker, created.id)
    assert [(e.at, e.type) for e in events if e.at >= due] == [(due, "deadline_recounted")]
    assert "deadline_escalated" not in [e.type for e in events]

    await sleep_until(env, handle, lambda s: any(key.startswith("step-escalation") for key in s.notices_sent))
    escalated = [e for e in await events_of(sessionmaker, created.id) if e.type == "deadline_escalated"]
    assert [(e.at, e.data["due_at"]) for e in escalated] == [(moved_due, moved_due.isoformat())]
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=workflow_runner())
    await replayer.replay_workflow(await handle.fetch_history())
