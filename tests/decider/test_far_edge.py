"""Time's far edge (issue #11, branch zones15): no date an agreement holds reaches where
counting days overflows `date` (the year 9999). Its term, a signing on paper, a plan's and a
meeting's dates are bounded by `m.LATEST_DATE` (31 December 2100) where a party writes them;
a renewal is refused past it. A deadline's extension was not: extensions are not capped in
number and each counts from the last due date, so 5,697 of 365 days of service carried a
step deadline to February 9999 and the next one raised OverflowError inside `decide` instead
of a refusal. It is refused past `m.LATEST_DATE` like a renewal (422, before anything is
recorded). An agreement that ends on the last day accepted still plans every notice and its
mail.

Pure: no database, no Temporal; time is an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests import builders as b
from tests.builders import NOW, partner, run, staff
from workflows import lifecycle as L
from workflows import messages as m
from workflows import timeline as t

ZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "Pacific/Kiritimati", "Pacific/Pago_Pago")


def extended_until_refused(state: m.AgreementState, command: m.ExtendDeadline) -> tuple[m.AgreementState, int]:
    """The state after extending as often as the decider accepts, and how often it did."""
    for accepted in range(200):  # 365 days of service are about 17 months: 2027 to 2100 is some 55
        try:
            state, _ = run(state, staff(), command)
        except L.InvalidProposal as refused:
            assert refused.details["field"] == "days" and "2100-12-31" in refused.message
            return state, accepted
    raise AssertionError("extended past 2100 without a refusal")


@pytest.mark.parametrize("legacy", [True, False], ids=["calendar days", "office days"])
def test_a_step_deadline_extended_again_and_again_stops_at_the_last_date_an_agreement_may_hold(legacy: bool) -> None:
    state, _ = run(b.created(b.ksdd_proposal(), legacy=legacy), staff(), m.Submit())
    state, accepted = extended_until_refused(state, m.ExtendDeadline(days=365, reason="Menunggu data"))
    due = state.deadlines["step"]
    assert accepted > 40 and date(2099, 1, 1) < t.local_day(due, "Asia/Jakarta") <= m.LATEST_DATE
    assert L.next_wakeup(state) is not None and all(n.at.year <= 2101 for n in L.notices(state))


def test_an_evaluations_report_deadline_extended_again_and_again_stops_there_too() -> None:
    state, _ = run(b.implemented(b.ksdpk_proposal()), staff(), m.StartEvaluation())
    command = m.ExtendDeadline(deadline="evaluation_report", days=365, reason="Libur panjang")
    state, accepted = extended_until_refused(state, command)
    due = state.deadlines["evaluation_report"]
    assert accepted > 40 and t.local_day(due, "Asia/Jakarta") <= m.LATEST_DATE
    assert L.next_wakeup(state) is not None


def test_an_agreement_ending_on_the_last_date_accepted_plans_every_notice_and_its_mail() -> None:
    """From its signing to its expiry, wake-up by wake-up: every notice is timed, and its mail
    finds office hours in every zone a party may be in (the far ones: UTC+14 and UTC−11)."""
    state = b.implemented(b.ksdpk_proposal(start_date="2098-12-31", duration_months=24))
    assert state.end_date == m.LATEST_DATE
    now, seen = NOW, 0
    while state.stage != "expired":
        for notice in L.notices(state):
            for zone in ZONES:  # a time-driven mail's first try (`rules.mail_time`)
                assert t.next_office_hours(notice.at, zone) >= notice.at
        at = L.next_wakeup(state)
        assert at is not None and at >= now
        now = at
        state, events = run(state, m.SYSTEM, m.Tick(), now)
        seen += len(events)
        evaluation = L.open_evaluation(state)
        if evaluation is not None and not evaluation.final:
            for org in L.party_orgs(state):
                state, _ = run(
                    state, partner(org), m.SubmitEvaluationReport(evaluation=evaluation.number, narrative="Baik"), now
                )
            state, _ = run(
                state,
                staff(),
                m.ConcludeEvaluation(evaluation=evaluation.number, score=80, recommendation="continue"),
                now,
            )
    assert seen > 10 and now.year == 2101
    last = datetime(2100, 12, 31, 16, tzinfo=UTC)  # Friday night in Indonesia: Monday 3 January 2101
    assert [t.local_day(t.next_office_hours(last, z), z) for z in ZONES] == [date(2101, 1, 3)] * 4 + [
        date(2100, 12, 31)
    ]
    assert t.next_office_hours(last + timedelta(days=3), "Asia/Jakarta").year == 2101
