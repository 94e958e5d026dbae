"""The decider's time rules, rule by rule: step deadlines with reminders and escalation at
office hours, `extend_deadline`, periodic evaluations and their reports, recommendations,
amendments and renewals as change processes, expiry reminders, the final evaluation and
expiry, and the `tick` the workflow's timer sends (`next_wakeup`, `due_notices`).

Pure: no database, no Temporal; time is an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests import builders as b
from tests.builders import NOW, admin, approver, partner, run, signatory, staff, types
from workflows import lifecycle as L
from workflows import messages as m
from workflows import timeline as t

JABAR, ITB, JATENG = "jabar", "itb", "jateng"
INDICATOR = "Puskesmas terhubung"
UTC = UTC
ZONES = {"Asia/Jakarta": 7, "Asia/Makassar": 8, "Asia/Jayapura": 9}  # WIB, WITA, WIT


# ---------------------------------------------------------------- helpers


def zoned(prop: m.Proposal, zone: str) -> m.Proposal:
    """The proposal with the initiator in `zone`."""
    parties = [p.model_copy(update={"time_zone": zone}) if p.role == "initiator" else p for p in prop.parties]
    return prop.model_copy(update={"parties": parties})


def local(day: date, hour: int, zone: str) -> datetime:
    """`hour`:00 on `day` in an Indonesian zone, in UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=ZONES[zone])


def tick(state: m.AgreementState, now: datetime) -> tuple[m.AgreementState, list[m.Event]]:
    return run(state, m.SYSTEM, m.Tick(), now)


def nothing_due(state: m.AgreementState, now: datetime) -> None:
    with pytest.raises(L.NothingDue):
        L.decide(state, m.Tick(), m.SYSTEM, now)


def wake(state: m.AgreementState) -> tuple[m.AgreementState, list[m.Event], datetime]:
    """Tick at the next wake-up."""
    at = L.next_wakeup(state)
    assert at is not None
    state, events = tick(state, at)
    return state, events, at


def tick_until(state: m.AgreementState, done: Any, limit: int = 100) -> tuple[m.AgreementState, datetime]:
    """Let time pass, wake-up by wake-up, until `done(state)`; returns the time it happened.
    The parties report on each periodic evaluation and staff conclude it the day it opens
    (unless that is what `done` waits for)."""
    now = state.updated_at
    for _ in range(limit):
        if done(state):
            return state, now
        state, events, now = wake(state)
        assert events
        evaluation = L.open_evaluation(state)
        if evaluation is not None and not evaluation.final and not done(state):
            state, _ = conclude(state, now)
    raise AssertionError("never happened")


def report(
    state: m.AgreementState, org: str, now: datetime, number: int | None = None, **kwargs: Any
) -> tuple[m.AgreementState, list[m.Event]]:
    number = number or L.open_evaluation(state).number  # type: ignore[union-attr]
    return run(
        state, partner(org), m.SubmitEvaluationReport(evaluation=number, narrative="Sesuai rencana", **kwargs), now
    )


def conclude(
    state: m.AgreementState, now: datetime, recommendation: str = "continue", reports: bool = True
) -> tuple[m.AgreementState, list[m.Event]]:
    evaluation = L.open_evaluation(state)
    assert evaluation is not None
    if reports:
        for org in L.party_orgs(state):
            if not any(r.org == org for r in evaluation.reports):
                state, _ = report(state, org, now)
    return run(
        state, staff(), m.ConcludeEvaluation(evaluation=evaluation.number, score=80, recommendation=recommendation), now
    )


def refused(
    state: m.AgreementState, actor: m.Actor, command: object, error: type[L.DomainError], now: datetime = NOW
) -> L.DomainError:
    before = state.model_dump()
    with pytest.raises(error) as info:
        L.decide(state, command, actor, now)
    assert type(info.value) is error
    assert state.model_dump() == before
    return info.value


def implemented(prop: m.Proposal | None = None) -> m.AgreementState:
    """A KSDPK (jabar with itb) in force from 2027-01-04 (WIB) to 2030-01-04."""
    return b.implemented(prop or b.ksdpk_proposal())


def unsent(state: m.AgreementState) -> list[t.Notice]:
    return [n for n in L.notices(state) if n.key not in state.notices_sent]


# ================================================================ step deadlines


@pytest.mark.parametrize("zone,utc_hour", [("Asia/Jakarta", 2), ("Asia/Makassar", 1), ("Asia/Jayapura", 0)])
def test_step_deadline_at_office_hours_in_the_initiators_zone(zone: str, utc_hour: int) -> None:
    state, events = run(b.created(zoned(b.ksdd_proposal(), zone)), staff(), m.Submit())
    due = datetime(2027, 1, 18, utc_hour, tzinfo=UTC)  # 14 days after 2027-01-04, 09:00 local
    assert state.deadlines == {"step": due} and events[-1].data["due_at"] == due.isoformat()
    assert t.due_after(NOW, 14, zone) == due
    reminders = [n for n in L.notices(state) if n.kind == "deadline_reminder"]
    assert [(n.at, n.data["days_before"]) for n in reminders] == [
        (due - timedelta(days=7), 7),
        (due - timedelta(days=1), 1),
    ]
    escalation = next(n for n in L.notices(state) if n.kind == "deadline_escalated")
    assert escalation.at == due and L.next_wakeup(state) == due - timedelta(days=7)


def test_step_deadline_counts_days_from_the_local_date() -> None:
    """20:00 UTC on 4 January is already 5 January in Jayapura (WIT), still 4 January in
    Jakarta (WIB... 03:00 the next day); the due date counts from the local day."""
    evening = datetime(2027, 1, 4, 16, 30, tzinfo=UTC)  # 23:30 WIB, 00:30 WITA, 01:30 WIT
    wib, _ = run(b.created(b.ksdd_proposal(), now=evening), staff(), m.Submit(), evening)
    wita, _ = run(b.created(zoned(b.ksdd_proposal(), "Asia/Makassar"), now=evening), staff(), m.Submit(), evening)
    wit, _ = run(b.created(zoned(b.ksdd_proposal(), "Asia/Jayapura"), now=evening), staff(), m.Submit(), evening)
    assert wib.deadlines["step"] == local(date(2027, 1, 18), 9, "Asia/Jakarta")
    assert wita.deadlines["step"] == local(date(2027, 1, 19), 9, "Asia/Makassar")
    assert wit.deadlines["step"] == local(date(2027, 1, 19), 9, "Asia/Jayapura")


def test_counterparty_zone_does_not_move_deadlines() -> None:
    prop = b.ksdd_proposal()
    parties = [
        p if p.role == "initiator" else p.model_copy(update={"time_zone": "Asia/Jayapura"}) for p in prop.parties
    ]
    state, _ = run(b.created(prop.model_copy(update={"parties": parties})), staff(), m.Submit())
    assert state.deadlines["step"] == t.due_after(NOW, 14, "Asia/Jakarta")


