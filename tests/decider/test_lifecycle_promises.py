"""Issue #10 — the lifecycle keeps its promises: no agreement freezes, falls silent or
leaves legal control (and the access items of issue #9). Each test fails on the decider
before it. Agreements here are created under today's rules (`legacy=False`: procedure
2026.1 where it exists, office-day deadlines) unless a test says otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import builders as b
from tests.builders import run, types
from workflows import lifecycle as L
from workflows import messages as m
from workflows import timeline as t

NOW = b.NOW  # Monday 2027-01-04 09:00 UTC (16:00 WIB)
JABAR, JATENG, ITB = b.INITIATOR, b.REGION, b.THIRD_PARTY
WIB = ZoneInfo("Asia/Jakarta")


def new(prop: m.Proposal | None = None) -> m.AgreementState:
    return b.created(prop or b.ksdd_proposal(), legacy=False)


def in_force(prop: m.Proposal | None = None, now: datetime = NOW) -> m.AgreementState:
    return b.advance(b.created(prop or b.ksdd_proposal(), now=now, legacy=False), "implementation", now)


def refused(
    state: m.AgreementState, actor: m.Actor, command: object, error: type, now: datetime = NOW
) -> L.DomainError:
    with pytest.raises(error) as info:
        L.decide(state, command, actor, now)
    return info.value


def negotiation_stuck_in_a_change(kind: str) -> m.AgreementState:
    """A change whose counterparty never accepts the initiator's draft."""
    state = in_force()
    command = m.ProposeAmendment(summary="Tambah desa") if kind == "amendment" else m.Renew(duration_months=12)
    state, _ = run(state, b.staff(), command)
    state, _ = run(state, b.staff(), m.SubmitDraft(document=b.doc("draft")))
    assert L.phase(state) == "change_negotiation"
    return state


# ================================================================ 1. never freeze


@pytest.mark.parametrize("kind", ["amendment", "renewal"])
def test_initiating_staff_withdraw_an_open_change_with_a_reason(kind: str) -> None:
    state = negotiation_stuck_in_a_change(kind)
    for actor in (b.staff(JATENG), b.partner(JABAR), b.admin()):
        refused(state, actor, m.WithdrawChange(reason="x"), L.NotAllowed)
    assert "withdraw_change" in L.allowed_actions(state, b.staff(), NOW)
    state, events = run(state, b.staff(), m.WithdrawChange(reason="Mitra tidak menanggapi"))
    assert types(events) == ["change_withdrawn"]
    assert events[0].data == {"kind": kind, "number": 1, "reason": "Mitra tidak menanggapi"}
    assert state.change is None and L.phase(state) == "implementation" and "step" not in state.deadlines
    # the agreement moves on: a new change may open
    state, _ = run(state, b.staff(), m.ProposeAmendment(summary="Lagi"))
    assert state.change is not None and state.change.number == 2
    refused(in_force(), b.staff(), m.WithdrawChange(reason="x"), L.InvalidTransition)


def test_termination_stays_possible_while_a_change_is_open() -> None:
    state = negotiation_stuck_in_a_change("renewal")
    state, events = run(state, b.staff(JATENG), m.Terminate(reason="Tidak bermanfaat"))
    assert types(events) == ["termination_requested"] and L.phase(state) == "termination"
    for org in (JABAR, JATENG):
        state, _ = run(state, b.approver(org, "head"), m.Decide(gate="head", outcome="approve"))
    assert state.stage == "terminated" and state.change is None


def test_a_refusal_gives_the_real_reason() -> None:
    state = negotiation_stuck_in_a_change("amendment")
    error = refused(state, b.staff(), m.ProposeAmendment(summary="y"), L.InvalidTransition)
    assert "addendum (amendment 1) is open" in error.message and "in implementation" not in error.message
    error = refused(state, b.staff(), m.Renew(duration_months=6), L.InvalidTransition)
    assert "addendum (amendment 1) is open" in error.message


