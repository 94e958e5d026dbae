"""The action plan's rules in the decider (#13): what a proposal's goals, obligations and
activities must be, the plan a signed version binds, who reports on what, revisions and
what needs an addendum, meetings and action items, what time brings, health, and the
evaluation's period. docs/implementation.md."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests import builders as b
from workflows import lifecycle as L
from workflows import messages as m
from workflows.lifecycle.handlers.action_plan import check_plan_after
from workflows.lifecycle.progress import activity_status
from workflows.notify.rules import notifications_for

NOW = b.NOW
JABAR, JATENG = b.INITIATOR, b.REGION
EVIDENCE = [b.doc("evidence")]


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T03:00:00+00:00")  # 10:00 WIB


def in_force(**overrides: Any) -> m.AgreementState:
    return b.implemented(b.planned_proposal(**overrides))


def refused(state: m.AgreementState, actor: m.Actor, command: Any, error: type[L.DomainError], now: datetime = NOW):
    with pytest.raises(error) as info:
        L.decide(state, command, actor, now)
    return info.value


# ---------------------------------------------------------------- what a proposal carries


def test_a_proposal_carries_goals_obligations_and_an_action_plan() -> None:
    state = b.created(b.planned_proposal())
    assert [g.code for g in state.goals] == ["3.8", "3", "RPJMD-3.2"]
    assert [(o.id, o.party, o.status) for o in state.obligations] == [
        ("O1", JABAR, "open"),
        ("O2", JATENG, "open"),
        ("O3", JATENG, "open"),
    ]
    assert [a.id for a in state.activities] == ["A1", "A2"] and state.activities[0].percent == 0


def test_an_agreement_without_a_plan_is_recorded_as_before_plans_existed() -> None:
    event = L.create(b.ksdd_proposal(), b.staff(), NOW, "agr-1")[0]
    assert not {"goals", "obligations", "activities"} & set(event.data)
    assert L.state_plan_hash(b.replay([event])) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"goals": [{"scheme": "sdg", "code": "18"}]}, "goals.0.code"),
        ({"goals": [{"scheme": "sdg", "code": "4.9"}]}, "goals.0.code"),
        ({"goals": [{"scheme": "regional", "code": "RPJMD-1"}]}, "goals.0.text"),
        ({"obligations": [b.obligation("O1", "outsider", "2027-06-30")]}, "obligations.0.party"),
        ({"obligations": [b.obligation("O1", JABAR, "2027-06-30", kind="funds", source=None)]}, "obligations.0.source"),
        ({"obligations": [b.obligation("O1", JABAR, "2031-06-30")]}, "obligations.0.due_on"),
        ({"activities": [b.activity("A1", JABAR, "2027-02-01", "2031-01-01")]}, "activities.0.ends_on"),
        ({"activities": [b.activity("A1", JABAR, "2027-05-01", "2027-02-01")]}, "activities.0.ends_on"),
        (
            {"activities": [b.activity("A1", JABAR, "2027-02-01", "2027-05-01", indicators=["Jalan"])]},
            "activities.0.indicators",
        ),
        ({"activities": [b.activity("A1", "outsider", "2027-02-01", "2027-05-01")]}, "activities.0.party"),
        (
            {"activities": [b.activity("A1", JABAR, "2027-02-01", "2027-05-01", budget=[{"party": "x", "amount": 1}])]},
            "activities.0.budget",
        ),
        (
            {"activities": [b.activity("A1", JABAR, "2027-02-01", "2027-05-01")] * 2},
            "activitys",
        ),
    ],
)
def test_a_plan_that_breaks_a_rule_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(L.InvalidProposal) as info:
        L.create(b.planned_proposal(**change), b.staff(), NOW, "agr-1")
    assert info.value.details["field"] == field


def test_sdg_codes_are_checked_against_the_shipped_goals_and_targets() -> None:
    for code in ("1", "17", "4.1", "17.19", "14.c", "16.10"):
        L.create(b.planned_proposal(goals=[{"scheme": "sdg", "code": code}]), b.staff(), NOW, "agr-1")


def test_an_edit_that_drops_an_owner_from_the_parties_is_refused() -> None:
    state = b.created(b.planned_proposal())
    third = b.party("jatim")
    parties = [state.parties[0], third]
    refused(state, b.staff(), m.Edit(parties=parties), L.InvalidProposal)
    state, _ = b.run(state, b.staff(), m.Edit(obligations=[], activities=[]))
    b.run(state, b.staff(), m.Edit(parties=parties))


# ---------------------------------------------------------------- a signed version binds the plan


def negotiating() -> m.AgreementState:
    return b.advance(b.created(b.planned_proposal()), "penyusunan_ksb")


def test_a_version_binds_the_plan_and_a_plan_edit_asks_for_the_text_again() -> None:
    state, _ = b.run(negotiating(), b.staff(), m.SubmitDraft(document=b.doc(1)))
    assert state.drafts[-1].plan_hash == L.state_plan_hash(state)
    retimed = [b.activity("A1", JABAR, "2027-03-01", "2027-12-31")]
    state, events = b.run(state, b.staff(), m.EditPlan(activities=retimed))
    assert b.types(events) == ["plan_edited"] and state.drafts[-1].accepted_by == []
    error = refused(state, b.partner(JATENG), m.AcceptDraft(version=1), L.InvalidTransition)
    assert "action plan changed" in error.message
    state, _ = b.run(state, b.staff(), m.SubmitDraft(document=b.doc(2)))
    state, _ = b.run(state, b.partner(JATENG), m.AcceptDraft(version=2))
    state = b.advance(state, "implementation")
    signed = {s.version for s in state.signatures}
    assert {d.plan_hash for d in state.drafts if d.version in signed} == {L.state_plan_hash(state)}
    assert state.activities[0].starts_on.isoformat() == "2027-03-01"


def test_an_edit_that_resends_the_plan_as_it_stands_is_judged_on_the_state_as_it_is() -> None:
    """`check_plan_after` does not dump and validate the state again when the edit changes
    nothing (`allowed_actions` asks this of every GET, #11): the state it judges and hashes
    is the one validating the edited state would give, and an edit that does change it
    still goes through validation."""
    draft = b.created(b.planned_proposal())
    state, _ = b.run(negotiating(), b.staff(), m.SubmitDraft(document=b.doc(1)))
    for before, command in (
        (state, m.EditPlan(goals=state.goals)),
        (state, m.EditPlan(goals=state.goals, obligations=state.obligations)),
        (draft, m.Edit(title=draft.title, parties=draft.parties)),
    ):
        changes = command.changes()
        validated = m.AgreementState.model_validate({**before.model_dump(mode="json"), **changes})
        assert check_plan_after(before, changes) == validated == before
        edited, events = b.run(before, b.staff(), command)
        assert edited.version == before.version + 1 and events
    moved = [b.activity("A1", JABAR, "2027-03-01", "2027-12-31")]
    changes = m.EditPlan(activities=moved).changes()
    assert check_plan_after(state, changes).activities[0].starts_on.isoformat() == "2027-03-01"
    not_a_party = m.EditPlan(activities=[b.activity("A1", "jatim", "2027-03-01", "2027-12-31")])
    with pytest.raises(L.InvalidProposal):
        check_plan_after(state, not_a_party.changes())


def test_only_initiating_staff_edit_the_plan_and_only_while_it_is_negotiated() -> None:
    state = negotiating()
    refused(state, b.staff(JATENG), m.EditPlan(goals=[]), L.NotAllowed)
    assert "edit_plan" not in L.allowed_actions(in_force(), b.staff(), NOW)


# ---------------------------------------------------------------- progress, measurements, obligations


def test_the_owner_party_reports_progress_on_its_activity() -> None:
    state = in_force()
    state, events = b.run(state, b.partner(JATENG), m.ReportProgress(activity="A2", percent=20, evidence=EVIDENCE))
    assert b.types(events) == ["progress_reported"] and state.activities[1].percent == 20
    state, _ = b.run(state, b.staff(JATENG), m.ReportProgress(activity="A2", milestone="Desain", note="Selesai"))
    assert state.activities[1].percent == 20 and state.activities[1].progress[-1].milestone == "Desain"
    refused(state, b.staff(), m.ReportProgress(activity="A2", percent=30), L.NotAllowed)
    refused(state, b.signatory(JATENG), m.ReportProgress(activity="A2", percent=30), L.NotAllowed)
    refused(state, b.staff(JATENG), m.ReportProgress(activity="A9", percent=30), L.InvalidProposal)
    refused(state, b.staff(JATENG), m.ReportProgress(activity="A2"), L.InvalidProposal)
    refused(state, b.staff(JATENG), m.ReportProgress(activity="A2", milestone="Panen"), L.InvalidProposal)
    refused(state, b.staff(JATENG), m.ReportProgress(activity="A2", percent=10), L.InvalidProposal)
    state, _ = b.run(state, b.staff(JATENG), m.ReportProgress(activity="A2", percent=10, note="Salah hitung"))
    assert state.activities[1].percent == 10
    assert "report_progress" in L.allowed_actions(state, b.partner(JATENG), NOW)
    assert "report_progress" in L.allowed_actions(state, b.staff(), NOW)  # for A1, its own


def test_progress_is_reported_only_while_the_agreement_is_in_force() -> None:
    refused(negotiating(), b.staff(), m.ReportProgress(activity="A1", percent=5), L.InvalidTransition)


def test_a_party_records_measurements_of_the_agreements_indicators() -> None:
    state, _ = b.run(
        in_force(),
        b.partner(JATENG),
        m.RecordMeasurement(indicator="Puskesmas terhubung", value=12, measured_on="2027-01-04", source="Dinkes"),
    )
    assert [(x.value, x.org) for x in state.measurements] == [(12.0, JATENG)]
    refused(
        state,
        b.staff(),
        m.RecordMeasurement(indicator="Jalan", value=1, measured_on="2027-01-04", source="x"),
        L.InvalidProposal,
    )
    tomorrow = m.RecordMeasurement(indicator="Puskesmas terhubung", value=1, measured_on="2027-01-05", source="x")
    refused(state, b.staff(), tomorrow, L.InvalidProposal)


def test_an_obligation_is_fulfilled_with_evidence_by_its_owner_or_recorded_missed() -> None:
    state = in_force()
    refused(state, b.staff(JATENG), m.SettleObligation(obligation="O2", outcome="fulfilled"), L.InvalidProposal)
    refused(state, b.staff(), m.SettleObligation(obligation="O2", outcome="fulfilled", evidence=EVIDENCE), L.NotAllowed)
    state, _ = b.run(
        state, b.staff(JATENG), m.SettleObligation(obligation="O2", outcome="fulfilled", evidence=EVIDENCE)
    )
    assert state.obligations[1].status == "fulfilled" and state.obligations[1].evidence == EVIDENCE
    refused(
        state, b.staff(JATENG), m.SettleObligation(obligation="O2", outcome="missed", note="x"), L.InvalidTransition
    )
    # the coordinators (initiating staff) record another party's obligation missed, saying why
    refused(state, b.staff(), m.SettleObligation(obligation="O3", outcome="missed"), L.InvalidProposal)
    state, _ = b.run(state, b.staff(), m.SettleObligation(obligation="O3", outcome="missed", note="Tidak ada petugas"))
    assert state.obligations[2].status == "missed"


# ---------------------------------------------------------------- revisions and addenda


def test_a_revision_within_budget_applies_once_every_party_accepts_and_keeps_progress() -> None:
    state, _ = b.run(in_force(), b.staff(), m.ReportProgress(activity="A1", percent=40))
    revised = [
        b.activity("A1", JABAR, "2027-02-01", "2028-03-31"),
        b.activity("A2", JATENG, "2027-09-01", "2028-06-30", budget=[{"party": JATENG, "amount": 20_000_000}]),
        b.activity("A3", JATENG, "2027-09-01", "2027-12-31", budget=[{"party": JATENG, "amount": 30_000_000}]),
    ]
    state, events = b.run(state, b.staff(), m.ProposePlanRevision(summary="Geser jadwal", activities=revised))
    assert b.types(events) == ["plan_revision_proposed"]
    refused(state, b.staff(JATENG), m.ProposePlanRevision(summary="Lagi", activities=revised), L.InvalidTransition)
    assert L.owed_actions(state, b.staff(JATENG), NOW) == ["accept_plan_revision"]
    before = L.state_plan_hash(state)
    state, events = b.run(state, b.partner(JATENG), m.AcceptPlanRevision(revision=1))
    assert b.types(events) == ["plan_revision_accepted", "plan_revision_adopted"]
    assert [a.id for a in state.activities] == ["A1", "A2", "A3"] and state.activities[0].percent == 40
    assert L.state_plan_hash(state) == events[-1].data["plan_hash"] != before


@pytest.mark.parametrize(
    "activities",
    [
        # more spending by a party
        [b.activity("A1", JABAR, "2027-02-01", "2027-12-31", budget=[{"party": JABAR, "amount": 100_000_001}])],
        # an activity under way dropped
        [b.activity("A2", JATENG, "2027-06-01", "2028-06-30", budget=[])],
        # an activity under way handed to another party
        [b.activity("A1", JATENG, "2027-02-01", "2027-12-31", budget=[])],
    ],
)
def test_a_change_beyond_a_revision_needs_an_addendum(activities: list[dict[str, Any]]) -> None:
    state, _ = b.run(in_force(), b.staff(), m.ReportProgress(activity="A1", percent=10))
    error = refused(state, b.staff(), m.ProposePlanRevision(summary="x", activities=activities), L.InvalidProposal)
    assert "needs an addendum" in error.message and error.details["needs_addendum"]


def test_a_revision_can_be_withdrawn_or_declined() -> None:
    plan = [b.activity("A1", JABAR, "2027-03-01", "2027-12-31")]
    state, _ = b.run(in_force(), b.staff(), m.ProposePlanRevision(summary="x", activities=plan))
    state, _ = b.run(state, b.staff(JATENG), m.WithdrawPlanRevision(revision=1, reason="Tidak setuju"))
    assert state.plan_revisions[0].status == "withdrawn" and [a.id for a in state.activities] == ["A1", "A2"]
    refused(state, b.staff(JATENG), m.AcceptPlanRevision(revision=1), L.InvalidTransition)


def test_a_revision_that_would_drop_progress_reported_since_it_was_proposed_is_not_adopted() -> None:
    # Proposed while A2 had no progress; its owner then reports progress on it. Adopting the
    # revision would drop that progress: the acceptance is refused, the plan stays, and the
    # proposer can still withdraw it.
    plan = [b.activity("A1", JABAR, "2027-03-01", "2027-12-31")]
    state, _ = b.run(in_force(), b.staff(), m.ProposePlanRevision(summary="Tanpa A2", activities=plan))
    state, _ = b.run(state, b.staff(JATENG), m.ReportProgress(activity="A2", percent=60))
    error = refused(state, b.partner(JATENG), m.AcceptPlanRevision(revision=1), L.InvalidProposal)
    assert error.details["field"] == "revision" and error.details["needs_addendum"] == [
        "activity A2 has progress on record and cannot be dropped"
    ]
    assert [(a.id, a.percent) for a in state.activities] == [("A1", 0), ("A2", 60)]
    state, events = b.run(state, b.staff(), m.WithdrawPlanRevision(revision=1, reason="Diajukan ulang"))
    assert b.types(events) == ["plan_revision_withdrawn"]


def test_an_addendum_changes_obligations_and_the_plan_once_signed() -> None:
    state, _ = b.run(
        in_force(), b.staff(JATENG), m.SettleObligation(obligation="O2", outcome="fulfilled", evidence=EVIDENCE)
    )
    new_obligations = [
        b.obligation("O2", JATENG, "2027-03-31"),
        b.obligation("O4", JATENG, "2028-06-30", kind="funds", amount=1_000_000, source="other"),
    ]
    bigger = [b.activity("A1", JABAR, "2027-02-01", "2027-12-31", budget=[{"party": JABAR, "amount": 900_000_000}])]
    state, _ = b.run(
        state, b.staff(), m.ProposeAmendment(summary="Tambah dana", obligations=new_obligations, activities=bigger)
    )
    state, _ = b.complete_change(state)
    assert [(o.id, o.status) for o in state.obligations] == [("O2", "fulfilled"), ("O4", "open")]
    assert [a.id for a in state.activities] == ["A1"] and state.amendments[-1].changes["activities"]
    signed = state.signatures[-1]
    assert next(d for d in state.drafts if d.version == signed.version).plan_hash == L.state_plan_hash(state)


# ---------------------------------------------------------------- meetings and action items


def test_a_meeting_is_scheduled_held_and_its_decisions_become_action_items() -> None:
    state = in_force()
    meeting = m.ScheduleMeeting(
        title="Rapat koordinasi", at=at("2027-02-10"), participants=[JABAR, JATENG], agenda=["Progres"]
    )
    refused(state, b.staff(), meeting.model_copy(update={"participants": ["outsider"]}), L.InvalidProposal)
    refused(state, b.staff(), meeting.model_copy(update={"at": NOW - timedelta(hours=1)}), L.InvalidProposal)
    state, events = b.run(state, b.staff(), meeting)
    assert b.types(events) == ["meeting_scheduled"]
    minutes = m.RecordMinutes(
        meeting=1,
        document=b.doc("notulen"),
        decisions=[m.MeetingDecision(text="Kirim data", party=JATENG, due_on="2027-03-01")],
    )
    refused(state, b.staff(), minutes, L.InvalidTransition)  # not held yet
    state, events = b.run(state, b.staff(), minutes, at("2027-02-11"))
    assert [(i.id, i.party) for i in state.action_items] == [("M1-1", JATENG)]
    refused(state, b.staff(), minutes, L.InvalidTransition, at("2027-02-12"))
    assert L.owed_actions(state, b.staff(JATENG), at("2027-02-12")) == ["complete_action_item"]
    refused(state, b.staff(), m.CompleteActionItem(item="M1-1"), L.NotAllowed, at("2027-02-12"))
    state, _ = b.run(state, b.partner(JATENG), m.CompleteActionItem(item="M1-1", note="Terkirim"), at("2027-02-12"))
    assert state.action_items[0].done_at is not None


# ---------------------------------------------------------------- time


def tick_until(state: m.AgreementState, until: datetime) -> tuple[m.AgreementState, list[m.Event]]:
    events: list[m.Event] = []
    while (wake := L.next_wakeup(state)) is not None and wake <= until:
        state, evs = b.run(state, m.SYSTEM, m.Tick(), max(wake, state.updated_at))
        events += evs
    return state, events


def plan_events(events: list[m.Event]) -> list[tuple[str, str, Any]]:
    return [
        (e.data["ref"], e.type, e.data.get("to") or e.data.get("what"))
        for e in events
        if e.type.startswith("implementation_")
    ]


def test_time_reminds_of_starts_and_due_dates_and_escalates_overdue_items_to_the_owner_then_the_coordinators() -> None:
    state, _ = b.run(
        in_force(), b.staff(JATENG), m.SettleObligation(obligation="O2", outcome="fulfilled", evidence=EVIDENCE)
    )
    state, events = tick_until(state, at("2027-07-31"))
    told = plan_events(events)
    assert ("A1", "implementation_reminder", "starts") in told
    assert ("A2", "implementation_reminder", "starts") in told
    assert not [t for t in told if t[0] == "O2"]  # fulfilled before it fell due
    assert [t for t in told if t[0] == "O1"] == [
        ("O1", "implementation_reminder", "due"),
        ("O1", "implementation_reminder", "due"),
        ("O1", "implementation_escalated", "owner"),
        ("O1", "implementation_escalated", "coordinators"),
    ]
    escalation = next(e for e in events if e.type == "implementation_escalated")
    assert escalation.at.astimezone(ZoneInfo("Asia/Jakarta")).hour == 9  # office hours where the owner is
    state, _ = b.run(
        state, b.staff(), m.SettleObligation(obligation="O1", outcome="fulfilled", evidence=EVIDENCE), at("2027-08-02")
    )
    assert not [n for n in L.notices(state) if "obligation:O1" in n.key]


def test_an_imported_agreement_does_not_chase_its_past_on_paper() -> None:
    record = m.ImportRecord(
        ref="PKS/1",
        signed_on="2026-12-20",
        document=b.doc("scan"),
        proposal=b.planned_proposal(start_date="2026-12-20"),
    )
    state = b.replay(L.import_agreement(record, b.operator(), at("2027-08-01"), "agr-imported"))
    assert not [n for n in L.notices(state) if "O1@" in n.key or "O2@" in n.key]
    assert [n for n in L.notices(state) if "A1@" in n.key]  # still running: chased


def imported_with_its_work(**work: Any) -> m.ImportRecord:
    return m.ImportRecord.model_validate(
        {
            "ref": "PKS/1",
            "signed_on": "2026-12-20",
            "document": b.doc("scan"),
            "proposal": b.planned_proposal(start_date="2026-12-20").model_dump(mode="json"),
            **work,
        }
    )


def test_an_imported_plan_carries_what_was_settled_and_done_on_paper_so_its_health_is_true() -> None:
    bare = b.replay(L.import_agreement(imported_with_its_work(), b.operator(), at("2027-08-01"), "agr-imported"))
    before = L.health(bare, at("2027-08-01"))
    assert before is not None and before.status == "off_track"  # O1 and O2 fell due unsettled, A1 at 0%
    record = imported_with_its_work(
        settled=[
            {"obligation": "O1", "outcome": "fulfilled", "settled_on": "2027-06-20"},
            {"obligation": "O2", "outcome": "missed", "settled_on": "2027-04-02", "note": "Data belum tersedia"},
        ],
        progress=[{"activity": "A1", "percent": 60, "note": "Menurut laporan triwulan II"}],
    )
    events = L.import_agreement(record, b.operator(), at("2027-08-01"), "agr-imported")
    assert b.types(events) == [
        "agreement_created",
        "agreement_imported",
        "obligation_settled",
        "obligation_settled",
        "progress_reported",
    ]
    assert {e.version for e in events[1:]} == {1}  # one command: the import
    state = b.replay(events)
    o1, o2, _ = state.obligations
    assert (o1.status, o2.status, o2.note) == ("fulfilled", "missed", "Data belum tersedia")
    assert o1.settled_at == datetime.fromisoformat("2027-06-20T02:00:00+00:00")  # 09:00 WIB, the day on paper
    assert state.activities[0].percent == 60 and state.activities[0].progress[0].at == at("2027-08-01")
    after = L.health(state, at("2027-08-01"))
    assert after is not None and [r.ref for r in after.reasons] == ["O2"]  # only the obligation really missed
    assert not [n for n in L.notices(state) if "O1" in n.key or "O2" in n.key]
    settled = [e for e in events if e.type == "obligation_settled"]
    assert all(notifications_for(e, state) == [] for e in settled)  # history, not news


@pytest.mark.parametrize(
    ("work", "field"),
    [
        ({"settled": [{"obligation": "O9", "outcome": "fulfilled", "settled_on": "2027-06-20"}]}, "settled"),
        ({"settled": [{"obligation": "O1", "outcome": "fulfilled", "settled_on": "2026-12-01"}]}, "settled"),
        ({"settled": [{"obligation": "O1", "outcome": "fulfilled", "settled_on": "2027-08-02"}]}, "settled"),
        ({"settled": [{"obligation": "O2", "outcome": "missed", "settled_on": "2027-04-02"}]}, "settled"),
        ({"progress": [{"activity": "A1", "percent": 10}, {"activity": "A1", "percent": 20}]}, "progress"),
        ({"progress": [{"activity": "O1", "percent": 10}]}, "progress"),
    ],
)
def test_an_import_refuses_work_on_items_the_plan_lacks_outside_the_term_or_without_a_reason(
    work: dict[str, Any], field: str
) -> None:
    with pytest.raises(L.InvalidProposal) as refused:
        L.import_agreement(imported_with_its_work(**work), b.operator(), at("2027-08-01"), "agr-imported")
    assert refused.value.details["field"] == field


# ---------------------------------------------------------------- health and evaluations


def test_health_follows_the_plan_progress_and_measurements() -> None:
    state = in_force()
    assert L.health(b.created(b.planned_proposal()), NOW) is None
    assert L.health(b.implemented(), NOW) is None  # no plan to measure against
    healthy = L.health(state, at("2027-03-01"))
    assert healthy is not None and healthy.status == "on_track"
    late = L.health(state, at("2027-04-20"))  # O2 due 2027-03-31
    assert late is not None and (late.status, [r.ref for r in late.reasons]) == ("at_risk", ["O2"])
    behind = L.health(state, at("2027-08-01"))  # O2 more than 30 days overdue, A1 far behind
    assert behind is not None and behind.status == "off_track"
    assert {r.code for r in behind.reasons} == {"activity_behind", "obligation_overdue"}
    state, _ = b.run(state, b.staff(), m.SettleObligation(obligation="O3", outcome="missed", note="x"))
    missed = L.health(state, at("2027-03-01"))
    assert missed is not None and missed.status == "off_track" and missed.reasons[0].code == "obligation_missed"
    snap = L.snapshot(state, b.staff(), at("2027-03-01"))
    assert snap.health == missed and snap.plan_hash == L.state_plan_hash(state)


def test_an_indicator_far_below_its_pro_rated_target_puts_the_agreement_at_risk() -> None:
    state, _ = b.run(
        in_force(obligations=[], activities=[b.activity("A1", JABAR, "2027-02-01", "2029-12-01")]),
        b.staff(),
        m.ReportProgress(activity="A1", percent=60),
        at("2028-06-01"),
    )
    measure = m.RecordMeasurement(indicator="Puskesmas terhubung", value=10, measured_on="2028-06-01", source="Dinkes")
    state, _ = b.run(state, b.staff(), measure, at("2028-06-01"))
    health = L.health(state, at("2028-06-02"))
    assert health is not None and [r.code for r in health.reasons] == ["indicator_behind"]


def test_the_evaluation_form_is_prefilled_and_its_conclusion_records_achievement_against_plan() -> None:
    state = in_force()
    state, _ = b.run(
        state,
        b.staff(JATENG),
        m.SettleObligation(obligation="O2", outcome="fulfilled", evidence=EVIDENCE),
        at("2027-03-01"),
    )
    state, _ = b.run(state, b.staff(), m.ReportProgress(activity="A1", percent=30), at("2027-06-01"))
    measure = m.RecordMeasurement(indicator="Puskesmas terhubung", value=20, measured_on="2027-06-30", source="Dinkes")
    state, _ = b.run(state, b.staff(), measure, at("2027-07-01"))
    state, _ = tick_until(state, at("2027-07-05"))
    period = L.snapshot(state, b.staff(), at("2027-07-05")).period
    assert period is not None and period.evaluation == 1
    assert period.period_from.isoformat() == "2027-01-04" and period.obligations_fulfilled == ["O2"]
    assert period.obligations_overdue == ["O1"] and [x.value for x in period.measurements] == [20.0]
    a1 = next(r for r in period.activities if r["id"] == "A1")
    assert a1["actual_percent"] == 30 and 40 < a1["planned_percent"] < 60
    for org in (JABAR, JATENG):
        state, _ = b.run(state, b.staff(org), m.SubmitEvaluationReport(evaluation=1, narrative="ok"), at("2027-07-06"))
    state, _ = b.run(
        state, b.staff(), m.ConcludeEvaluation(evaluation=1, score=60, recommendation="continue"), at("2027-07-07")
    )
    achievement = state.evaluations[0].achievement
    assert achievement is not None and achievement.actual_percent == period.actual_percent
    assert achievement.achievement == period.achievement and achievement.obligations_fulfilled == ["O2"]


def test_an_obligation_due_on_the_evaluation_s_opening_day_is_not_yet_overdue_in_its_form() -> None:
    opened, _ = tick_until(in_force(), at("2027-07-05"))
    opening_day = opened.evaluations[0].opened_at.astimezone(ZoneInfo("Asia/Jakarta")).date().isoformat()
    due_then = [b.obligation("O1", JABAR, opening_day), b.obligation("O2", JATENG, "2027-07-01")]
    state, _ = tick_until(in_force(obligations=due_then), at("2027-07-05"))
    period = L.open_period(state)
    assert period is not None and period.period_to.isoformat() == opening_day
    assert period.obligations_overdue == ["O2"], "due that day is due until the office closes, as health says"


def test_the_plan_s_read_shows_each_activity_against_its_schedule_and_the_health() -> None:
    state, _ = b.run(in_force(), b.staff(), m.ReportProgress(activity="A1", percent=10), at("2027-07-01"))
    view = L.action_plan(state, at("2027-07-01"))
    assert [(a.id, a.percent_done, a.percent_planned) for a in view.activities] == [("A1", 10, 45), ("A2", 0, 8)]
    assert (view.term_from.isoformat(), view.plan_hash) == (state.effective_date.isoformat(), L.state_plan_hash(state))
    assert view.health == L.health(state, at("2027-07-01"))
    assert view.health is not None and [(r.code, r.ref) for r in view.health.reasons] == [
        ("obligation_overdue", "O2"),  # off track: due 2027-03-31
        ("obligation_overdue", "O1"),  # at risk: due the day before
        ("activity_behind", "A1"),
    ]
    drafted = L.action_plan(b.created(b.planned_proposal()), NOW)
    assert drafted.health is None and [a.percent_done for a in drafted.activities] == [0, 0]


def plan_runs() -> Iterator[list[m.Event]]:
    """Every event type of the action plan, for tests/decider/test_event_payloads.py."""
    for _state, events in plan_story():
        yield events


def plan_story() -> list[tuple[m.AgreementState, list[m.Event]]]:
    """Two runs that produce every event type of the action plan, each with the state after it."""
    state, first = b.run(negotiating(), b.staff(), m.SubmitDraft(document=b.doc(1)))
    edited, more = b.run(state, b.staff(), m.EditPlan(goals=[]))
    story = [(edited, first + more)]
    state = in_force()
    log: list[m.Event] = []
    commands: list[tuple[m.Actor, Any]] = [
        (b.staff(), m.ReportProgress(activity="A1", percent=10, evidence=EVIDENCE)),
        (
            b.staff(),
            m.RecordMeasurement(indicator="Puskesmas terhubung", value=3, measured_on="2027-01-04", source="x"),
        ),
        (b.staff(JATENG), m.SettleObligation(obligation="O2", outcome="fulfilled", evidence=EVIDENCE)),
        (
            b.staff(),
            m.ProposePlanRevision(summary="x", activities=[b.activity("A1", JABAR, "2027-02-01", "2027-11-30")]),
        ),
        (b.staff(JATENG), m.AcceptPlanRevision(revision=1)),
        (
            b.staff(),
            m.ProposePlanRevision(summary="y", activities=[b.activity("A1", JABAR, "2027-02-01", "2027-10-31")]),
        ),
        (b.staff(), m.WithdrawPlanRevision(revision=2, reason="z")),
        (b.staff(), m.ScheduleMeeting(title="Rapat", at=at("2027-01-20"), participants=[JABAR], agenda=["a"])),
    ]
    for actor, command in commands:
        state, events = b.run(state, actor, command)
        log += events
    decision = m.MeetingDecision(text="t", party=JABAR, due_on="2027-02-01")
    state, events = b.run(
        state, b.staff(), m.RecordMinutes(meeting=1, document=b.doc("n"), decisions=[decision]), at("2027-01-21")
    )
    log += events
    state, events = b.run(state, b.staff(), m.CompleteActionItem(item="M1-1"), at("2027-01-22"))
    log += events
    state, events = tick_until(state, at("2027-08-01"))
    return [*story, (state, log + events)]


def test_an_activity_stands_done_ahead_running_behind_or_overdue_against_its_schedule():
    def activity(percent: int) -> m.ActivityRecord:
        report = m.ProgressReport(org="jabar", percent=percent, reported_by="staff@jabar", at=b.NOW)
        return m.ActivityRecord(
            id="A1",
            name="Survei",
            party="jabar",
            responsible="Bappeda",
            starts_on=date(2027, 1, 1),
            ends_on=date(2027, 12, 31),
            progress=[report],
        )

    assert activity_status(activity(100), date(2028, 6, 1)) == "done"
    assert activity_status(activity(10), date(2026, 12, 1)) == "ahead"
    assert activity_status(activity(40), date(2027, 7, 1)) == "running"  # half the year, 40 %: within 25 points
    assert activity_status(activity(20), date(2027, 7, 1)) == "behind"  # 30 points behind the schedule
    assert activity_status(activity(90), date(2028, 1, 1)) == "overdue"