@pytest.mark.parametrize("step,days", [("penyusunan_ksb", 90), ("penandatanganan_ksb", 30), ("persetujuan_dprd", 14)])
def test_service_level_per_step_kind(step: str, days: int) -> None:
    state = b.advance(b.created(b.ksdd_proposal(dprd=True)), step)
    assert state.deadlines["step"] == t.due_after(NOW, days, "Asia/Jakarta")


def test_reminders_7_and_1_days_before_then_escalation_each_once() -> None:
    state, _ = run(b.created(b.ksdd_proposal()), staff(), m.Submit())
    due = state.deadlines["step"]
    nothing_due(state, due - timedelta(days=7, seconds=1))

    state, events, at = wake(state)
    assert at == due - timedelta(days=7)
    assert types(events) == ["deadline_reminder"]
    tag = f"/persiapan@{due.isoformat()}"
    assert events[0].data == {
        "notice": f"step-reminder:{tag}:7",
        "step": "persiapan",
        "due_at": due.isoformat(),
        "days_before": 7,
    }
    assert events[0].actor == m.SYSTEM and events[0].at == at
    nothing_due(state, at)  # the same time again: nothing new

    state, events, at = wake(state)
    assert at == due - timedelta(days=1) and events[0].data["days_before"] == 1
    state, events, at = wake(state)
    assert at == due and types(events) == ["deadline_escalated"]
    assert events[0].data == {"notice": f"step-escalation:{tag}", "step": "persiapan", "due_at": due.isoformat()}
    assert L.next_wakeup(state) is None
    nothing_due(state, due + timedelta(days=400))
    assert state.notices_sent == [f"step-reminder:{tag}:7", f"step-reminder:{tag}:1", f"step-escalation:{tag}"]
    assert (state.stage, b.step_key(state)) == ("review", "persiapan")  # time alone decides nothing


def test_a_late_tick_catches_up_in_order_in_one_version() -> None:
    state, _ = run(b.created(b.ksdd_proposal()), staff(), m.Submit())
    due = state.deadlines["step"]
    state, events = tick(state, due + timedelta(days=3))
    assert types(events) == ["deadline_reminder", "deadline_reminder", "deadline_escalated"]
    assert [e.data.get("days_before") for e in events] == [7, 1, None]
    assert {e.version for e in events} == {state.version} and state.version == 3


def test_entering_the_next_step_rearms_reminders_for_its_deadline() -> None:
    state, _ = run(b.created(b.ksdd_proposal()), staff(), m.Submit())
    state, _ = tick(state, state.deadlines["step"])  # the review is overdue and escalated
    later = NOW + timedelta(days=20)
    state, _ = b.happy_step(state, later)
    assert b.step_key(state) == "penyusunan_ksb"
    due = t.due_after(later, 90, "Asia/Jakarta")
    assert state.deadlines["step"] == due and L.next_wakeup(state) == due - timedelta(days=7)


def test_tick_is_for_the_system_only() -> None:
    state, _ = run(b.created(b.ksdd_proposal()), staff(), m.Submit())
    late = state.deadlines["step"] + timedelta(days=1)
    for actor in (staff(), admin(), m.Actor(sub="cron", org=JABAR, roles=["scheduler"])):
        refused(state, actor, m.Tick(), L.NotAllowed, late)
    for actor in (staff(), signatory(JABAR), m.SYSTEM):
        assert "tick" not in L.allowed_actions(state, actor, late)
    assert "tick" not in m.ActionRequest.model_json_schema()["$defs"]  # not in the public API


def test_draft_and_terminal_agreements_have_no_notices() -> None:
    draft = b.created()
    assert L.notices(draft) == [] and L.next_wakeup(draft) is None
    refused(draft, m.SYSTEM, m.Tick(), L.InvalidTransition, NOW + timedelta(days=999))
    withdrawn, _ = run(b.advance(b.created(), "penyusunan_ksb"), staff(), m.Withdraw(reason="Batal"))
    terminated = implemented()
    terminated, _ = run(terminated, staff(), m.Terminate(reason="Tidak bermanfaat"))
    terminated, _ = run(terminated, approver(JABAR, "head"), m.Decide(gate="head", outcome="approve"))
    for state in (withdrawn, terminated):
        assert state.stage in m.TERMINAL_STAGES
        assert L.notices(state) == [] and L.next_wakeup(state) is None
        refused(state, m.SYSTEM, m.Tick(), L.InvalidTransition, NOW + timedelta(days=999))


# ================================================================ extend_deadline


def test_extend_step_deadline_moves_it_and_rearms_reminders_and_escalation() -> None:
    state, _ = run(b.created(b.ksdd_proposal()), staff(), m.Submit())
    due = state.deadlines["step"]
    state, _ = tick(state, due)  # both reminders and the escalation are out
    assert L.next_wakeup(state) is None
    state, events = run(state, staff(), m.ExtendDeadline(days=10, reason="Menunggu data"), due)
    assert types(events) == ["deadline_extended"]
    new = due + timedelta(days=10)
    assert events[0].data == {"deadline": "step", "due_at": new.isoformat(), "reason": "Menunggu data"}
    assert state.deadlines["step"] == new and new.astimezone(UTC).hour == 2  # still 09:00 WIB
    assert [n.at for n in unsent(state)] == [new - timedelta(days=7), new - timedelta(days=1), new]
    assert all(new.isoformat() in n.key for n in unsent(state))
    state, events = tick(state, new)
    assert types(events) == ["deadline_reminder", "deadline_reminder", "deadline_escalated"]
    assert events[-1].data["due_at"] == new.isoformat()
    assert len(state.notices_sent) == 6 == len(set(state.notices_sent))


def test_extend_before_any_reminder_replaces_the_old_ones() -> None:
    state, _ = run(b.created(b.ksdd_proposal()), staff(), m.Submit())
    due = state.deadlines["step"]
    state, _ = run(state, admin(JABAR), m.ExtendDeadline(days=30, reason="Reses DPRD"))
    assert L.next_wakeup(state) == due + timedelta(days=23)
    nothing_due(state, due)  # the old deadline passes unnoticed


@pytest.mark.parametrize(
    "actor",
    [
        partner(JABAR),
        staff(JATENG),
        approver(JABAR, "review"),
        signatory(JABAR),
        m.Actor(sub="cron", org=JABAR, roles=["scheduler"]),
        m.SYSTEM,
    ],
    ids=lambda a: a.sub,
)
def test_only_initiator_staff_extend_deadlines(actor: m.Actor) -> None:
    state, _ = run(b.created(b.ksdd_proposal()), staff(), m.Submit())
    refused(state, actor, m.ExtendDeadline(days=1, reason="x"), L.NotAllowed)
    assert "extend_deadline" not in L.allowed_actions(state, actor, NOW)
    assert "extend_deadline" in L.allowed_actions(state, staff(), NOW)