def concluded_with_expand(state: m.AgreementState) -> tuple[m.AgreementState, list[m.Event], datetime]:
    at = NOW + timedelta(days=40)
    state, _ = run(state, b.staff(), m.StartEvaluation(), at)
    for org in L.party_orgs(state):
        state, _ = run(state, b.partner(org), m.SubmitEvaluationReport(evaluation=1, narrative="Baik"), at)
    state, events = run(
        state,
        b.staff(),
        m.ConcludeEvaluation(
            evaluation=1, score=85, recommendation="expand", summary="Perluas ke 20 desa dan naikkan nilai"
        ),
        at,
    )
    return state, events, at


def test_expand_opens_an_addendum_carrying_the_recommendation_that_staff_fill_in_and_completion_applies() -> None:
    state, events, at = concluded_with_expand(in_force())
    assert types(events)[:2] == ["evaluation_concluded", "change_opened"]
    assert events[1].data["recommendation"] == "Perluas ke 20 desa dan naikkan nilai"
    assert state.change is not None and state.change.recommendation == "Perluas ke 20 desa dan naikkan nilai"
    indicators = [m.Indicator(name="Desa terlayani", target=20, unit="desa")]
    refused(state, b.staff(JATENG), m.EditChange(value=1), L.NotAllowed, at)
    state, events = run(
        state,
        b.staff(),
        m.EditChange(end_date=date(2031, 1, 4), indicators=indicators, value=2_000_000_000, objectives="Diperluas"),
        at,
    )
    assert types(events) == ["change_edited"]
    state, _ = b.complete_change(state, at)
    assert state.change is None and state.amendments[-1].changes["value"] == 2_000_000_000
    assert (state.end_date, state.indicators, state.value, state.objectives) == (
        date(2031, 1, 4),
        indicators,
        2_000_000_000,
        "Diperluas",
    )


def test_a_renewal_is_not_edited() -> None:
    state = negotiation_stuck_in_a_change("renewal")
    refused(state, b.staff(), m.EditChange(value=1), L.InvalidTransition)


def test_expand_while_a_renewal_is_open_is_recorded_not_dropped() -> None:
    state = in_force()
    state, _ = run(state, b.staff(), m.Renew(duration_months=12))
    state, events, _ = concluded_with_expand(state)
    assert types(events) == ["evaluation_concluded", "recommendation_deferred"]
    assert events[1].data == {
        "evaluation": 1,
        "recommendation": "expand",
        "open_change": "renewal-1",
        "summary": "Perluas ke 20 desa dan naikkan nilai",
    }
    assert state.deferred_recommendations == ["evaluation:1 expand (renewal-1 open)"]
    assert state.change is not None and state.change.kind == "renewal"


# ================================================================ 2. monitoring never silent


def test_every_interval_opens_its_evaluation_and_an_unconcluded_one_keeps_escalating() -> None:
    state = in_force(b.ksdpk_proposal())
    evaluations: list[int] = []
    escalations: list[tuple[int, object, object]] = []
    for _ in range(80):  # two years, nobody reports nor concludes anything
        wake = L.next_wakeup(state)
        assert wake is not None
        if wake > datetime(2029, 1, 10, tzinfo=UTC):
            break
        state, events = run(state, m.SYSTEM, m.Tick(), wake)
        evaluations += [e.data["number"] for e in events if e.type == "evaluation_opened"]
        escalations += [
            (e.data["evaluation"], e.data.get("round"), e.data.get("to"))
            for e in events
            if e.type == "evaluation_escalated"
        ]
    assert evaluations == [1, 2, 3, 4]  # every six months, though none was concluded
    first = [(r, to) for n, r, to in escalations if n == 1]
    assert first[:3] == [(1, "coordinators"), (2, "head_office"), (3, "head_office")]
    assert len(first) >= 4  # still escalating after two years
    assert [e.number for e in L.open_evaluations(state)] == [1, 2, 3, 4]


