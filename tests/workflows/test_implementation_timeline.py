"""An agreement with an action plan lives two years in seconds on the time-skipping test
server (#13): signed with its plan bound into the text, then progress reports, indicator
measurements, reminders and escalations at office hours, a missed obligation, a
coordination meeting with minutes and action items, and two evaluations whose report forms
are pre-filled with their period — the read model's health column and the inbox checked as
it happens. docs/implementation.md."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.store.notifications import INBOX
from tests.readmodel import events_of, row
from tests.workflows.test_agreement_timeline import sleep_until, state_of
from tests.workflows.test_agreement_workflow import PARTNER, STAFF, act, drive_to_implementation, ksdpk, seen
from workflows import lifecycle
from workflows import messages as m
from workflows import timeline as t
from workflows.agreement import AgreementInput, AgreementWorkflow, workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")
INDICATOR = "Petani didampingi"
WIB = "Asia/Jakarta"
EVIDENCE = ["e" * 64]
MINUTES = "f" * 64
UNPAD_STAFF = m.Actor(sub="dewi", org="unpad", roles=["staff"])


def planned() -> m.Proposal:
    """The KSDPK of the workflow tests, for two years from 2027-03-01 with one evaluation a
    year, carrying goals, obligations of both parties and an action plan."""
    return ksdpk().model_copy(
        update={
            "evaluation_interval_months": 12,
            "goals": [
                m.DevelopmentGoal(scheme="sdg", code="2.3"),
                m.DevelopmentGoal(scheme="regional", code="RPJMD-2.1", text="Meningkatnya produktivitas pertanian"),
            ],
            "obligations": [
                m.Obligation(
                    id="O1",
                    party="jabar",
                    kind="funds",
                    description="Dana hibah riset",
                    amount=750_000_000,
                    source="apbd",
                    due_on=date(2027, 5, 31),
                ),
                m.Obligation(
                    id="O2", party="unpad", kind="data", description="Data lahan petani", due_on=date(2027, 7, 30)
                ),
                m.Obligation(
                    id="O3", party="unpad", kind="staff", description="Sepuluh peneliti", due_on=date(2028, 9, 29)
                ),
            ],
            "activities": [
                m.Activity(
                    id="A1",
                    name="Survei lahan",
                    party="jabar",
                    responsible="Kepala Dinas Pertanian",
                    starts_on=date(2027, 3, 1),
                    ends_on=date(2027, 12, 31),
                    deliverables=["Peta lahan"],
                    indicators=[INDICATOR],
                    budget=[m.PartyBudget(party="jabar", amount=400_000_000)],
                    milestones=["Desain survei", "Survei lapangan"],
                ),
                m.Activity(
                    id="A2",
                    name="Pendampingan petani",
                    party="unpad",
                    responsible="Ketua LPPM",
                    starts_on=date(2027, 9, 1),
                    ends_on=date(2028, 12, 29),
                    deliverables=["Laporan pendampingan"],
                    indicators=[INDICATOR],
                    budget=[m.PartyBudget(party="unpad", amount=200_000_000, source="other")],
                ),
            ],
        }
    )


async def start_planned(client, task_queue):
    agreement_id = str(uuid.uuid4())
    await client.start_workflow(
        AgreementWorkflow.run,
        AgreementInput(agreement_id=agreement_id, proposal=planned(), actor=STAFF),
        id=workflow_id(agreement_id),
        task_queue=task_queue,
    )
    handle = client.get_workflow_handle(workflow_id(agreement_id))
    return handle, await seen(handle, STAFF, await handle.execute_update(AgreementWorkflow.ready, STAFF))


async def inbox(sessionmaker, agreement_id: str) -> list[tuple[str, str, dict]]:
    """What the agreement put in inboxes: (template, audience, data), in the order recorded."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(INBOX.c.template, INBOX.c.audience_key, INBOX.c.data)
            .where(INBOX.c.agreement_id == agreement_id)
            .order_by(INBOX.c.seq, INBOX.c.audience_key)
        )
    return [(r.template, r.audience_key, r.data) for r in rows]