def test_extend_needs_a_running_deadline() -> None:
    refused(b.created(), staff(), m.ExtendDeadline(days=1, reason="x"), L.InvalidTransition)
    state = implemented()
    refused(state, staff(), m.ExtendDeadline(days=1, reason="x"), L.InvalidTransition)
    refused(state, staff(), m.ExtendDeadline(deadline="evaluation_report", days=1, reason="x"), L.InvalidTransition)
    assert "extend_deadline" not in L.allowed_actions(state, staff(), NOW)


def test_extend_evaluation_report_deadline() -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    evaluation = L.open_evaluation(state)
    due = evaluation.due_at
    state, events = run(state, staff(), m.ExtendDeadline(deadline="evaluation_report", days=14, reason="Libur"))
    new = due + timedelta(days=14)
    assert events[0].data == {
        "deadline": "evaluation_report",
        "evaluation": 1,
        "due_at": new.isoformat(),
        "reason": "Libur",
    }
    assert L.open_evaluation(state).due_at == new and state.deadlines["evaluation_report"] == new
    assert L.next_wakeup(state) == new - timedelta(days=7)
    state, _ = report(state, JABAR, due + timedelta(days=1))
    assert not L.open_evaluation(state).reports[0].late  # late is measured against the new date


def test_report_deadline_extended_after_escalation_escalates_again() -> None:
    """Regression: the `escalated` flag kept a second escalation from arming after staff
    extended a lapsed report deadline, so the new date could lapse unnoticed."""
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    due = L.open_evaluation(state).due_at
    state, events = tick(state, due + timedelta(days=1))
    assert types(events)[-1] == "evaluation_escalated" and L.open_evaluation(state).escalated
    state, _ = run(
        state, staff(), m.ExtendDeadline(deadline="evaluation_report", days=10, reason="x"), due + timedelta(days=1)
    )
    assert not L.open_evaluation(state).escalated
    new = due + timedelta(days=11)  # (issue #10: a lapsed deadline is extended from now, not from the old date)
    state, events = tick(state, new + timedelta(days=1))
    assert types(events) == ["evaluation_reminder", "evaluation_reminder", "evaluation_escalated"]
    assert events[-1].data["notice"] == f"report-escalation:1@{new.isoformat()}"
    assert L.open_evaluation(state).escalated


# ================================================================ periodic evaluations


@pytest.mark.parametrize("zone", list(ZONES))
def test_periodic_evaluations_open_every_interval_at_office_hours(zone: str) -> None:
    state = implemented(zoned(b.ksdpk_proposal(evaluation_interval_months=4), zone))
    assert state.effective_date == date(2027, 1, 4) and state.next_evaluation_on == date(2027, 5, 4)
    opened = []
    for number in range(1, 4):
        state, events, at = wake(state)
        assert types(events) == ["notice_due", "evaluation_opened"]
        assert events[1].data["number"] == number and events[1].data["origin"] == "schedule"
        assert at == local(t.add_months(date(2027, 1, 4), 4 * number), 9, zone)
        evaluation = L.open_evaluation(state)
        assert evaluation.due_at == local(at.date() + timedelta(days=30), 9, zone)
        assert (evaluation.opened_at, evaluation.opened_by, evaluation.final) == (at, "system", False)
        assert state.next_evaluation_on == t.add_months(date(2027, 1, 4), 4 * (number + 1))
        opened.append(at)
        state, _ = conclude(state, at)
    assert state.evaluations_opened == 3 and [e.number for e in state.evaluations] == [1, 2, 3]


def test_start_evaluation_opens_early_and_leaves_the_schedule() -> None:
    """(Issue #10: an extra evaluation no longer takes the place of the next scheduled one.)"""
    state = implemented()
    early = NOW + timedelta(days=40)
    state, events = run(state, staff(), m.StartEvaluation(), early)
    assert types(events) == ["evaluation_opened"]
    assert events[0].data == {
        "number": 1,
        "final": False,
        "origin": "requested",
        "due_at": t.due_after(early, 30, "Asia/Jakarta").isoformat(),
        "next_evaluation_on": "2027-07-04",
    }
    state, _ = conclude(state, early)
    assert L.next_wakeup(state) == t.office_time(date(2027, 7, 4), "Asia/Jakarta")


def test_scheduler_of_the_initiator_starts_evaluations() -> None:
    state = implemented()
    cron = m.Actor(sub="cron@jabar", org=JABAR, roles=["scheduler"])
    assert "start_evaluation" in L.allowed_actions(state, cron, NOW)
    opened, _ = run(state, cron, m.StartEvaluation())
    assert L.open_evaluation(opened).opened_by == "cron@jabar"
    run(state, admin(JABAR), m.StartEvaluation())
    for actor in (
        m.Actor(sub="cron@itb", org=ITB, roles=["scheduler"]),
        staff(ITB),
        partner(JABAR),
        approver(JABAR, "head"),
        m.SYSTEM,
    ):
        refused(state, actor, m.StartEvaluation(), L.NotAllowed)


def test_start_evaluation_only_in_force() -> None:
    refused(b.created(), staff(), m.StartEvaluation(), L.InvalidTransition)
    refused(b.advance(b.created(), "penyusunan_pks"), staff(), m.StartEvaluation(), L.InvalidTransition)


def test_one_extra_evaluation_at_a_time_but_every_interval_opens_its_own() -> None:
    """(Issue #10: an unconcluded evaluation no longer keeps the later ones from opening.)"""
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    error = refused(state, staff(), m.StartEvaluation(), L.InvalidTransition)
    assert error.details["evaluation"] == 1
    assert "start_evaluation" not in L.allowed_actions(state, staff(), NOW)
    # the scheduled date comes while evaluation 1 is still open: evaluation 2 opens anyway
    scheduled = t.office_time(date(2027, 7, 4), "Asia/Jakarta")
    state, events = tick(state, scheduled + timedelta(days=2))
    assert "evaluation_opened" in types(events)
    assert [e.number for e in state.evaluations if e.concluded_at is None] == [1, 2]
    assert state.next_evaluation_on == date(2028, 1, 4)
    later = scheduled + timedelta(days=3)
    state, _ = run(state, staff(), m.ConcludeEvaluation(evaluation=1, score=60, recommendation="continue"), later)
    assert [e.number for e in state.evaluations if e.concluded_at is None] == [2]


# ================================================================ reports