def test_no_evaluation_before_the_effective_date_and_an_extra_one_leaves_the_schedule() -> None:
    later_start = b.ksdpk_proposal(start_date="2028-01-01")
    state = in_force(later_start)
    assert state.effective_date == date(2028, 1, 1)
    error = refused(state, b.staff(), m.StartEvaluation(), L.InvalidTransition)
    assert "effective date" in error.message
    assert "start_evaluation" not in L.allowed_actions(state, b.staff(), NOW)
    at = datetime(2028, 2, 1, 3, tzinfo=UTC)
    state, events = run(state, b.staff(), m.StartEvaluation(), at)
    assert events[0].data["next_evaluation_on"] == "2028-07-01"  # still the scheduled one


def test_a_changes_step_events_name_the_changes_step_and_a_consumer_can_read_its_name() -> None:
    state = in_force()
    state, events = run(state, b.staff(), m.ProposeAmendment(summary="Tambah desa"))
    entered = next(e for e in events if e.type == "step_entered")
    assert entered.data["step"] == "penyusunan_adendum" and entered.data["change"] == 1
    step = L.step_by_key(state, entered.data["step"])
    assert step is not None and (step.name_id, step.name_en) == ("Penyusunan adendum", "Drafting of the addendum")
    # also once the change has closed (a late notification), and for the termination gate
    state, _ = run(state, b.staff(), m.WithdrawChange(reason="x"))
    assert L.step_by_key(state, "telaah_hukum_adendum") is not None
    assert L.step_by_key(state, "pengakhiran") is not None


# ================================================================ 3. office days


def local(moment: datetime) -> datetime:
    return moment.astimezone(WIB)


def test_a_due_date_is_the_end_of_an_office_day_counting_only_days_of_service() -> None:
    friday_before_lebaran = datetime(2027, 3, 5, 2, tzinfo=UTC)  # 09:00 WIB
    state, _ = run(new(b.ksdpk_proposal()), b.staff(), m.Submit(), friday_before_lebaran)
    due = local(state.deadlines["step"])
    assert due.time() == time(16, 0)
    calendar = t.Calendar("Asia/Jakarta", edition=t.edition_at(friday_before_lebaran))
    days = [friday_before_lebaran.date() + timedelta(days=i) for i in range(1, 60)]
    office = [d for d in days if calendar.is_office_day(d)]
    assert due.date() == office[t.STEP_DEADLINE_OFFICE_DAYS["gate"] - 1]
    # the Eid al-Fitr collective leave (cuti bersama) and Good Friday's do not count
    assert date(2027, 3, 9) in t.national_days_off(2027, calendar.edition) and date(2027, 3, 9) not in office
    assert due.date() > date(2027, 3, 19)


def test_a_regions_own_days_off_count_too() -> None:
    plain = b.ksdpk_proposal()
    state, _ = run(new(plain), b.staff(), m.Submit())
    due = local(state.deadlines["step"]).date()
    parties = [p.model_copy(update={"days_off": [due]}) if p.org == JABAR else p for p in plain.parties]
    state, _ = run(new(plain.model_copy(update={"parties": parties})), b.staff(), m.Submit())
    moved = local(state.deadlines["step"]).date()
    assert (
        moved > due
        and t.Calendar("Asia/Jakarta", edition=t.edition_at(state.updated_at)).add_office_days(due, 1) == moved
    )


def test_reminders_and_escalations_never_fall_on_a_day_off() -> None:
    state = in_force(b.ksdpk_proposal())
    calendar = L.notices_calendar(state, L.initiator(state).org)
    seen = 0
    for _ in range(60):
        for notice in L.notices(state):
            assert calendar.is_office_day(local(notice.at).date()), notice
            seen += 1
        wake = L.next_wakeup(state)
        if wake is None or wake.year > 2028:
            break
        state, _ = run(state, m.SYSTEM, m.Tick(), wake)
    assert seen > 50


