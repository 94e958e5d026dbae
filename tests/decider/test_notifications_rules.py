"""`notifications_for(event, state)`: who hears what, per event type (pure: the decider
produces real events, the rules turn them into notifications)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notifying import render
from tests.builders import as_created_before_2026, replay, run
from tests.decider.test_implementation import plan_story
from workflows import lifecycle as L
from workflows import messages as m
from workflows.notify.rules import RULES, SILENT, Audience, endpoint_disabled, notifications_for

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SHA = "a" * 64


def actor(org: str, *roles: str, gates: tuple[str, ...] = ()) -> m.Actor:
    return m.Actor(sub=f"{roles[0]}@{org}", org=org, roles=list(roles), gates=list(gates))


STAFF, PARTNER = actor("jabar", "staff"), actor("jateng", "partner")
APPROVE_JABAR = actor("jabar", "approver", gates=("review", "legal", "dprd", "head"))
APPROVE_JATENG = actor("jateng", "approver", gates=("review", "legal", "dprd", "head"))
MINISTER = actor("kemendagri", "approver", gates=("ministry",))


def party(org: str, role: str = "counterparty", **kw) -> m.Party:
    return m.Party(org=org, role=role, sector=kw.pop("sector", "government"), signatory=f"Head of {org}", **kw)


def ksdd() -> m.AgreementState:
    proposal = m.Proposal(
        title="Pengelolaan sampah regional",
        kind="ksdd",
        objectives="TPPAS bersama.",
        sector="environment",
        parties=[party("jabar", "initiator"), party("jateng")],
        start_date="2027-02-01",
        duration_months=60,
    )
    return replay([as_created_before_2026(e) for e in L.create(proposal, STAFF, NOW, "agr-1")])


def ksdpl() -> m.AgreementState:
    proposal = m.Proposal(
        title="Kesehatan Jabar – WA",
        kind="ksdpl",
        objectives="Tenaga kesehatan.",
        sector="health",
        parties=[party("jabar", "initiator"), party("wa-gov", foreign=True)],
        start_date="2027-02-01",
        duration_months=36,
    )
    return replay([as_created_before_2026(e) for e in L.create(proposal, STAFF, NOW, "agr-2")])


def heard(events: list[m.Event], state: m.AgreementState, type_: str) -> dict[str, str]:
    """audience key -> template, for the events of `type_` in the batch."""
    found = [e for e in events if e.type == type_]
    assert found, f"no {type_} in {[e.type for e in events]}"
    return {n.audience.key: n.template for e in found for n in notifications_for(e, state)}


def to_ksdd_signing() -> tuple[m.AgreementState, list[m.Event]]:
    state, _ = run(ksdd(), STAFF, m.Submit())
    state, _ = run(state, APPROVE_JABAR, m.Decide(gate="review", outcome="approve"))
    state, _ = run(state, APPROVE_JATENG, m.Decide(gate="review", outcome="approve"))
    state, _ = run(state, STAFF, m.SubmitDraft(document=SHA))
    return run(state, PARTNER, m.AcceptDraft(version=1))


def test_submission_tells_every_party_and_opens_a_gate_for_each_region():
    state, events = run(ksdd(), STAFF, m.Submit())
    assert heard(events, state, "agreement_submitted") == {
        "jabar/staff/*": "agreement_submitted",
        "jabar/partner/*": "agreement_submitted",
        "jateng/staff/*": "agreement_submitted",
        "jateng/partner/*": "agreement_submitted",
    }
    # The review gate is owed by each Indonesian government party: each region's approvers.
    assert heard(events, state, "step_entered") == {
        "jabar/approver/review": "gate_opened",
        "jateng/approver/review": "gate_opened",
    }
    gate = next(n for e in events for n in notifications_for(e, state) if n.template == "gate_opened")
    assert gate.data["step"] == "persiapan" and gate.data["gate"] == "review"
    assert gate.data["title"] == "Pengelolaan sampah regional" and gate.data["due_at"]


def test_approval_tells_the_initiator_and_a_negotiation_tells_the_parties():
    state, _ = run(ksdd(), STAFF, m.Submit())
    state, events = run(state, APPROVE_JABAR, m.Decide(gate="review", outcome="approve"))
    assert heard(events, state, "gate_decided") == {"jabar/staff/*": "gate_approved"}
    state, events = run(state, APPROVE_JATENG, m.Decide(gate="review", outcome="approve"))
    assert heard(events, state, "step_entered") == {
        "jabar/staff/*": "negotiation_opened",
        "jabar/partner/*": "negotiation_opened",
        "jateng/staff/*": "negotiation_opened",
        "jateng/partner/*": "negotiation_opened",
    }
    assert notifications_for(next(e for e in events if e.type == "step_completed"), state) == []


def test_a_new_draft_awaits_the_other_parties_and_agreement_opens_signing():
    state, _ = run(ksdd(), STAFF, m.Submit())
    state, _ = run(state, APPROVE_JABAR, m.Decide(gate="review", outcome="approve"))
    state, _ = run(state, APPROVE_JATENG, m.Decide(gate="review", outcome="approve"))
    state, events = run(state, STAFF, m.SubmitDraft(document=SHA, note="v1"))
    assert heard(events, state, "draft_submitted") == {
        "jateng/staff/*": "draft_submitted",
        "jateng/partner/*": "draft_submitted",
    }
    note = notifications_for(events[0], state)[0]
    assert note.data | {"version": 1, "by_org": "jabar", "document_kind": "ksb", "note": "v1"} == note.data

    state, events = run(state, PARTNER, m.AcceptDraft(version=1))
    assert heard(events, state, "draft_accepted") == {"jabar/staff/*": "draft_accepted"}
    assert heard(events, state, "step_entered") == {
        "jabar/signatory/*": "signing_opened",
        "jateng/signatory/*": "signing_opened",
    }


def test_a_signature_tells_the_other_parties_staff():
    state, _ = to_ksdd_signing()
    state, events = run(state, actor("jateng", "signatory"), m.Sign(version=1, method="electronic"))
    assert heard(events, state, "document_signed") == {"jabar/staff/*": "document_signed"}


def test_changes_requested_go_back_to_the_parties_with_the_comment():
    state, _ = to_ksdd_signing()
    state, _ = run(state, actor("jabar", "signatory"), m.Sign(version=1, method="electronic"))
    state, _ = run(state, actor("jateng", "signatory"), m.Sign(version=1, method="electronic"))
    # The DPRD step is skipped (no party needs it); the KSB signed, the PKS is negotiated.
    state, _ = run(state, STAFF, m.SubmitDraft(document="b" * 64))
    state, _ = run(state, PARTNER, m.AcceptDraft(version=2))
    assert L.current_step(state).key == "telaah_hukum"
    state, events = run(
        state, APPROVE_JABAR, m.Decide(gate="legal", outcome="request_changes", comment="Pasal 5 kurang jelas.")
    )
    assert [n for e in events if e.type == "gate_decided" for n in notifications_for(e, state)] == []
    told = heard(events, state, "returned_for_changes")
    assert set(told) == {"jabar/staff/*", "jabar/partner/*", "jateng/staff/*", "jateng/partner/*"}
    note = notifications_for(next(e for e in events if e.type == "returned_for_changes"), state)[0]
    assert note.data["comment"] == "Pasal 5 kurang jelas." and note.data["to_step"] == "penyusunan_pks"


def test_changes_at_the_first_gate_return_the_draft_to_the_initiator():
    state, _ = run(ksdd(), STAFF, m.Submit())
    state, events = run(
        state, APPROVE_JABAR, m.Decide(gate="review", outcome="request_changes", comment="Lengkapi kajian.")
    )
    assert heard(events, state, "returned_to_draft") == {"jabar/staff/*": "returned_to_draft"}


def test_the_ministry_gate_reaches_its_holders_in_any_organisation():
    state, _ = run(ksdpl(), STAFF, m.Submit())
    state, _ = run(state, STAFF, m.SubmitDraft(document=SHA))
    state, _ = run(state, actor("wa-gov", "partner"), m.AcceptDraft(version=1))
    state, _ = run(state, STAFF, m.SubmitDraft(document="b" * 64))
    state, _ = run(state, actor("wa-gov", "partner"), m.AcceptDraft(version=2))
    state, _ = run(state, APPROVE_JABAR, m.Decide(gate="review", outcome="approve"))
    state, _ = run(state, STAFF, m.SubmitDraft(document="c" * 64))
    state, events = run(state, actor("wa-gov", "partner"), m.AcceptDraft(version=3))
    assert L.current_step(state).key == "persetujuan_menteri"
    assert heard(events, state, "step_entered") == {"*/approver/ministry": "gate_opened"}
    audience = Audience(org=None, role="approver", gate="ministry")
    assert audience.matches(org="kemendagri", roles=["approver"], gates=["ministry"])
    assert not audience.matches(org="kemendagri", roles=["approver"], gates=["legal"])


def test_closing_events_tell_everyone_party_to_it():
    everyone = {f"{org}/{role}/*" for org in ("jabar", "jateng") for role in ("staff", "partner", "signatory")}
    state, events = run(ksdd(), STAFF, m.Withdraw(reason="Tidak diprioritaskan."))
    assert set(heard(events, state, "agreement_withdrawn")) == everyone
    assert notifications_for(events[0], state)[0].data["reason"] == "Tidak diprioritaskan."

    state, _ = run(ksdd(), STAFF, m.Submit())
    state, events = run(state, APPROVE_JATENG, m.Decide(gate="review", outcome="reject", comment="Tidak sesuai RPJMD."))
    told = heard(events, state, "agreement_rejected")
    assert set(told) == everyone and set(told.values()) == {"agreement_rejected"}


def test_comments_reach_the_other_parties_staff():
    state, events = run(ksdd(), PARTNER, m.Comment(text="Mohon jadwal rapat."))
    assert heard(events, state, "comment_added") == {"jabar/staff/*": "comment_added"}
    note = notifications_for(events[0], state)[0]
    assert note.data["text"] == "Mohon jadwal rapat." and note.data["by_org"] == "jateng"


def in_implementation() -> tuple[m.AgreementState, list[m.Event]]:
    state, _ = to_ksdd_signing()
    for org in ("jabar", "jateng"):
        state, _ = run(state, actor(org, "signatory"), m.Sign(version=1, method="electronic"))
    state, _ = run(state, STAFF, m.SubmitDraft(document="b" * 64))
    state, _ = run(state, PARTNER, m.AcceptDraft(version=2))
    state, _ = run(state, APPROVE_JABAR, m.Decide(gate="legal", outcome="approve"))
    state, _ = run(state, APPROVE_JATENG, m.Decide(gate="legal", outcome="approve"))
    state, _ = run(state, actor("jabar", "signatory"), m.Sign(version=2, method="electronic"))
    return run(state, actor("jateng", "signatory"), m.Sign(version=2, method="electronic"))


def test_implementation_and_termination():
    state, events = in_implementation()
    assert state.stage == "implementation"
    assert set(heard(events, state, "implementation_started")) == {
        f"{org}/{role}/*" for org in ("jabar", "jateng") for role in ("staff", "partner", "signatory")
    }

    state, events = run(state, STAFF, m.Terminate(reason="Anggaran tidak tersedia."))
    assert heard(events, state, "termination_requested") == {
        "jabar/approver/head": "gate_opened",
        "jateng/approver/head": "gate_opened",  # each head (#10)
        "jabar/staff/*": "termination_requested",
        "jabar/partner/*": "termination_requested",
        "jateng/staff/*": "termination_requested",
        "jateng/partner/*": "termination_requested",
    }
    declined, declined_events = run(state, APPROVE_JABAR, m.Decide(gate="head", outcome="reject", comment="Tetap."))
    assert heard(declined_events, declined, "termination_declined") == {
        "jabar/staff/*": "termination_declined",
        "jateng/staff/*": "termination_declined",
    }
    # The decision itself is not news on top of its outcome.
    assert notifications_for(declined_events[0], declined) == []

    state, _ = run(state, APPROVE_JABAR, m.Decide(gate="head", outcome="approve"))
    state, events = run(state, APPROVE_JATENG, m.Decide(gate="head", outcome="approve"))  # each head (#10)
    assert set(heard(events, state, "agreement_terminated").values()) == {"agreement_terminated"}
    assert notifications_for(events[0], state) == []


def test_silent_and_unknown_events_notify_no_one():
    state = ksdd()
    first = m.Event(
        id="e1", agreement_id="agr-1", seq=1, version=1, type="agreement_created", at=NOW, actor=STAFF, data={}
    )
    assert notifications_for(first, state) == []
    future = first.model_copy(update={"type": "evaluation_reminder_someday"})
    assert notifications_for(future, state) == []
    assert SILENT.isdisjoint(RULES)


def timed(state: m.AgreementState, type_: str, **data) -> dict[str, str]:
    """A time-driven event (as the decider's timers will emit it) on this state."""
    event = m.Event(
        id=f"{type_}-1",
        agreement_id=state.id,
        seq=state.seq + 1,
        version=state.version,
        type=type_,
        at=NOW,
        actor=m.SYSTEM,
        data=data,
    )
    return {n.audience.key: n.template for n in notifications_for(event, state)}


def test_reminders_go_to_whoever_the_agreement_waits_for():
    state, _ = run(ksdd(), STAFF, m.Submit())
    state, _ = run(state, APPROVE_JABAR, m.Decide(gate="review", outcome="approve"))
    # One region decided: only the other's approvers are reminded.
    assert timed(state, "deadline_reminder", due_at="2027-01-18T09:00:00+00:00") == {
        "jateng/approver/review": "reminder_due"
    }
    state, _ = run(state, APPROVE_JATENG, m.Decide(gate="review", outcome="approve"))
    assert set(timed(state, "deadline_reminder")) == {
        "jabar/staff/*",
        "jabar/partner/*",
        "jateng/staff/*",
        "jateng/partner/*",
    }
    state, _ = run(state, STAFF, m.SubmitDraft(document=SHA))
    assert set(timed(state, "deadline_reminder")) == {"jateng/staff/*", "jateng/partner/*"}
    state, _ = run(state, PARTNER, m.AcceptDraft(version=1))
    state, _ = run(state, actor("jabar", "signatory"), m.Sign(version=1, method="electronic"))
    assert timed(state, "deadline_reminder") == {"jateng/signatory/*": "reminder_due"}
    # Escalations reach the coordinators as well as whoever is late.
    assert timed(state, "deadline_escalated") == {
        "jabar/staff/*": "escalated",
        "jabar/approver/review": "escalated",
        "jateng/signatory/*": "escalated",
    }
    assert timed(ksdd(), "deadline_reminder") == {"jabar/staff/*": "reminder_due"}


def test_an_evaluation_asks_every_party_to_report():
    state, _ = in_implementation()
    assert set(timed(state, "evaluation_opened", evaluation=1, due_at="2027-08-01T09:00:00+00:00")) == {
        "jabar/staff/*",
        "jabar/partner/*",
        "jateng/staff/*",
        "jateng/partner/*",
    }
    withdrawn, _ = run(ksdd(), STAFF, m.Withdraw(reason="-"))
    assert timed(withdrawn, "deadline_reminder") == {}


def test_evaluation_reminders_and_escalations_chase_the_missing_reports():
    state, _ = in_implementation()
    in_force = datetime(2027, 2, 1, 3, 0, tzinfo=UTC)  # no evaluation before the effective date (#10)
    state, _ = run(state, STAFF, m.StartEvaluation(), in_force)
    state, _ = run(state, STAFF, m.SubmitEvaluationReport(evaluation=1, narrative="Sesuai rencana."), in_force)
    # jabar reported: only jateng is reminded; the escalation reaches jabar's coordinators too.
    assert timed(state, "evaluation_reminder", evaluation=1, days_before=7) == {
        "jateng/staff/*": "evaluation_reminder",
        "jateng/partner/*": "evaluation_reminder",
    }
    assert timed(state, "evaluation_escalated", evaluation=1) == {
        "jabar/staff/*": "evaluation_escalated",
        "jabar/approver/review": "evaluation_escalated",
        "jateng/staff/*": "evaluation_escalated",
        "jateng/partner/*": "evaluation_escalated",
    }
    assert set(timed(state, "expiry_reminder", end_date="2030-01-01", days_before=90)) == {
        "jabar/staff/*",
        "jateng/staff/*",
    }


@pytest.mark.parametrize("kind", ["ksdd", "ksdpl"])
def test_no_audience_hears_an_event_twice(kind):
    state, events = run(ksdd() if kind == "ksdd" else ksdpl(), STAFF, m.Submit())
    for event in events:
        keys = [n.audience.key for n in notifications_for(event, state)]
        assert len(keys) == len(set(keys))
        assert all(n.event_id == event.id and n.seq == event.seq for n in notifications_for(event, state))


def test_every_template_is_worded_in_both_languages():
    state, events = in_implementation()
    keys = {"webhook_disabled"}
    samples = [n for e in events for n in notifications_for(e, state)]
    due = "2027-08-01T02:00:00+00:00"
    timed_events = [
        ("deadline_reminder", {"due_at": due, "days_before": 7}),
        ("deadline_escalated", {"due_at": due}),
        ("evaluation_opened", {"number": 1, "final": False, "due_at": due}),
        ("evaluation_reminder", {"evaluation": 1, "due_at": due, "days_before": 0}),
        ("evaluation_escalated", {"evaluation": 1}),
        ("evaluation_concluded", {"evaluation": 1, "score": 80, "recommendation": "expand", "summary": "Baik"}),
        ("expiry_reminder", {"end_date": "2030-01-01", "days_before": 30}),
        ("expiry_reminder", {"end_date": "2030-01-01", "days_before": 0}),
        ("change_opened", {"kind": "renewal", "number": 1, "summary": "Tiga tahun lagi"}),
        ("change_completed", {"kind": "renewal", "number": 1, "changes": {"end_date": "2033-01-01"}}),
        ("change_rejected", {"kind": "amendment", "number": 2, "comment": "Belum perlu"}),
    ]
    for type_, data in timed_events:
        event = events[-1].model_copy(update={"type": type_, "data": data})
        found = notifications_for(event, state)
        assert found, type_
        samples += found
    samples.append(
        endpoint_disabled(org="jabar", endpoint_id="ep-1", url="https://x.test/h", event=events[0], reason="HTTP 503")
    )
    keys |= {n.template for n in samples}
    for language in ("id", "en"):
        template = render._environment().get_template(f"{language}.txt")
        templates = {name.removesuffix("_subject") for name in template.blocks if name.endswith("_subject")}
        missing = (set(RULES_TEMPLATES) | keys) - templates
        assert not missing, (language, missing)
        for note in samples:
            out = render.render(note, language=language, name="Siti", public_url="https://pakta.test")
            assert out.subject and "Siti" in out.text and "https://pakta.test/agreements/" in out.html
            assert "{{" not in out.text and "None" not in out.subject


RULES_TEMPLATES = (
    "agreement_submitted",
    "gate_opened",
    "negotiation_opened",
    "signing_opened",
    "gate_approved",
    "changes_requested",
    "returned_to_draft",
    "draft_submitted",
    "draft_accepted",
    "document_signed",
    "implementation_started",
    "comment_added",
    "termination_requested",
    "termination_declined",
    "agreement_rejected",
    "agreement_withdrawn",
    "agreement_terminated",
    "agreement_expired",
    "reminder_due",
    "escalated",
    "evaluation_opened",
    "evaluation_reminder",
    "evaluation_escalated",
    "evaluation_concluded",
    "expiry_reminder",
    "change_opened",
    "change_completed",
    "change_rejected",
    "change_edited",
    "change_withdrawn",
    "change_open_at_end_date",
    "recommendation_deferred",
    "dprd_requirement_set",
    "webhook_disabled",
    "generic",
)


def test_reminders_during_an_amendment_go_to_whoever_its_step_waits_for():
    """Regression: in an amendment's negotiation or legal review, reminders went to the
    signatories (the change phases were read as a signing)."""
    state, _ = in_implementation()
    state, _ = run(state, STAFF, m.ProposeAmendment(summary="Tambah lokasi"))
    assert set(timed(state, "deadline_reminder")) == {
        "jabar/staff/*",
        "jabar/partner/*",
        "jateng/staff/*",
        "jateng/partner/*",
    }
    state, _ = run(state, STAFF, m.SubmitDraft(document=SHA))
    assert set(timed(state, "deadline_reminder")) == {"jateng/staff/*", "jateng/partner/*"}
    state, _ = run(state, PARTNER, m.AcceptDraft(version=state.drafts[-1].version))
    assert timed(state, "deadline_reminder") == {
        "jabar/approver/legal": "reminder_due",
        "jateng/approver/legal": "reminder_due",
    }


def notes_of(events: list[m.Event], state: m.AgreementState, type_: str) -> list:
    return [n for e in events if e.type == type_ for n in notifications_for(e, state)]


def test_an_amendments_steps_are_named_and_its_legal_review_tells_the_legal_bureaus():
    """Issue #10: a change's steps were read from the agreement's own procedure: their
    notifications had no step name, and the addendum's legal review notified nobody."""
    state, _ = in_implementation()
    state, events = run(state, STAFF, m.ProposeAmendment(summary="Tambah lokasi"))
    opened = notes_of(events, state, "step_entered")
    assert {n.audience.key for n in opened} == {f"{o}/{r}/*" for o in ("jabar", "jateng") for r in ("staff", "partner")}
    assert {n.template for n in opened} == {"negotiation_opened"}
    assert opened[0].data["step"] == "penyusunan_adendum" and opened[0].data["step_name"]["id"]
    assert opened[0].data["document"] == "adendum"
    state, _ = run(state, STAFF, m.SubmitDraft(document=SHA))
    state, events = run(state, PARTNER, m.AcceptDraft(version=state.drafts[-1].version))
    review = notes_of(events, state, "step_entered")
    assert {n.audience.key: n.template for n in review} == {
        "jabar/approver/legal": "gate_opened",
        "jateng/approver/legal": "gate_opened",
    }
    assert {n.data["for_org"] for n in review} == {"jabar", "jateng"}
    step = L.step_by_key(state, "telaah_hukum_adendum")
    assert step is not None and review[0].data["step_name"] == {"id": step.name_id, "en": step.name_en}
    state, events = run(state, APPROVE_JABAR, m.Decide(gate="legal", outcome="approve"))
    approved = notes_of(events, state, "gate_decided")
    assert [n.audience.key for n in approved] == ["jabar/staff/*"]
    assert approved[0].data["step_name"]["en"] == step.name_en  # "Approved (legal review):" names the step
    text = render.render(approved[0], language="id", name="Siti", public_url="https://pakta.test").text
    assert f'Tahap "{step.name_id}"' in text and 'Tahap ""' not in text


def test_withdrawn_and_edited_changes_tell_the_parties():
    state, _ = in_implementation()
    state, _ = run(state, STAFF, m.ProposeAmendment(summary="Tambah lokasi"))
    parties_ = {f"{o}/{r}/*" for o in ("jabar", "jateng") for r in ("staff", "partner")}
    assert timed(state, "change_edited", number=1, summary="Tambah dua lokasi", changes={}) == dict.fromkeys(
        parties_, "change_edited"
    )
    state, events = run(state, STAFF, m.WithdrawChange(reason="Belum ada anggaran."))
    assert heard(events, state, "change_withdrawn") == dict.fromkeys(parties_, "change_withdrawn")


def test_deferred_recommendations_and_changes_open_at_the_end_date_tell_the_initiator():
    state, _ = in_implementation()
    state, _ = run(state, STAFF, m.Renew(duration_months=24))
    assert timed(state, "change_open_at_end_date", kind="renewal", number=1, end_date="2032-02-01") == {
        "jabar/staff/*": "change_open_at_end_date"
    }
    assert timed(
        state, "recommendation_deferred", evaluation=1, recommendation="expand", open_change="renewal-1", summary="x"
    ) == {"jabar/staff/*": "recommendation_deferred"}


def test_a_required_dprd_approval_tells_that_partys_dprd_gate_holders():
    facts = {"burdens_public": True, "budgeted_in_apbd": True}
    assert timed(ksdd(), "dprd_requirement_set", org="jateng", facts=facts, required=True, gates=[]) == {
        "jateng/approver/dprd": "dprd_requirement_set"
    }
    assert timed(ksdd(), "dprd_requirement_set", org="jateng", facts=facts, required=False, gates=[]) == {}


def test_an_evaluation_escalated_to_the_head_office_reaches_the_initiators_head():
    state, _ = in_implementation()
    first = timed(state, "evaluation_escalated", evaluation=1, round=1, to="coordinators")
    assert "jabar/approver/head" not in first and first["jabar/approver/review"] == "evaluation_escalated"
    later = timed(state, "evaluation_escalated", evaluation=1, round=2, to="head_office")
    assert later["jabar/approver/head"] == "evaluation_escalated"
    assert "jateng/approver/head" not in later and set(first) < set(later)


def test_new_event_templates_are_worded_in_both_languages():
    state, events = in_implementation()
    samples = []
    for type_, data in [
        ("change_edited", {"number": 1, "summary": "Tambah lokasi", "changes": {}}),
        ("change_withdrawn", {"kind": "amendment", "number": 1, "reason": "Belum perlu"}),
        ("change_open_at_end_date", {"kind": "renewal", "number": 1, "end_date": "2032-02-01", "notice": "n"}),
        (
            "recommendation_deferred",
            {"evaluation": 2, "recommendation": "expand", "open_change": "renewal-1", "summary": "Perluas"},
        ),
        ("dprd_requirement_set", {"org": "jabar", "facts": {}, "required": True, "gates": []}),
        ("evaluation_escalated", {"evaluation": 1, "round": 2, "to": "head_office"}),
        ("agreement_published", {"org": "jateng", "documents": ["0" * 64]}),
        ("agreement_unpublished", {"org": "jateng"}),
    ]:
        found = notifications_for(events[-1].model_copy(update={"type": type_, "data": data}), state)
        assert found, type_
        samples += found
    for language in ("id", "en"):
        template = render._environment().get_template(f"{language}.txt")
        for note in samples:
            assert f"{note.template}_subject" in template.blocks, (language, note.template)
            out = render.render(note, language=language, name="Siti", public_url="https://pakta.test")
            assert out.subject and "Siti" in out.text and "{{" not in out.text and "None" not in out.subject


def test_the_action_plan_tells_owners_invitees_and_then_the_coordinators():
    """Meetings invite their participants, minutes and missed obligations reach the parties,
    reminders reach the owner party and escalations its coordinators in round 2 (#13); every
    template is worded in both languages."""
    samples = []
    for state, events in plan_story():
        for event in events:
            samples += notifications_for(event, state)
    by_template: dict[str, set[str]] = {}
    for note in samples:
        by_template.setdefault(note.template, set()).add(note.audience.key)
    assert by_template["meeting_invitation"] == {"jabar/staff/*", "jabar/partner/*"}
    assert "jabar/staff/*" in by_template["plan_reminder"]
    assert "jabar/approver/review" in by_template["plan_escalated"]  # the coordinators, round 2
    assert by_template["plan_revision_proposed"] == {"jateng/staff/*", "jateng/partner/*"}
    assert {"minutes_recorded", "obligation_fulfilled", "plan_revision_adopted", "plan_revision_withdrawn"} <= set(
        by_template
    )
    for language in ("id", "en"):
        template = render._environment().get_template(f"{language}.txt")
        for note in samples:
            assert f"{note.template}_subject" in template.blocks, (language, note.template)
            out = render.render(note, language=language, name="Siti", public_url="https://pakta.test")
            assert out.subject and "{{" not in out.text and "None" not in out.subject


def test_the_other_parties_staff_hear_when_a_party_publishes_or_takes_it_back():
    state, events = in_implementation()
    for type_, data in (
        ("agreement_published", {"org": "jateng", "documents": []}),
        ("agreement_unpublished", {"org": "jateng"}),
    ):
        told = notifications_for(events[-1].model_copy(update={"type": type_, "data": data}), state)
        assert {n.audience.key: n.template for n in told} == {"jabar/staff/*": type_}