def test_each_party_reports_against_the_indicators() -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    later = NOW + timedelta(days=3)
    state, events = run(
        state,
        staff(JABAR),
        m.SubmitEvaluationReport(
            evaluation=1,
            narrative="Tercapai 40 dari 100",
            results=[m.IndicatorResult(indicator=INDICATOR, achieved=40, note="Tahap awal")],
        ),
        later,
    )
    assert types(events) == ["evaluation_report_submitted"]
    assert events[0].data == {
        "evaluation": 1,
        "org": JABAR,
        "narrative": "Tercapai 40 dari 100",
        "results": [{"indicator": INDICATOR, "achieved": 40.0, "note": "Tahap awal"}],
        "late": False,
    }
    state, _ = report(state, ITB, later)
    reports = L.open_evaluation(state).reports
    assert [(r.org, r.submitted_by, r.at, r.late) for r in reports] == [
        (JABAR, "staff@jabar", later, False),
        (ITB, "partner@itb", later, False),
    ]


def test_reports_only_against_the_agreements_indicators() -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    error = refused(
        state,
        partner(ITB),
        m.SubmitEvaluationReport(
            evaluation=1, narrative="x", results=[m.IndicatorResult(indicator="Jalan tol", achieved=1)]
        ),
        L.InvalidProposal,
    )
    assert error.status == 422 and error.details["unknown"] == ["Jalan tol"]
    assert error.details["indicators"] == [INDICATOR]


@pytest.mark.parametrize(
    "actor",
    [signatory(ITB), approver(JABAR, "head"), staff(b.OUTSIDER), partner(b.OUTSIDER), m.SYSTEM, admin()],
    ids=lambda a: a.sub,
)
def test_only_staff_and_partners_of_a_party_report(actor: m.Actor) -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    refused(state, actor, m.SubmitEvaluationReport(evaluation=1, narrative="x"), L.NotAllowed)


def test_one_report_per_party_on_the_open_evaluation() -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    state, _ = report(state, ITB, NOW)
    refused(state, staff(ITB), m.SubmitEvaluationReport(evaluation=1, narrative="lagi"), L.InvalidTransition)
    refused(state, staff(JABAR), m.SubmitEvaluationReport(evaluation=2, narrative="x"), L.InvalidTransition)
    state, _ = conclude(state, NOW)
    refused(state, staff(JABAR), m.SubmitEvaluationReport(evaluation=1, narrative="x"), L.InvalidTransition)


def test_late_flag_after_the_due_date() -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    due = L.open_evaluation(state).due_at
    state, _ = report(state, JABAR, due)
    state, _ = report(state, ITB, due + timedelta(seconds=1))
    assert [r.late for r in L.open_evaluation(state).reports] == [False, True]


def test_report_reminders_7_and_0_days_before_and_escalation_the_day_after() -> None:
    state, _ = run(implemented(zoned(b.ksdpk_proposal(), "Asia/Makassar")), staff(), m.StartEvaluation())
    due = L.open_evaluation(state).due_at
    assert due == local(date(2027, 2, 3), 9, "Asia/Makassar")
    tag = f"1@{due.isoformat()}"
    seen = []
    for expected_at, kind, data in [
        (due - timedelta(days=7), "evaluation_reminder", {"days_before": 7}),
        (due, "evaluation_reminder", {"days_before": 0}),
        (due + timedelta(days=1), "evaluation_escalated", {}),
    ]:
        state, events, at = wake(state)
        assert at == expected_at and types(events) == [kind]
        assert data.items() <= events[0].data.items() and events[0].data["evaluation"] == 1
        seen.append(events[0].data["notice"])
        nothing_due(state, at)
    assert seen == [f"report-reminder:{tag}:7", f"report-reminder:{tag}:0", f"report-escalation:{tag}"]
    assert L.open_evaluation(state).escalated
    # after the escalation only the scheduled evaluation and expiry are ahead
    assert L.next_wakeup(state) == min(n.at for n in unsent(state))
    # (issue #10: and the next escalation of the unconcluded evaluation, to the head's office)
    assert {n.kind for n in unsent(state)} == {"expiry_reminder", "evaluation_opened", "evaluation_escalated"}


def test_concluding_stops_the_report_clock() -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    state, _ = conclude(state, NOW + timedelta(days=1))
    assert "evaluation_report" not in state.deadlines
    assert not any(n.kind.startswith("evaluation_") and n.kind != "evaluation_opened" for n in L.notices(state))


# ================================================================ conclusion


@pytest.mark.parametrize(
    "actor",
    [
        staff(ITB),
        partner(JABAR),
        approver(JABAR, "head"),
        m.Actor(sub="cron", org=JABAR, roles=["scheduler"]),
        m.SYSTEM,
    ],
    ids=lambda a: a.sub,
)
def test_only_initiator_staff_conclude(actor: m.Actor) -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    for org in (JABAR, ITB):
        state, _ = report(state, org, NOW)
    refused(state, actor, m.ConcludeEvaluation(evaluation=1, score=70, recommendation="continue"), L.NotAllowed)
    run(state, admin(JABAR), m.ConcludeEvaluation(evaluation=1, score=70, recommendation="continue"))


def test_conclude_when_all_reported_or_after_the_due_date() -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    due = L.open_evaluation(state).due_at
    state, _ = report(state, JABAR, NOW)
    command = m.ConcludeEvaluation(evaluation=1, score=60, recommendation="continue", summary="Cukup")
    error = refused(state, staff(), command, L.InvalidTransition, due - timedelta(seconds=1))
    assert error.details["missing_reports"] == [ITB]
    assert "conclude_evaluation" not in L.allowed_actions(state, staff(), due - timedelta(seconds=1))
    done, events = run(state, staff(), command, due)
    assert events[0].data == {
        "evaluation": 1,
        "score": 60,
        "recommendation": "continue",
        "summary": "Cukup",
        "missing_reports": [ITB],
    }
    evaluation = done.evaluations[0]
    assert (evaluation.score, evaluation.recommendation, evaluation.concluded_at, evaluation.concluded_by) == (
        60,
        "continue",
        due,
        "staff@jabar",
    )
    state, _ = report(state, ITB, NOW)
    refused(state, staff(), m.ConcludeEvaluation(evaluation=2, score=1, recommendation="continue"), L.InvalidTransition)
    state, _ = run(state, staff(), command, NOW)  # everyone reported: before the due date too
    refused(state, staff(), command, L.InvalidTransition)  # concluded once


def test_continue_keeps_the_schedule() -> None:
    state, _, at = wake(implemented())
    state, events = conclude(state, at)
    assert types(events) == ["evaluation_concluded"]
    assert state.change is None and state.termination is None and state.stage == "implementation"
    assert L.next_wakeup(state) == t.office_time(date(2028, 1, 4), "Asia/Jakarta")