async def assert_told(sessionmaker, agreement_id: str, template: str, expected: set[str], **data) -> None:
    """Exactly the `expected` audiences were told with `template` (about `data`).
    The recording writes them with the events; this waits a little in case a recording
    is still under way."""
    found: set[str] = set()
    deadline = time.monotonic() + 60  # a bound, not a clock: a busy machine records late
    while time.monotonic() < deadline:
        found = {
            audience
            for name, audience, values in await inbox(sessionmaker, agreement_id)
            if name == template and all(values.get(k) == v for k, v in data.items())
        }
        if found == expected:
            break
        await asyncio.sleep(0.1)
    assert found == expected, (template, data)


def at_office_hours(moment: datetime, state: m.AgreementState, party: str) -> bool:
    local = moment.astimezone(ZoneInfo(WIB))
    calendar = lifecycle.notices_calendar(state, party)
    return calendar.is_office_day(local.date()) and t.OFFICE_OPENS <= local.time() < t.OFFICE_CLOSES


def of_type(events, type_: str, **data) -> list:
    return [e for e in events if e.type == type_ and all(e.data.get(k) == v for k, v in data.items())]


async def sleep_to(env, day: date) -> None:
    """Let time pass (timers firing on the way) to 10:00 WIB on `day`."""
    target = t.office_time(day, WIB) + timedelta(hours=1)
    await env.sleep(max(target - await env.get_current_time(), timedelta(0)))


async def health_now(env, handle) -> m.ImplementationHealth | None:
    return lifecycle.health(await state_of(handle), await env.get_current_time())


JABAR_WORKERS = {"jabar/staff/*", "jabar/partner/*"}
UNPAD_WORKERS = {"unpad/staff/*", "unpad/partner/*"}
COORDINATORS = {"jabar/staff/*", "jabar/approver/review"}