def test_extending_an_overdue_deadline_counts_from_now() -> None:
    state, _ = run(new(b.ksdpk_proposal()), b.staff(), m.Submit())
    due = state.deadlines["step"]
    late = due + timedelta(days=20)
    state, _events = run(state, b.staff(), m.ExtendDeadline(days=5, reason="Reses"), late)
    new_due = state.deadlines["step"]
    assert new_due > late and local(new_due).time() == time(16, 0)
    assert local(new_due).date() == t.Calendar("Asia/Jakarta", edition=t.edition_at(late)).add_office_days(
        local(late).date(), 5
    )
    assert not [n for n in L.due_notices(state, late) if n.kind == "deadline_escalated"]


def test_agreements_created_before_keep_calendar_days_at_nine() -> None:
    state, _ = run(b.created(b.ksdpk_proposal()), b.staff(), m.Submit())
    assert state.calendar is None and state.deadlines["step"] == t.due_after(NOW, 14, "Asia/Jakarta")


# ================================================================ 4. nobody acts without power


def at_ministry_gate(**overrides: object) -> m.AgreementState:
    return b.advance(b.created(b.ksdpl_proposal(**overrides), legacy=False), "persetujuan_menteri")


def test_only_approvers_of_the_configured_ministry_decide_its_gate_never_a_party() -> None:
    state = at_ministry_gate()
    assert state.ministry_orgs == ["kemendagri"]
    for actor in (
        b.approver(JABAR, "ministry"),
        b.approver(b.FOREIGN_GOV, "ministry"),
        b.approver("kemlu", "ministry"),
        b.approver(b.OUTSIDER, *m.GATES),
    ):
        refused(state, actor, m.Decide(gate="ministry", outcome="approve"), L.NotAllowed)
        assert not L.can_see(state, actor) or actor.org in L.party_orgs(state)
    run(state, b.ministry_approver(), m.Decide(gate="ministry", outcome="approve"))
    configured = at_ministry_gate(ministry_orgs=["kemlu"])
    refused(configured, b.ministry_approver(), m.Decide(gate="ministry", outcome="approve"), L.NotAllowed)
    run(configured, b.approver("kemlu", "ministry"), m.Decide(gate="ministry", outcome="approve"))


def test_the_loser_of_a_race_on_a_gate_is_told_it_was_decided() -> None:
    state = b.advance(new(), "persiapan")
    state, _ = run(state, b.approver(JABAR, "review"), m.Decide(gate="review", outcome="approve"))
    error = refused(
        state,
        b.approver(JABAR, "review", sub="second"),
        m.Decide(gate="review", outcome="reject", comment="no"),
        L.InvalidTransition,
    )
    assert error.status == 409 and "already decided" in error.message


DPRD_REQUEST = m.DprdRequest(
    aims="Pengelolaan sampah",
    object="TPPAS",
    rights_and_duties="Berbagi biaya",
    apbd_contribution=500_000_000,
    benefits="Lingkungan bersih",
    duration_months=36,
    burden="Retribusi",
)


def test_each_government_party_sets_its_own_dprd_requirement_from_the_facts() -> None:
    state = new()
    refused(
        state, b.staff(JABAR), m.SetDprdRequirement(burdens_public=True, budgeted_in_apbd=True), L.InvalidProposal
    )  # the request's content must be on record
    state, events = run(
        state, b.staff(JATENG), m.SetDprdRequirement(burdens_public=False, budgeted_in_apbd=False, request=DPRD_REQUEST)
    )
    assert events[0].data["org"] == JATENG and events[0].data["required"] is True
    assert [p.requires_dprd_approval for p in state.parties] == [False, True]
    for actor in (b.partner(JATENG), b.staff(b.OUTSIDER), b.approver(JATENG, "dprd")):
        refused(state, actor, m.SetDprdRequirement(burdens_public=False, budgeted_in_apbd=True), L.NotAllowed)
    state = b.advance(state, "persetujuan_dprd")
    assert [(s.org, s.status) for s in L.open_slots(state)] == [(JATENG, "pending")]
    refused(
        state, b.staff(JATENG), m.SetDprdRequirement(burdens_public=False, budgeted_in_apbd=True), L.InvalidTransition
    )
    # set after submission but before the gate: the slots follow
    early = b.advance(new(), "penyusunan_ksb")
    early, _ = run(
        early, b.staff(JABAR), m.SetDprdRequirement(burdens_public=True, budgeted_in_apbd=True, request=DPRD_REQUEST)
    )
    assert [(g.org, g.status) for g in early.gates if g.gate == "dprd"] == [(JABAR, "waiting")]
    # a third party has no DPRD
    refused(
        b.advance(new(b.ksdpk_proposal()), "persiapan"),
        b.staff(ITB),
        m.SetDprdRequirement(burdens_public=True, budgeted_in_apbd=True, request=DPRD_REQUEST),
        L.NotAllowed,
    )