def test_expand_opens_an_amendment() -> None:
    state, _, at = wake(implemented())
    state, events = conclude(state, at, "expand")
    assert types(events) == ["evaluation_concluded", "change_opened", "step_entered"]
    assert events[1].data["kind"] == "amendment" and events[1].data["origin"] == "evaluation:1"
    assert events[1].data["changes"] == {}
    assert state.stage == "implementation" and L.phase(state) == "change_negotiation"
    assert (state.change.kind, state.change.number, b.step_key(state)) == ("amendment", 1, "penyusunan_adendum")
    assert state.deadlines["step"] == t.due_after(at, 90, "Asia/Jakarta")
    # a second expand while the amendment runs opens nothing more, but is on record (issue #10)
    state, _ = run(state, staff(), m.StartEvaluation(), at)
    state, events = conclude(state, at, "expand")
    assert types(events) == ["evaluation_concluded", "recommendation_deferred"] and state.change.number == 1
    assert state.deferred_recommendations == ["evaluation:2 expand (amendment-1 open)"]


def test_stop_opens_a_termination_for_the_head_gate() -> None:
    state, _, at = wake(implemented())
    state, events = conclude(state, at, "stop")
    assert types(events) == ["evaluation_concluded", "termination_requested"]
    assert events[1].data["origin"] == "evaluation:1"
    assert L.phase(state) == "termination" and b.step_key(state) == "pengakhiran"
    assert [(g.gate, g.org, g.status) for g in L.open_slots(state)] == [("head", JABAR, "pending")]
    assert state.deadlines["step"] == t.due_after(at, 14, "Asia/Jakarta")
    refused(state, approver(JABAR, "legal"), m.Decide(gate="head", outcome="approve"), L.NotAllowed, at)
    assert state.stage == "implementation"
    ended, events = run(state, approver(JABAR, "head"), m.Decide(gate="head", outcome="approve"), at)
    assert ended.stage == "terminated" and types(events)[-1] == "agreement_terminated"
    assert L.notices(ended) == []


def test_termination_declined_during_a_change_resumes_its_clock_at_office_hours() -> None:
    """Regression: the resumed deadline of a paused amendment fell at the moment of the
    decision plus the service level, not at office hours in the initiator's zone."""
    state = implemented()
    state, _ = run(state, staff(), m.ProposeAmendment(summary="Tambah indikator"))
    state, _ = run(state, staff(), m.StartEvaluation())
    state, _ = conclude(state, NOW, "stop")
    assert L.phase(state) == "termination"
    evening = datetime(2027, 1, 20, 13, 37, tzinfo=UTC)  # 20:37 WIB
    state, events = run(
        state, approver(JABAR, "head"), m.Decide(gate="head", outcome="reject", comment="Tetap jalan"), evening
    )
    assert types(events)[-1] == "termination_declined" and L.phase(state) == "change_negotiation"
    assert state.deadlines["step"] == t.due_after(evening, 90, "Asia/Jakarta")
    assert state.deadlines["step"] == datetime(2027, 4, 20, 2, tzinfo=UTC)


# ================================================================ amendments


def test_propose_amendment_changes_terms_only_when_the_addendum_is_signed() -> None:
    state = implemented()
    new_indicators = [m.Indicator(name="Desa terlayani", target=50, unit="desa")]
    state, events = run(
        state,
        staff(),
        m.ProposeAmendment(
            summary="Perluasan", end_date=date(2031, 6, 30), indicators=new_indicators, evaluation_interval_months=3
        ),
    )
    assert types(events) == ["change_opened", "step_entered"]
    assert events[0].data["changes"] == {
        "end_date": "2031-06-30",
        "evaluation_interval_months": 3,
        "indicators": [{"name": "Desa terlayani", "target": 50.0, "unit": "desa"}],
    }
    assert events[1].data["change"] == 1 and events[1].data["stage"] == "implementation"
    before = (state.end_date, state.indicators, state.evaluation_interval_months)
    # negotiated, approved, not yet signed: nothing changed
    state, _ = b.happy_step(state)
    state, _ = b.happy_step(state)
    assert L.phase(state) == "change_signing"
    assert (
        (state.end_date, state.indicators, state.evaluation_interval_months)
        == before
        == (date(2030, 1, 4), [m.Indicator(name=INDICATOR, target=100, unit="puskesmas")], 6)
    )
    state, _ = run(state, staff(), m.StartEvaluation())
    refused(
        state,
        partner(ITB),
        m.SubmitEvaluationReport(
            evaluation=1, narrative="x", results=[m.IndicatorResult(indicator="Desa terlayani", achieved=1)]
        ),
        L.InvalidProposal,
    )
    later = NOW + timedelta(days=5)
    state, events = b.happy_step(state, later)
    assert types(events)[-2:] == ["step_completed", "change_completed"]
    completed = events[-1].data
    assert completed["kind"] == "amendment" and completed["number"] == 1
    assert (state.end_date, state.indicators, state.evaluation_interval_months) == (
        date(2031, 6, 30),
        new_indicators,
        3,
    )
    assert state.change is None and "step" not in state.deadlines and L.phase(state) == "implementation"
    amendment = state.amendments[-1]
    assert (amendment.kind, amendment.summary, amendment.signed_at) == ("amendment", "Perluasan", later)
    assert amendment.document == b.doc(f"v{amendment.version}") and amendment.changes == completed["changes"]
    assert L.agreed_draft(state, "adendum") is None  # the change's drafts are out of scope once it closed
    # the new end date re-keys the expiry reminders; reports follow the new indicators
    assert {n.data["end_date"] for n in L.notices(state) if n.kind == "expiry_reminder"} == {"2031-06-30"}
    state, _ = report(state, ITB, later, results=[m.IndicatorResult(indicator="Desa terlayani", achieved=10)])


def test_amended_interval_paces_the_evaluations_after_the_next_one() -> None:
    state, _ = run(implemented(), staff(), m.ProposeAmendment(summary="Triwulanan", evaluation_interval_months=3))
    state, _ = b.complete_change(state)
    assert state.evaluation_interval_months == 3 and state.next_evaluation_on == date(2027, 7, 4)
    state, _, at = wake(state)
    assert at == t.office_time(date(2027, 7, 4), "Asia/Jakarta")
    assert state.next_evaluation_on == date(2027, 10, 4)


@pytest.mark.parametrize("actor", [staff(ITB), partner(JABAR), approver(JABAR, "head"), m.SYSTEM], ids=lambda a: a.sub)
def test_only_initiator_staff_propose_amendments_and_renewals(actor: m.Actor) -> None:
    state = implemented()
    refused(state, actor, m.ProposeAmendment(summary="x"), L.NotAllowed)
    refused(state, actor, m.Renew(duration_months=12), L.NotAllowed)


def test_amendment_end_date_after_the_effective_date() -> None:
    state = implemented()
    error = refused(state, staff(), m.ProposeAmendment(summary="x", end_date=date(2027, 1, 4)), L.InvalidProposal)
    assert error.status == 422


