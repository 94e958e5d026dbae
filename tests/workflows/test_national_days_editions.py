"""A newer edition of the national days off, published while an agreement runs, changes
only the decisions made after its `effective_from`: over the time-skipping server, a due
date recorded before keeps its date, the next step's deadline counts the new day off, and
the history recorded across the change replays (docs/lifecycle.md, "Days of service")."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.worker import Replayer

from services.temporal_client import DATA_CONVERTER
from services.worker.registry import WORKFLOWS, workflow_runner
from tests.workflows.test_agreement_workflow import REVIEW, STAFF, act, start
from workflows import messages as m
from workflows import national_days
from workflows import timeline as t
from workflows.agreement import AgreementWorkflow
from workflows.national_days import EDITIONS, Edition, days_off

pytestmark = pytest.mark.asyncio(loop_scope="session")
FIRST = EDITIONS[0]
WIB = ZoneInfo("Asia/Jakarta")


def due_after(edition: Edition, opened: datetime, days: int) -> datetime:
    """16:00 WIB on the `days`-th office day after `opened` in Jakarta, counted here day by
    day with `edition`'s days off (the expectation, apart from the decider's `Calendar`)."""
    day = opened.astimezone(WIB).date()
    while days:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in days_off(edition, day.year):
            days -= 1
    return datetime.combine(day, time(16), WIB).astimezone(UTC)


def with_day_off(edition: Edition, number: int, effective_from, day) -> Edition:
    """`edition`'s days and `day` off too, as a test-only edition `number`."""
    days = dict(edition.days)
    off = days_off(edition, day.year) | {day}
    days[day.year] = " ".join(
        f"{month}:{','.join(str(d.day) for d in sorted(x for x in off if x.month == month))}"
        for month in sorted({d.month for d in off})
    )
    return Edition(number, effective_from, days)


async def test_a_newer_edition_leaves_a_recorded_due_date_and_counts_the_next_one(env, task_queue, monkeypatch):
    handle, _ = await start(env.client, task_queue)
    await act(handle, STAFF, m.Submit())
    submitted = await handle.query(AgreementWorkflow.state)
    assert submitted.calendar == t.OFFICE_DAYS
    opened, due = submitted.updated_at, submitted.deadlines["step"]
    # The decree takes the gate's 5th day of service off; the edition carrying it applies
    # from a day after the submission, while the gate runs.
    decreed = due_after(FIRST, opened, 5).astimezone(WIB).date()
    later = with_day_off(FIRST, 2, opened + timedelta(days=1), decreed)
    monkeypatch.setattr(national_days, "EDITIONS", (FIRST, later))
    assert due == due_after(FIRST, opened, 10) != due_after(later, opened, 10)

    await env.sleep(timedelta(days=1, hours=1))
    decided_at = await env.get_current_time()
    assert later.effective_from < decided_at and decided_at.astimezone(WIB).date() < decreed
    assert (await handle.query(AgreementWorkflow.state)).deadlines["step"] == due  # recorded, kept
    await act(handle, REVIEW, m.Decide(gate="review", outcome="approve"))
    negotiating = await handle.query(AgreementWorkflow.state)
    approved_at = negotiating.updated_at
    assert {p.time_zone for p in negotiating.parties} == {"Asia/Jakarta"}
    # Decided after the change: the 60 days of service skip the decreed day.
    assert negotiating.deadlines["step"] == due_after(later, approved_at, 60) != due_after(FIRST, approved_at, 60)

    # Recorded across the change, the history replays with the editions it was decided with.
    history = await handle.fetch_history()
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER, workflow_runner=workflow_runner())
    await replayer.replay_workflow(history)