def test_any_government_party_asks_to_terminate_each_head_decides_a_refusal_is_on_record() -> None:
    state = in_force()
    state, events = run(state, b.staff(JATENG), m.Terminate(reason="Anggaran habis"))
    assert events[0].data["org"] == JATENG
    assert [(s.org, s.gate) for s in L.open_slots(state)] == [(JABAR, "head"), (JATENG, "head")]
    state, events = run(state, b.approver(JABAR, "head"), m.Decide(gate="head", outcome="approve"))
    assert types(events) == ["gate_decided"] and L.phase(state) == "termination"
    state, events = run(
        state, b.approver(JATENG, "head"), m.Decide(gate="head", outcome="reject", comment="Masih bermanfaat")
    )
    assert types(events) == ["gate_decided", "termination_declined"]
    assert L.phase(state) == "implementation" and L.open_slots(state) == []
    assert [(x.reason, x.org, x.declined) for x in state.declined_terminations] == [
        ("Anggaran habis", JATENG, "Masih bermanfaat")
    ]


def test_an_admin_administers_its_own_organisation_and_an_operator_sees_all() -> None:
    state = in_force()
    refused(state, b.admin(), m.Terminate(reason="x"), L.NotAllowed)
    refused(state, b.admin(b.OUTSIDER), m.Comment(text="x"), L.NotAllowed)
    assert not L.can_see(state, b.admin()) and L.can_see(state, b.admin(JABAR))
    assert L.can_see(state, b.operator())
    refused(state, b.operator(), m.Comment(text="x"), L.NotAllowed)  # sees, acts for no party
    run(state, b.admin(JATENG), m.Terminate(reason="Atas nama Jateng"))
    record = m.ImportRecord(
        ref="PKS/1", signed_on="2026-06-01", document=b.doc("scan"), proposal=b.ksdpk_proposal(start_date="2026-06-01")
    )
    assert L.import_agreement(record, b.operator(), NOW, "agr-op")
    assert L.import_agreement(record, b.admin(JABAR), NOW, "agr-own")
    with pytest.raises(L.NotAllowed):
        L.import_agreement(record, b.admin(), NOW, "agr-other")


# ================================================================ 5. what the regulation asks


def test_delegated_signing_records_the_letter_of_authority() -> None:
    state = b.advance(new(b.ksdpk_proposal()), "penandatanganan_ksb")
    agreed = L.agreed_draft(state, "ksb")
    assert agreed is not None
    letter = b.doc("surat kuasa")
    delegation = m.Delegation(official="Sekretaris Daerah", letter=letter)
    state, events = run(
        state, b.signatory(JABAR), m.Sign(version=agreed.version, method="electronic", delegation=delegation)
    )
    assert events[0].data["delegation"] == {"official": "Sekretaris Daerah", "letter": letter}
    assert events[0].data["signed_by"] == "Sekretaris Daerah"
    assert state.signatures[-1].delegation == delegation
    state, events = run(state, b.signatory(ITB), m.Sign(version=agreed.version, method="electronic"))
    assert "delegation" not in events[0].data  # an undelegated signature records as before