def test_changes_only_in_force_and_one_at_a_time() -> None:
    refused(b.advance(b.created(), "penyusunan_pks"), staff(), m.ProposeAmendment(summary="x"), L.InvalidTransition)
    refused(b.created(), staff(), m.Renew(duration_months=12), L.InvalidTransition)
    state, _ = run(implemented(), staff(), m.ProposeAmendment(summary="x"))
    refused(state, staff(), m.ProposeAmendment(summary="y"), L.InvalidTransition)
    refused(state, staff(), m.Renew(duration_months=12), L.InvalidTransition)
    # (issue #10: termination stays possible while a change is open)
    assert "terminate" in L.allowed_actions(state, staff(), NOW)
    # evaluations go on while the change runs
    assert {"start_evaluation", "submit_draft"} <= set(L.allowed_actions(state, staff(), NOW))


def test_rejected_change_leaves_the_agreement_in_force() -> None:
    state, _ = run(implemented(), staff(), m.ProposeAmendment(summary="x", end_date=date(2035, 1, 1)))
    state, _ = b.happy_step(state)
    assert b.step_key(state) == "telaah_hukum_adendum"
    state, events = run(state, approver(JABAR, "legal"), m.Decide(gate="legal", outcome="reject", comment="Tidak"))
    assert types(events) == ["gate_decided", "change_rejected"]
    assert events[1].data == {"kind": "amendment", "number": 1, "comment": "Tidak"}
    assert (state.stage, state.change, state.end_date, state.amendments) == (
        "implementation",
        None,
        date(2030, 1, 4),
        [],
    )
    assert "step" not in state.deadlines and L.phase(state) == "implementation"
    assert not any(n.kind.startswith("deadline_") for n in L.notices(state))
    state, _ = run(state, staff(), m.Renew(duration_months=12))
    assert (state.change.kind, state.change.number) == ("renewal", 2)


def test_rejected_change_leaves_no_gate_pending() -> None:
    """Regression (found by the state machine): when one region's legal bureau rejected an
    addendum, the other regions' slots at that gate stayed `pending` on the snapshot after
    the change had closed, as if they still owed a decision."""
    state = implemented(b.ksdd_proposal(counterparties=(JATENG, "jatim")))
    state, _ = run(state, staff(), m.ProposeAmendment(summary="x"))
    state, _ = b.happy_step(state)
    assert [(g.org, g.status) for g in state.gates if g.step == "telaah_hukum_adendum"] == [
        (JABAR, "pending"),
        (JATENG, "pending"),
        ("jatim", "pending"),
    ]
    state, _ = run(state, approver(JABAR, "legal"), m.Decide(gate="legal", outcome="reject", comment="Tidak"))
    assert state.change is None
    assert [(g.org, g.status) for g in state.gates if g.step == "telaah_hukum_adendum"] == [
        (JABAR, "rejected"),
        (JATENG, "waiting"),
        ("jatim", "waiting"),
    ]
    assert not [g for g in state.gates if g.status == "pending"]
    refused(state, approver(JATENG, "legal"), m.Decide(gate="legal", outcome="approve"), L.InvalidTransition)


def test_change_request_changes_goes_back_to_its_own_negotiation() -> None:
    state, _ = run(implemented(), staff(), m.ProposeAmendment(summary="x"))
    state, _ = b.happy_step(state)
    state, events = run(
        state, approver(JABAR, "legal"), m.Decide(gate="legal", outcome="request_changes", comment="Perbaiki pasal 3")
    )
    assert types(events) == ["gate_decided", "returned_for_changes", "step_entered"]
    assert events[1].data["to_step"] == "penyusunan_adendum"
    assert (state.stage, L.phase(state), state.step_index) == ("implementation", "change_negotiation", None)
    assert L.latest_draft(state, "adendum").accepted_by == []
    assert L.agreed_draft(state, "pks") is None  # scoped: the original PKS is not touched
    state, _ = b.complete_change(state)
    assert state.amendments[-1].number == 1


def test_second_amendment_negotiates_separately() -> None:
    state, _ = run(implemented(), staff(), m.ProposeAmendment(summary="Pertama"))
    state, _ = b.complete_change(state)
    first = state.amendments[0]
    state, _ = run(state, staff(), m.ProposeAmendment(summary="Kedua"))
    assert L.scope_of(state) == "amendment-2" and L.latest_draft(state, "adendum") is None
    # the same text as the first addendum is a new version in the second one
    state, events = run(state, staff(), m.SubmitDraft(document=first.document))
    assert events[0].data["scope"] == "amendment-2" and events[0].data["version"] > first.version
    assert L.latest_draft(state, "adendum").accepted_by == [JABAR]
    state, _ = run(state, partner(ITB), m.AcceptDraft(version=events[0].data["version"]))
    assert L.phase(state) == "change_gate"
    state, _ = b.complete_change(state)
    assert [(a.number, a.summary) for a in state.amendments] == [(1, "Pertama"), (2, "Kedua")]
    scopes = {d.scope for d in state.drafts}
    assert scopes == {"", "amendment-1", "amendment-2"}
    first_drafts = [d for d in state.drafts if d.scope == "amendment-1"]
    assert set(first_drafts[-1].accepted_by) == {JABAR, ITB}  # untouched by the second
    assert {s.scope for s in state.signatures} == scopes


def test_change_steps_have_deadlines_reminders_and_escalation() -> None:
    state, _ = run(implemented(), staff(), m.Renew(duration_months=24))
    due = state.deadlines["step"]
    step_notices = [n for n in unsent(state) if n.kind.startswith("deadline_")]
    assert [n.key for n in step_notices] == [
        f"step-reminder:renewal-1/penyusunan_perpanjangan@{due.isoformat()}:7",
        f"step-reminder:renewal-1/penyusunan_perpanjangan@{due.isoformat()}:1",
        f"step-escalation:renewal-1/penyusunan_perpanjangan@{due.isoformat()}",
    ]
    state, events = tick(state, due)
    assert types(events) == ["deadline_reminder", "deadline_reminder", "deadline_escalated"]
    state, _ = run(state, staff(), m.ExtendDeadline(days=5, reason="x"), due)
    assert state.deadlines["step"] == due + timedelta(days=5)


# ================================================================ renewals


