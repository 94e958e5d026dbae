"""The action plan section of a report upward (#13): counted from the agreement's state as
the decider keeps it — agreements recorded before action plans load with none — and with
the implementation's health as the decider computes it, reasons and all. Pure: no servers;
the states are the decider's own (tests.builders)."""

from __future__ import annotations

from datetime import date, datetime

from services.api.reporting.plan_progress import plan_progress
from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m

JABAR, JATENG = b.INITIATOR, b.REGION


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T03:00:00+00:00")  # 10:00 WIB


def test_an_agreement_without_a_plan_has_none_to_report() -> None:
    assert plan_progress(b.implemented(b.ksdd_proposal()), as_of=date(2027, 7, 1), now=at("2027-07-01")) is None
    # A state recorded before action plans existed has none either.
    recorded = b.implemented(b.ksdd_proposal()).model_dump(mode="json")
    for key in ("goals", "obligations", "activities", "measurements", "plan_revisions", "meetings", "action_items"):
        recorded.pop(key)
    assert (
        plan_progress(m.AgreementState.model_validate(recorded), as_of=date(2027, 7, 1), now=at("2027-07-01")) is None
    )


def test_progress_counts_the_plan_and_the_health_is_the_decider_s() -> None:
    state = b.implemented(b.planned_proposal())
    state, _ = b.run(state, b.staff(), m.ReportProgress(activity="A1", percent=40), at("2027-03-01"))
    missed = m.SettleObligation(obligation="O2", outcome="missed", note="Tidak ada data")
    state, _ = b.run(state, b.partner(JATENG), missed, at("2027-04-02"))
    state, _ = b.run(state, b.staff(), m.ReportProgress(activity="A1", percent=100), at("2027-06-01"))
    now = at("2027-07-15")
    progress = plan_progress(state, as_of=date(2027, 7, 15), now=now)
    assert progress is not None
    assert (progress.activities, progress.activities_completed, progress.mean_percent) == (2, 1, 50)
    assert (progress.obligations, progress.obligations_fulfilled, progress.obligations_missed) == (3, 0, 1)
    # O1 of jabar fell due on 2027-06-30 and is still open; A2 is under way, not late.
    assert [(i.kind, i.id, i.party) for i in progress.late] == [("obligation", "O1", JABAR)]
    # … given by its own words too, which the report page shows in place of "O1".
    assert progress.late[0].about == next(o.description for o in state.obligations if o.id == "O1")
    assert progress.health == L.health(state, now)
    assert progress.health is not None and progress.health.status == "off_track"
    assert [r.code for r in progress.health.reasons] == ["obligation_missed", "obligation_overdue"]


def test_items_late_are_counted_as_of_the_period_s_end() -> None:
    state = b.implemented(b.planned_proposal())
    progress = plan_progress(state, as_of=date(2027, 3, 31), now=at("2027-07-15"))
    assert progress is not None and progress.late == []  # O2 is due on the 31st itself
    later = plan_progress(state, as_of=date(2027, 4, 1), now=at("2027-07-15"))
    assert later is not None and [i.id for i in later.late] == ["O2"]
