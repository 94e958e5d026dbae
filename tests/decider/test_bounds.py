"""No agreement can be frozen by its own size (#13): Temporal refuses a state over 2 MB as
a continue-as-new input, so a command that would make the state larger than the budget
(512 KB of JSON) is refused with 422 `agreement_too_large` and changes nothing, and what
accumulates over the years — progress reports, measurements, meetings, action items, plan
revisions — is capped as it grows, keeping what decisions and views need.
docs/implementation.md ("How much an agreement keeps")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, given, settings
from pydantic import ValidationError
from pydantic_core import to_json

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m
from workflows.lifecycle import bounds

NOW = b.NOW
JABAR, JATENG = b.INITIATOR, b.REGION


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T03:00:00+00:00")  # 10:00 WIB


def negotiating() -> m.AgreementState:
    return b.advance(b.created(b.planned_proposal()), "penyusunan_ksb")


def wordy_obligations(count: int, words: int) -> list[m.Obligation]:
    text = "Penyediaan data dan tenaga ahli " * words
    return [
        m.Obligation.model_validate(b.obligation(f"O{i}", JABAR, "2027-06-30", description=text[:20_000]))
        for i in range(count)
    ]


def wordy_activities(count: int) -> list[m.Activity]:
    deliverables = [f"Laporan {n} " + "x" * 280 for n in range(20)]
    return [
        m.Activity.model_validate(b.activity(f"A{i}", JATENG, "2027-02-01", "2027-12-31", deliverables=deliverables))
        for i in range(count)
    ]


def test_two_large_plan_edits_each_under_the_request_limit_cannot_make_the_agreement_unrecordable() -> None:
    first = m.EditPlan(obligations=wordy_obligations(200, 60))  # ~400 KB of descriptions
    second = m.EditPlan(activities=wordy_activities(60))  # ~400 KB of deliverables
    assert len(first.model_dump_json()) < 1_048_576 and len(second.model_dump_json()) < 1_048_576
    state, _ = b.run(negotiating(), b.staff(), first)
    assert L.state_size(state) <= L.STATE_BUDGET_BYTES
    with pytest.raises(L.AgreementTooLarge) as refused:
        L.decide(state, second, b.staff(), NOW)
    error = refused.value
    assert error.status == 422 and error.code == "agreement_too_large"
    assert error.details["size"] > L.STATE_BUDGET_BYTES == error.details["limit"]
    assert [p["field"] for p in error.details["largest"]][:2] == ["obligations", "activities"]
    assert "uploaded document" in error.message and error.details["stage"] == "negotiation"
    # Nothing changed, and the agreement keeps taking commands, a smaller plan among them.
    b.run(state, b.staff(), m.Comment(text="Rencana aksi diringkas."))
    b.run(state, b.staff(), m.EditPlan(activities=wordy_activities(5)))


def test_a_proposal_too_large_to_record_is_refused_at_creation() -> None:
    proposal = b.planned_proposal(obligations=[o.model_dump() for o in wordy_obligations(200, 90)])
    with pytest.raises(L.AgreementTooLarge):
        L.create(proposal, b.staff(), NOW, "agr-too-large")


def test_a_state_over_the_budget_takes_a_command_that_makes_it_smaller_but_none_that_grows_it() -> None:
    state, _ = b.run(negotiating(), b.staff(), m.EditPlan(obligations=wordy_obligations(200, 60)))
    # As if time had added what no command can: notices sent for years.
    grown = state.model_copy(update={"notices_sent": [f"notice-{n:06d}-" + "x" * 60 for n in range(2_000)]})
    assert L.state_size(grown) > L.STATE_BUDGET_BYTES
    with pytest.raises(L.AgreementTooLarge):
        L.decide(grown, m.Comment(text="Satu catatan lagi."), b.staff(), NOW)
    smaller, _ = b.run(grown, b.staff(), m.EditPlan(obligations=wordy_obligations(100, 60)))
    assert L.state_size(smaller) < L.state_size(grown)


def test_the_greatest_plan_a_command_may_carry_is_refused_whole_rather_than_recorded() -> None:
    # Every list and text at its per-command limit: far beyond what the state may hold.
    obligations = wordy_obligations(m.MAX_PLAN_ITEMS, 1_000)
    assert sum(len(o.description) for o in obligations) > 4 * L.STATE_BUDGET_BYTES
    with pytest.raises(L.AgreementTooLarge):
        L.decide(negotiating(), m.EditPlan(obligations=obligations), b.staff(), NOW)


# A state near the budget, measured (as the workflow's state is, by the command before).
NEAR_THE_BUDGET, _ = b.run(negotiating(), b.staff(), m.EditPlan(obligations=wordy_obligations(200, 70)))

# Text that JSON escapes or UTF-8 widens (quotes, controls, non-BMP), and what validation
# refuses (NUL, lone surrogates), repeated up to a comment's 20,000 characters.
hostile = st.text(st.characters(codec=None), min_size=1, max_size=12)


def measured_afresh(state: m.AgreementState) -> m.AgreementState:
    """An equal state whose size this process has not measured: checked by a whole dump."""
    return state.model_copy(deep=True)


def outcome(state: m.AgreementState, command: Any) -> Any:
    try:
        decision = L.decided(state, command, b.staff(), NOW)
    except L.AgreementTooLarge as error:
        return ("refused", error.details["size"], error.details["largest"])
    assert bounds.state_size(decision.state) == len(to_json(decision.state))
    return ("accepted", decision.events)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_state_sized_from_the_one_before_refuses_exactly_what_a_whole_dump_refuses(data: st.DataObject) -> None:
    state = NEAR_THE_BUDGET
    assert bounds.state_size(state) >= bounds.INCREMENTAL_FROM_BYTES
    for _ in range(data.draw(st.integers(1, 4), label="commands")):
        piece = data.draw(hostile, label="text")
        text = piece * data.draw(st.integers(1, 20_000 // len(piece)), label="times")
        try:
            if data.draw(st.booleans(), label="comment?"):
                command: Any = m.Comment(text=text)
            else:
                count = data.draw(st.integers(1, 200), label="obligations")
                obligations = [o.model_copy(update={"description": text}) for o in wordy_obligations(count, 1)]
                command = m.EditPlan.model_validate({"obligations": [o.model_dump() for o in obligations]})
        except ValidationError:
            continue  # refused before any decision: NUL, lone surrogates, blank text
        incremental, whole = outcome(state, command), outcome(measured_afresh(state), command)
        assert incremental == whole
        event(incremental[0])
        if incremental[0] == "accepted":
            state = L.decided(state, command, b.staff(), NOW).state


def test_a_large_state_is_measured_by_what_a_command_changed_and_gets_the_same_size() -> None:
    after = L.decided(NEAR_THE_BUDGET, m.Comment(text='Catatan "penting"\n\t 🙂'), b.staff(), NOW).state
    assert bounds.recorded_size(after, NEAR_THE_BUDGET) == len(to_json(after)) == bounds.state_size(after)


# ---------------------------------------------------------------- what accumulates is capped


def in_force(**overrides: Any) -> m.AgreementState:
    return b.implemented(b.planned_proposal(**overrides))


def test_an_activity_keeps_its_latest_reports_and_the_percentage_last_reported() -> None:
    state, _ = b.run(in_force(), b.staff(), m.ReportProgress(activity="A1", percent=40), at("2027-02-10"))
    for day in range(11, 26):
        state, _ = b.run(state, b.staff(), m.ReportProgress(activity="A1", milestone="Desain"), at(f"2027-02-{day}"))
    activity = state.activities[0]
    assert len(activity.progress) == bounds.PROGRESS_KEPT and activity.percent == 40
    assert activity.progress[-1].at == at("2027-02-25")


def test_measurements_keep_the_current_and_previous_period_and_each_indicators_latest() -> None:
    state = in_force()
    indicator = state.indicators[0].name
    for n in range(bounds.MEASUREMENTS_KEPT + 5):
        measured = m.RecordMeasurement(indicator=indicator, value=n, measured_on="2027-01-04", source="BPS")
        state, _ = b.run(state, b.staff(), measured, NOW + timedelta(minutes=n))
    assert len(state.measurements) == bounds.MEASUREMENTS_KEPT
    assert [x.value for x in state.measurements][-1] == bounds.MEASUREMENTS_KEPT + 4
    # Two evaluations later, what was measured before the previous period is gone.
    for number, day in ((1, "2027-07-05"), (2, "2028-01-05")):
        state, _ = b.run(state, b.staff(), m.StartEvaluation(), at(day))
        concluded = m.ConcludeEvaluation(evaluation=number, score=80, recommendation="continue")
        state, _ = b.run(state, b.staff(), concluded, at(day) + timedelta(days=45))
    state, _ = b.run(
        state,
        b.staff(),
        m.RecordMeasurement(indicator=indicator, value=99, measured_on="2027-08-01", source="BPS"),
        at("2028-03-01"),
    )
    assert [(x.measured_on.isoformat(), x.value) for x in state.measurements] == [("2027-08-01", 99)]


def test_meetings_keep_the_latest_and_those_with_open_action_items_and_numbers_go_on() -> None:
    state = in_force()
    first = m.ScheduleMeeting(title="Rapat 1", at=at("2027-01-20"), participants=[JABAR, JATENG], agenda=["a"])
    state, _ = b.run(state, b.staff(), first)
    decisions = [m.MeetingDecision(text="Kirim data", party=JATENG, due_on="2027-12-01")]
    state, _ = b.run(
        state, b.staff(), m.RecordMinutes(meeting=1, document=b.doc("n1"), decisions=decisions), at("2027-01-21")
    )
    for n in range(2, bounds.MEETINGS_KEPT + 6):
        meeting = first.model_copy(update={"title": f"Rapat {n}", "at": at("2027-03-01")})
        state, _ = b.run(state, b.staff(), meeting, at("2027-01-21"))
    numbers = [x.number for x in state.meetings]
    assert numbers[0] == 1 and numbers[1:] == list(range(6, bounds.MEETINGS_KEPT + 6))
    state, events = b.run(state, b.staff(), first.model_copy(update={"at": at("2027-03-01")}), at("2027-01-21"))
    assert events[0].data["number"] == bounds.MEETINGS_KEPT + 6


def test_completed_action_items_and_closed_revisions_are_kept_only_latest() -> None:
    items = [
        m.ActionItem(id=f"M1-{n}", meeting=1, text="x", party=JATENG, due_on="2027-03-01", done_at=at("2027-02-01"))
        for n in range(1, 80)
    ] + [m.ActionItem(id="M2-1", meeting=2, text="x", party=JATENG, due_on="2027-03-01")]
    kept = bounds.kept_action_items(items)
    assert len(kept) == bounds.DONE_ACTION_ITEMS_KEPT + 1 and kept[-1].id == "M2-1"
    state = in_force()
    revised = [b.activity("A1", JABAR, "2027-03-01", "2027-12-31"), b.plan_fields()["activities"][1]]
    for n in range(1, bounds.CLOSED_REVISIONS_KEPT + 3):
        propose = m.ProposePlanRevision(summary=f"Revisi {n}", activities=revised)
        state, _ = b.run(state, b.staff(), propose)
        state, _ = b.run(state, b.staff(), m.WithdrawPlanRevision(revision=n, reason="Belum perlu"))
    state, events = b.run(state, b.staff(), m.ProposePlanRevision(summary="Revisi baru", activities=revised))
    assert events[0].data["number"] == bounds.CLOSED_REVISIONS_KEPT + 3
    assert [r.status for r in state.plan_revisions] == ["withdrawn"] * bounds.CLOSED_REVISIONS_KEPT + ["open"]