def test_renewal_moves_the_end_date_when_signed() -> None:
    state = implemented(b.ksdpk_proposal(dprd=True))
    state, events = run(state, staff(), m.Renew(duration_months=24, note="Dua tahun lagi"))
    assert events[0].data["kind"] == "renewal" and events[0].data["changes"] == {"duration_months": 24}
    assert [g["gate"] for g in events[0].data["gates"]] == ["dprd", "legal"]
    assert state.end_date == date(2030, 1, 4)
    state, events = b.complete_change(state)
    assert "persetujuan_dprd_perpanjangan" in [e.data.get("step") for e in events]
    assert events[-1].type == "change_completed" and events[-1].data["changes"] == {"end_date": "2032-01-04"}
    assert state.end_date == date(2032, 1, 4) and state.amendments[-1].kind == "renewal"
    # the schedule goes on into the new term and the reminders follow the new end date
    ends = {n.data["end_date"] for n in L.notices(state) if n.kind == "expiry_reminder"}
    assert ends == {"2032-01-04"}
    assert next(n for n in L.notices(state) if n.key.startswith("end-of-term")).at == t.office_time(
        date(2032, 1, 4), "Asia/Jakarta"
    )


def test_renewal_without_dprd_skips_that_gate() -> None:
    state, _ = run(implemented(), staff(), m.Renew(duration_months=12))
    state, events = b.complete_change(state)
    assert {"step": "persetujuan_dprd_perpanjangan", "reason": "no party needs this gate"} in [
        e.data for e in events if e.type == "step_skipped"
    ]


# ================================================================ expiry


def test_expiry_reminders_at_office_hours() -> None:
    state = implemented(zoned(b.ksdpk_proposal(), "Asia/Jayapura"))
    reminders = [n for n in L.notices(state) if n.kind == "expiry_reminder"]
    end = date(2030, 1, 4)
    assert [(n.at, n.data["days_before"]) for n in reminders] == [
        (local(end - timedelta(days=d), 9, "Asia/Jayapura"), d) for d in (90, 60, 30, 7, 0)
    ]
    assert all(n.data["end_date"] == "2030-01-04" for n in reminders)


def test_expiry_reminder_days_come_from_the_proposal() -> None:
    state = implemented(b.ksdpk_proposal(expiry_reminder_days=[14, 180, 14, 1]))
    assert state.expiry_reminder_days == [180, 14, 1]
    assert [n.data["days_before"] for n in L.notices(state) if n.kind == "expiry_reminder"] == [180, 14, 1]


def test_expiry_reminders_before_implementation_started_are_skipped() -> None:
    """A two-month term: the 90- and 60-day reminders fell before it began."""
    state = implemented(b.ksdpk_proposal(duration_months=2))
    assert state.end_date == date(2027, 3, 4) and state.timeline_from == NOW
    state, events = tick(state, t.office_time(date(2027, 3, 4), "Asia/Jakarta"))
    expiry = [e.data["days_before"] for e in events if e.type == "expiry_reminder"]
    assert expiry == [30, 7, 0]
    assert not any(":90" in k or ":60" in k for k in state.notices_sent)


def test_end_of_term_opens_the_final_evaluation_superseding_an_open_one() -> None:
    state = implemented()
    end = t.office_time(date(2030, 1, 4), "Asia/Jakarta")
    state, _ = run(state, staff(), m.StartEvaluation(), end - timedelta(days=3))
    number = L.open_evaluation(state).number
    state, events = tick(state, end)
    assert "evaluation_opened" in types(events)
    # (issue #10: the periodic evaluations never ticked for meanwhile open too, then the final)
    opened = [e for e in events if e.type == "evaluation_opened"][-1]
    assert opened.data["final"] and opened.data["origin"] == "end_of_term"
    final = L.open_evaluation(state)
    assert final.final and final.due_at == t.due_after(end, 30, "Asia/Jakarta")
    superseded = next(e for e in state.evaluations if e.number == number)
    assert superseded.concluded_at == end and superseded.score is None and "final" in superseded.summary
    assert [e.number for e in state.evaluations if e.concluded_at is None] == [final.number]
    assert state.stage == "implementation"


def test_concluding_the_final_evaluation_expires_the_agreement() -> None:
    state, at = tick_until(implemented(), lambda s: any(e.final for e in s.evaluations))
    assert at == t.office_time(date(2030, 1, 4), "Asia/Jakarta")
    state, events = conclude(state, at + timedelta(days=2), "expand")
    assert types(events) == ["evaluation_concluded", "agreement_expired"]
    assert events[1].data == {"end_date": "2030-01-04", "evaluation": state.evaluations[-1].number}
    assert state.stage == "expired" and state.change is None
    assert L.notices(state) == [] and L.allowed_actions(state, staff(), at) == []


def test_unconcluded_final_evaluation_expires_the_day_after_its_due_date() -> None:
    state, _at = tick_until(implemented(), lambda s: any(e.final for e in s.evaluations))
    final = L.open_evaluation(state)
    state, events = tick(state, final.due_at + timedelta(days=1) - timedelta(seconds=1))
    assert types(events) == ["evaluation_reminder", "evaluation_reminder"]  # no escalation for a final one
    assert state.stage == "implementation"
    expiry = final.due_at + timedelta(days=1)
    assert L.next_wakeup(state) == expiry
    state, events = tick(state, expiry)
    assert types(events) == ["agreement_expired"]
    assert events[0].data == {"notice": "expire:2030-01-04", "end_date": "2030-01-04", "evaluation": final.number}
    assert state.stage == "expired" and state.deadlines == {}
    assert L.notices(state) == [] and L.next_wakeup(state) is None


def test_a_whole_term_in_one_late_tick_catches_up_to_the_final_evaluation() -> None:
    """A timer that fires years late (a worker down) replays what time brought, in order; the
    final evaluation's reports are due 30 days after it actually opened."""
    late = datetime(2031, 1, 1, tzinfo=UTC)
    state, events = tick(implemented(b.ksdpk_proposal(duration_months=12)), late)
    opened = [e.data for e in events if e.type == "evaluation_opened"]
    assert [(d["number"], d["final"]) for d in opened] == [(1, False), (2, True)]
    assert [e.data["days_before"] for e in events if e.type == "expiry_reminder"] == [90, 60, 30, 7, 0]
    final = L.open_evaluation(state)
    assert final.final and final.due_at == t.due_after(late, 30, "Asia/Jakarta")
    state, events = tick(state, final.due_at + timedelta(days=1))
    assert types(events)[-1] == "agreement_expired" and state.stage == "expired"