async def test_two_years_of_an_action_plan(env, task_queue, sessionmaker):
    handle, created = await start_planned(env.client, task_queue)
    aid = created.id
    assert created.plan_hash is not None and [g.code for g in created.goals] == ["2.3", "RPJMD-2.1"]

    signed = await drive_to_implementation(handle)
    assert signed.stage == "implementation" and signed.effective_date == date(2027, 3, 1)
    assert {d.plan_hash for d in signed.drafts} == {signed.plan_hash}, "every signed version binds the plan"
    assert signed.health is not None and signed.health.status == "on_track"
    assert (await row(sessionmaker, aid)).health == "on_track"

    # ---- before A1 starts: a reminder to its owner, at office hours, five office days ahead
    state = await sleep_until(env, handle, lambda s: "plan-reminder:activity-start:A1@2027-03-01" in s.notices_sent)
    (reminder,) = of_type(await events_of(sessionmaker, aid), "implementation_reminder", ref="A1", what="starts")
    assert at_office_hours(reminder.at, state, "jabar") and t.local_day(reminder.at, WIB) < date(2027, 3, 1)
    await assert_told(sessionmaker, aid, "plan_reminder", JABAR_WORKERS, ref="A1")

    # ---- spring 2027: progress on A1, a measurement, O1 fulfilled with its evidence
    await sleep_to(env, date(2027, 4, 12))
    await act(handle, STAFF, m.ReportProgress(activity="A1", percent=20, milestone="Desain survei", evidence=EVIDENCE))
    measured = m.RecordMeasurement(indicator=INDICATOR, value=40, measured_on=date(2027, 4, 1), source="Dinas")
    await act(handle, PARTNER, measured)
    await act(handle, STAFF, m.SettleObligation(obligation="O1", outcome="fulfilled", evidence=EVIDENCE))
    await assert_told(sessionmaker, aid, "obligation_fulfilled", {"jabar/staff/*"}, obligation="O1")
    await sleep_to(env, date(2027, 6, 14))
    await act(handle, STAFF, m.ReportProgress(activity="A1", percent=50))

    # ---- O2 of unpad falls due and stays open: reminders, then escalations to the owner and
    # then to the coordinators, each at office hours in the owner's calendar
    state = await sleep_until(
        env, handle, lambda s: any(k.startswith("plan-escalation:obligation:O2") for k in s.notices_sent)
    )
    assert (await row(sessionmaker, aid)).health == "at_risk"
    health = await health_now(env, handle)
    assert health is not None and [r.code for r in health.reasons] == ["obligation_overdue"]
    state = await sleep_until(env, handle, lambda s: any(k.endswith("O2@2027-07-30:2") for k in s.notices_sent))
    events = await events_of(sessionmaker, aid)
    reminders = of_type(events, "implementation_reminder", subject="obligation", ref="O2")
    escalations = of_type(events, "implementation_escalated", subject="obligation", ref="O2")
    assert [e.data["days_before"] for e in reminders] == [5, 0]
    assert [(e.data["round"], e.data["to"]) for e in escalations] == [(1, "owner"), (2, "coordinators")]
    assert all(at_office_hours(e.at, state, "unpad") for e in reminders + escalations)
    assert t.local_day(escalations[0].at, WIB) > date(2027, 7, 30)
    await assert_told(sessionmaker, aid, "plan_escalated", UNPAD_WORKERS, ref="O2", round=1)
    await assert_told(sessionmaker, aid, "plan_escalated", UNPAD_WORKERS | COORDINATORS, ref="O2", round=2)

    # The coordinators record the obligation missed: off track, every party's staff told.
    await act(handle, STAFF, m.SettleObligation(obligation="O2", outcome="missed", note="Data tidak diserahkan."))
    assert (await row(sessionmaker, aid)).health == "off_track"
    await assert_told(sessionmaker, aid, "obligation_missed", {"jabar/staff/*", "unpad/staff/*"}, obligation="O2")

    # ---- a coordination meeting: invitation, minutes with action items, one done late
    meeting_at = t.office_time(t.local_day(await env.get_current_time(), WIB) + timedelta(days=7), WIB)
    await act(
        handle,
        STAFF,
        m.ScheduleMeeting(
            title="Rapat koordinasi data lahan",
            at=meeting_at,
            place="Gedung Sate",
            participants=["jabar", "unpad"],
            agenda=["Data lahan pengganti", "Jadwal pendampingan"],
        ),
    )
    await assert_told(sessionmaker, aid, "meeting_invitation", JABAR_WORKERS | UNPAD_WORKERS, number=1)
    await env.sleep(meeting_at - await env.get_current_time() + timedelta(hours=3))
    held = t.local_day(meeting_at, WIB)
    minuted = await act(
        handle,
        PARTNER,
        m.RecordMinutes(
            meeting=1,
            document=MINUTES,
            decisions=[
                m.MeetingDecision(text="Kirim data lahan pengganti", party="unpad", due_on=held + timedelta(days=21)),
                m.MeetingDecision(text="Siapkan lokasi pendampingan", party="jabar", due_on=held + timedelta(days=14)),
            ],
        ),
    )
    assert [(i.id, i.party) for i in minuted.action_items] == [("M1-1", "unpad"), ("M1-2", "jabar")]
    assert minuted.meetings[0].minutes == MINUTES
    await assert_told(sessionmaker, aid, "minutes_recorded", JABAR_WORKERS | UNPAD_WORKERS, meeting=1)
    state, now = await state_of(handle), await env.get_current_time()
    assert "complete_action_item" in lifecycle.owed_actions(state, PARTNER, now)
    assert "complete_action_item" in lifecycle.owed_actions(state, STAFF, now)
    await act(handle, STAFF, m.CompleteActionItem(item="M1-2", note="Lokasi siap."))
    assert "complete_action_item" not in lifecycle.owed_actions(await state_of(handle), STAFF, now)
    await act(handle, STAFF, m.ReportProgress(activity="A1", percent=70, milestone="Survei lapangan"))

    # M1-1 is left open: its reminder on the morning it is due, then the escalation to unpad.
    state = await sleep_until(
        env, handle, lambda s: any(k.startswith("plan-escalation:action_item:M1-1") for k in s.notices_sent)
    )
    events = await events_of(sessionmaker, aid)
    assert [e.data["days_before"] for e in of_type(events, "implementation_reminder", ref="M1-1")] == [0]
    assert [e.data["round"] for e in of_type(events, "implementation_escalated", ref="M1-1")] == [1]
    health = await health_now(env, handle)
    assert health is not None and health.status == "off_track"
    assert [r.code for r in health.reasons] == ["obligation_missed", "action_item_overdue"]
    await act(handle, UNPAD_STAFF, m.CompleteActionItem(item="M1-1", note="Data dikirim.", evidence=EVIDENCE))
    await act(handle, PARTNER, m.ReportProgress(activity="A2", percent=10))

    # ---- the end of 2027: A1 done before its end, a measurement
    await sleep_to(env, date(2027, 12, 15))
    await act(handle, STAFF, m.ReportProgress(activity="A1", percent=100, note="Peta lahan selesai."))
    measured = m.RecordMeasurement(indicator=INDICATOR, value=60, measured_on=date(2027, 12, 1), source="LPPM")
    await act(handle, PARTNER, measured)

    # ---- evaluation 1, a year in: its report form carries the period's plan
    state = await sleep_until(env, handle, lambda s: s.evaluations_opened >= 1)
    period = lifecycle.open_period(state)
    assert period is not None and period.evaluation == 1
    assert (period.period_from, period.period_to) == (date(2027, 3, 1), date(2028, 3, 1))
    progress = {r["id"]: (r["planned_percent"], r["actual_percent"]) for r in period.activities}
    assert progress["A1"] == (100, 100) and progress["A2"][1] == 10 and progress["A2"][0] > 30
    assert (period.obligations_fulfilled, period.obligations_missed) == (["O1"], ["O2"])
    assert [x.value for x in period.measurements] == [40, 60]
    assert period.achievement is not None and period.achievement < 100  # A2 lags its schedule
    report = m.SubmitEvaluationReport(
        evaluation=1,
        narrative="Survei selesai; data lahan terlambat.",
        results=[m.IndicatorResult(indicator=INDICATOR, achieved=60)],
    )
    await act(handle, STAFF, report)
    await act(handle, PARTNER, m.SubmitEvaluationReport(evaluation=1, narrative="Pendampingan berjalan."))
    conclusion = m.ConcludeEvaluation(evaluation=1, score=70, recommendation="continue", summary="Dilanjutkan.")
    first = (await act(handle, STAFF, conclusion)).evaluations[0].achievement
    assert first is not None
    assert (first.planned_percent, first.actual_percent) == (period.planned_percent, period.actual_percent)
    assert (first.achievement, first.obligations_fulfilled, first.obligations_missed) == (
        period.achievement,
        ["O1"],
        ["O2"],
    )

    # ---- year two: A2 to completion, O3 fulfilled, a measurement near the target
    for percent in (40, 75):
        await env.sleep(timedelta(days=90))
        await act(handle, PARTNER, m.ReportProgress(activity="A2", percent=percent))
    await act(handle, UNPAD_STAFF, m.SettleObligation(obligation="O3", outcome="fulfilled", evidence=EVIDENCE))
    await sleep_to(env, date(2028, 12, 1))
    await act(handle, PARTNER, m.ReportProgress(activity="A2", percent=100))
    measured = m.RecordMeasurement(indicator=INDICATOR, value=190, measured_on=date(2028, 12, 1), source="LPPM")
    await act(handle, PARTNER, measured)
    assert (await row(sessionmaker, aid)).health == "off_track", "a missed obligation stays on the record"

    # ---- evaluation 2, the final one at the end of the term
    state = await sleep_until(env, handle, lambda s: s.evaluations_opened >= 2)
    period = lifecycle.open_period(state)
    assert period is not None and period.evaluation == 2 and state.evaluations[-1].final
    assert (period.period_from, period.period_to) == (date(2028, 3, 1), date(2029, 3, 1))
    assert (period.obligations_fulfilled, period.obligations_missed) == (["O3"], [])
    assert [x.value for x in period.measurements] == [190]
    assert (period.planned_percent, period.actual_percent, period.achievement) == (100, 100, 100)
    await act(handle, STAFF, m.SubmitEvaluationReport(evaluation=2, narrative="Semua kegiatan selesai."))
    await act(handle, PARTNER, m.SubmitEvaluationReport(evaluation=2, narrative="Selesai."))
    conclusion = m.ConcludeEvaluation(evaluation=2, score=85, recommendation="continue", summary="Berhasil.")
    final = await act(handle, STAFF, conclusion)
    second = final.evaluations[1].achievement
    assert second is not None and second.achievement == 100 and second.obligations_fulfilled == ["O3"]
    assert final.stage == "expired" and (await row(sessionmaker, aid)).health is None

    # What was done in time was never chased; every plan notice went out at office hours.
    events = await events_of(sessionmaker, aid)
    assert {e.data["ref"] for e in of_type(events, "implementation_escalated")} == {"O2", "M1-1"}
    notices = of_type(events, "implementation_reminder") + of_type(events, "implementation_escalated")
    assert all(at_office_hours(e.at, state, e.data["party"]) for e in notices)