@pytest.mark.parametrize(
    "terms,dprd",
    [({"value": 3_000_000_000}, True), ({"burdens_public": True}, True), ({"objectives": "Lebih luas"}, False)],
)
def test_an_addendum_changing_the_burden_or_the_budget_needs_the_dprd_that_requires_it(
    terms: dict[str, object], dprd: bool
) -> None:
    state = in_force(b.ksdd_proposal(dprd=[JATENG]))
    state, _ = run(state, b.staff(), m.ProposeAmendment(summary="Adendum", **terms))  # type: ignore[arg-type]
    assert state.change is not None and state.change.procedure.version == "2026.1"
    state, events = b.happy_step(state)  # the addendum is agreed
    entered = [e.data["step"] for e in events if e.type == "step_entered"]
    skipped = [e.data["step"] for e in events if e.type == "step_skipped"]
    if dprd:
        assert entered == ["persetujuan_dprd_adendum"]
        assert [s.org for s in L.open_slots(state)] == [JATENG]
    else:
        assert skipped == ["persetujuan_dprd_adendum"] and entered == ["telaah_hukum_adendum"]


# ================================================================ 6. bad input and time


def test_an_amendment_cannot_set_an_end_date_in_the_past() -> None:
    state = in_force()
    later = datetime(2028, 6, 1, 3, tzinfo=UTC)
    error = refused(
        state, b.staff(), m.ProposeAmendment(summary="x", end_date=date(2028, 5, 1)), L.InvalidProposal, later
    )
    assert error.details["field"] == "end_date"


def test_a_renewal_is_refused_after_the_end_date() -> None:
    state = in_force()
    assert state.end_date is not None
    after = datetime.combine(state.end_date + timedelta(days=3), time(3), UTC)
    refused(state, b.staff(), m.Renew(duration_months=12), L.InvalidTransition, after)


def test_a_renewal_still_open_at_the_end_date_is_told_and_lapses_on_record() -> None:
    state = in_force(b.ksdpk_proposal(duration_months=12))
    state, _ = run(state, b.staff(), m.Renew(duration_months=12))
    told: list[m.Event] = []
    for _ in range(60):
        wake = L.next_wakeup(state)
        if wake is None or state.stage in m.TERMINAL_STAGES:
            break
        state, events = run(state, m.SYSTEM, m.Tick(), wake)
        told += [e for e in events if e.type in ("change_open_at_end_date", "agreement_expired")]
    assert [e.type for e in told] == ["change_open_at_end_date", "agreement_expired"]
    assert told[0].data["kind"] == "renewal" and told[1].data["open_change"] == "renewal-1"


def test_a_term_beyond_the_last_date_is_refused_naming_the_field() -> None:
    far = b.ksdpk_proposal(start_date="2100-01-01", duration_months=600)
    with pytest.raises(L.InvalidProposal) as info:
        L.create(far, b.staff(), NOW, "agr-far")
    assert info.value.details["field"] == "duration_months"
    state = new(b.ksdpk_proposal(start_date="2100-01-01", duration_months=11))
    refused(state, b.staff(), m.Edit(duration_months=600), L.InvalidProposal)
    assert L.allowed_actions(state, b.staff(), NOW)  # no crash


def test_time_never_runs_backwards_in_the_decider() -> None:
    state, _ = run(new(), b.staff(), m.Submit(), NOW + timedelta(days=1))
    error = refused(state, b.staff(), m.Comment(text="x"), L.InvalidTransition, NOW)
    assert "backwards" in error.message
    with pytest.raises(L.InvalidProposal):
        L.decide(state, m.Comment(text="x"), b.staff(), datetime(2027, 3, 1, 9, 0))
    with pytest.raises(L.InvalidProposal):
        L.create(b.ksdd_proposal(), b.staff(), datetime(2027, 3, 1, 9, 0), "agr-naive")