def test_renewal_signed_during_the_final_evaluation_turns_it_into_a_regular_one() -> None:
    state, at = tick_until(implemented(), lambda s: any(e.final for e in s.evaluations))
    final = L.open_evaluation(state)
    state, _ = run(state, staff(), m.Renew(duration_months=12), at)
    state, events = b.complete_change(state, at + timedelta(days=3))
    assert events[-1].type == "change_completed" and state.end_date == date(2031, 1, 4)
    evaluation = L.open_evaluation(state)
    assert evaluation.number == final.number and not evaluation.final
    assert not any(n.key.startswith("expire:") for n in L.notices(state))
    # no expiry at the old due date: the evaluation escalates like any other
    state, events = tick(state, final.due_at + timedelta(days=1))
    assert "agreement_expired" not in types(events) and "evaluation_escalated" in types(events)
    assert state.stage == "implementation"
    # reports and conclusion as for a regular evaluation; the agreement goes on
    state, events = conclude(state, final.due_at + timedelta(days=2))
    assert types(events) == ["evaluation_concluded"] and state.stage == "implementation"
    end = next(n for n in L.notices(state) if n.key.startswith("end-of-term"))
    assert end.at == t.office_time(date(2031, 1, 4), "Asia/Jakarta")


def test_renewal_during_the_final_evaluation_does_not_open_the_same_period_twice() -> None:
    """Regression: the final evaluation (opened on the old end date, which was also the next
    scheduled date) became a regular one, and after its conclusion a second evaluation
    opened at once for that same date."""
    state, at = tick_until(implemented(), lambda s: any(e.final for e in s.evaluations))
    assert state.next_evaluation_on == date(2030, 1, 4)
    state, _ = run(state, staff(), m.Renew(duration_months=12), at)
    state, _ = b.complete_change(state, at)
    state, _ = conclude(state, at + timedelta(days=1))
    assert state.next_evaluation_on == date(2030, 7, 4)
    assert L.next_wakeup(state) == t.office_time(date(2030, 7, 4), "Asia/Jakarta")
    nothing_due(state, at + timedelta(days=1))


def test_renewal_before_the_end_continues_the_schedule() -> None:
    state, at = tick_until(implemented(), lambda s: s.evaluations_opened == 5)  # 2029-07-04
    state, _ = conclude(state, at)
    state, _ = run(state, staff(), m.Renew(duration_months=12), at)
    state, _ = b.complete_change(state, at)
    state, events, when = wake(state)
    assert types(events) == ["notice_due", "evaluation_opened"] and not events[1].data["final"]
    assert when == t.office_time(date(2030, 1, 4), "Asia/Jakarta")
    assert "expiry_reminder" not in types(events)


# ================================================================ next_wakeup and tick


def test_next_wakeup_is_the_earliest_unsent_notice_and_a_tick_there_always_emits() -> None:
    """A whole life driven only by time plus the parties' answers: at each wake-up something
    happens, the next wake-up is later, and nothing is sent twice."""
    state = implemented(zoned(b.ksdpk_proposal(duration_months=24), "Asia/Makassar"))
    now = NOW
    for _ in range(200):
        if state.stage == "expired":
            break
        at = L.next_wakeup(state)
        pending = [
            n
            for n in unsent(state)
            if not (state.timeline_from and n.at < state.timeline_from and n.kind.endswith("_reminder"))
        ]
        assert at == min(n.at for n in pending)
        assert at >= now or L.due_notices(state, now)  # never in the past after a tick at that time
        state, events = tick(state, at)
        assert events and all(e.at == at for e in events)
        assert L.next_wakeup(state) is None or L.next_wakeup(state) > at
        assert L.due_notices(state, at) == []
        now = at
        evaluation = L.open_evaluation(state)
        if evaluation is not None and not evaluation.final and not evaluation.reports:
            state, _ = conclude(state, at + timedelta(hours=1))
            now = at + timedelta(hours=1)
    assert state.stage == "expired"
    assert len(state.notices_sent) == len(set(state.notices_sent))
    assert state.evaluations_opened == 4 and [e.final for e in state.evaluations] == [False] * 3 + [True]


def test_due_notices_are_ordered_and_exclude_what_was_sent() -> None:
    state = implemented()
    later = datetime(2027, 8, 10, tzinfo=UTC)
    due = L.due_notices(state, later)
    assert [n.key for n in due] == ["evaluation:2027-07-04"]
    state, _ = tick(state, later)
    assert L.due_notices(state, later) == []
    due_at = L.open_evaluation(state).due_at
    assert [n.data["days_before"] for n in L.due_notices(state, due_at)] == [7, 0]


# ================================================================ reviewed edges


def test_no_report_reminders_once_every_party_has_reported() -> None:
    state, _ = run(implemented(), staff(), m.StartEvaluation())
    now = state.updated_at
    for org in (JABAR, ITB):
        state, _ = report(state, org, now)
    # Only the conclusion waits: nobody is reminded about reports; the conclusion itself
    # is escalated to the coordinators (issue #10) if nobody concludes.
    assert not [n for n in unsent(state) if n.kind == "evaluation_reminder"]
    assert [n.data.get("to") for n in unsent(state) if n.kind == "evaluation_escalated"] == ["coordinators"]


def test_extending_a_passed_deadline_does_not_send_stale_reminders() -> None:
    state, _ = run(b.created(b.ksdd_proposal()), staff(), m.Submit())
    due = state.deadlines["step"]
    state, _ = tick(state, due)
    state, _ = run(state, staff(), m.ExtendDeadline(days=3, reason="Satu pihak menunggu rapat"), due)
    new = due + timedelta(days=3)
    # "7 days before" the new date lies before the extension: moot. "1 day before" is ahead.
    assert [(n.kind, n.at) for n in L.due_notices(state, new)] == [
        ("deadline_reminder", new - timedelta(days=1)),
        ("deadline_escalated", new),
    ]


def test_no_next_evaluation_shown_at_or_after_the_end_date() -> None:
    state = implemented(b.ksdpk_proposal(duration_months=6, evaluation_interval_months=6))
    assert state.next_evaluation_on == state.end_date
    assert L.snapshot(state, staff(), NOW).next_evaluation_at is None


@pytest.mark.parametrize(
    "moment,zone,expected",
    [
        # Monday 10:00 WIB: in office hours, as is
        (datetime(2027, 1, 4, 3, tzinfo=UTC), "Asia/Jakarta", datetime(2027, 1, 4, 3, tzinfo=UTC)),
        # Monday 02:00 UTC is 20:00 Sunday in Amsterdam: Monday 08:00 CET
        (datetime(2027, 1, 4, 2, tzinfo=UTC), "Europe/Amsterdam", datetime(2027, 1, 4, 7, tzinfo=UTC)),
        # Friday 18:00 WIT: Monday 08:00 WIT
        (datetime(2027, 1, 8, 9, tzinfo=UTC), "Asia/Jayapura", datetime(2027, 1, 10, 23, tzinfo=UTC)),
        # Saturday noon WITA: Monday 08:00 WITA
        (datetime(2027, 1, 9, 4, tzinfo=UTC), "Asia/Makassar", datetime(2027, 1, 11, 0, tzinfo=UTC)),
    ],
)
def test_time_driven_mail_waits_for_office_hours_where_its_reader_is(moment, zone, expected) -> None:
    assert t.next_office_moment(moment, zone) == expected
