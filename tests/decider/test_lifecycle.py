"""The decider, rule by rule: creation, negotiation, signing, gates, withdrawal,
termination, comments, optimistic concurrency, versions and events, visibility."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pydantic
import pytest

from tests import builders as b
from tests.builders import NOW, admin, approver, auditor, partner, run, signatory, staff, submitted, types
from workflows import lifecycle as L
from workflows import messages as m
from workflows import timeline as t

JABAR, JATENG, JATIM = "jabar", "jateng", "jatim"


def refused(
    state: m.AgreementState,
    actor: m.Actor,
    command: object,
    error: type[L.DomainError],
    now: datetime = NOW,
    expected_version: int | None = None,
) -> L.DomainError:
    """Assert `decide` refuses with `error`, leaves the state alone and says where it stands."""
    before = state.model_dump()
    with pytest.raises(error) as info:
        L.decide(state, command, actor, now, expected_version)
    assert type(info.value) is error
    assert state.model_dump() == before, "decide must not touch the state it is given"
    details = info.value.details
    assert details["stage"] == state.stage
    assert details["allowed_actions"] == L.allowed_actions(state, actor, now)
    return info.value


def sign_all(state: m.AgreementState, version: int, now: datetime = NOW) -> tuple[m.AgreementState, list[m.Event]]:
    events: list[m.Event] = []
    for org in L.party_orgs(state):
        state, evs = run(state, signatory(org), m.Sign(version=version, method="electronic"), now)
        events += evs
    return state, events


def latest(state: m.AgreementState) -> m.Draft:
    step = L.current_step(state)
    assert step is not None and step.document is not None
    draft = L.latest_draft(state, step.document)
    assert draft is not None
    return draft


def slot(state: m.AgreementState, step: str, org: str | None) -> m.GateSlot:
    return next(g for g in state.gates if g.step == step and g.org == org)


# ================================================================ creation


def test_error_statuses_follow_the_api() -> None:
    assert (L.InvalidTransition.status, L.NotAllowed.status, L.StaleVersion.status, L.InvalidProposal.status) == (
        409,
        403,
        412,
        422,
    )
    assert all(
        issubclass(e, L.DomainError) for e in (L.InvalidTransition, L.NotAllowed, L.StaleVersion, L.InvalidProposal)
    )


@pytest.mark.parametrize("kind", b.KINDS)
def test_create_starts_a_draft(kind: str) -> None:
    prop = b.proposal_for(kind)
    events = L.create(prop, staff(), NOW, "agr-7", fingerprint="fp")
    assert types(events) == ["agreement_created"]
    event = events[0]
    assert (event.seq, event.version, event.agreement_id, event.at) == (1, 1, "agr-7", NOW)
    assert event.id == str(uuid.uuid5(L.EVENT_NAMESPACE, "agr-7/1"))
    state = b.replay(events)
    assert (state.stage, state.version, state.seq, state.step_index) == ("draft", 1, 1, None)
    assert state.parties == prop.parties and state.title == prop.title
    assert state.created_by == "staff@jabar" and state.request_fingerprint == "fp"
    assert state.gates == [] and state.drafts == [] and state.signatures == []


def test_admin_may_create() -> None:
    """The administrator of the initiating organisation (issue #9: of its own only)."""
    assert b.created(b.ksdd_proposal(), actor=admin(JABAR)).stage == "draft"
    with pytest.raises(L.NotAllowed):
        b.created(b.ksdd_proposal(), actor=admin())


@pytest.mark.parametrize(
    "actor",
    [
        staff(JATENG),
        partner(JABAR),
        signatory(JABAR),
        approver(JABAR, "review", "head"),
        auditor(),
        staff("outsider"),
        m.Actor(sub="x", org=JABAR, roles=[]),
    ],
    ids=lambda a: a.sub,
)
def test_only_initiator_staff_create(actor: m.Actor) -> None:
    with pytest.raises(L.NotAllowed):
        L.create(b.ksdd_proposal(), actor, NOW, "agr-1")


GOV, FOREIGN_GOV = dict(sector="government"), dict(sector="government", foreign=True)
ACADEMIA, FOREIGN_INDUSTRY = dict(sector="academia"), dict(sector="industry", foreign=True)


@pytest.mark.parametrize(
    "kind,counterparty,ok",
    [
        ("ksdd", GOV, True),
        ("ksdd", ACADEMIA, False),
        ("ksdd", FOREIGN_GOV, False),
        ("ksdd", FOREIGN_INDUSTRY, False),
        ("ksdpk", ACADEMIA, True),
        ("ksdpk", dict(sector="industry"), True),
        ("ksdpk", dict(sector="community"), True),
        ("ksdpk", dict(sector="media"), True),
        ("ksdpk", GOV, False),
        ("ksdpk", FOREIGN_INDUSTRY, False),
        ("ksdpk", FOREIGN_GOV, False),
        ("ksdpl", FOREIGN_GOV, True),
        ("ksdpl", GOV, False),
        ("ksdpl", FOREIGN_INDUSTRY, False),
        ("ksdpl", ACADEMIA, False),
        ("ksdll", FOREIGN_INDUSTRY, True),
        ("ksdll", dict(sector="academia", foreign=True), True),
        ("ksdll", FOREIGN_GOV, False),
        ("ksdll", ACADEMIA, False),
        ("ksdll", GOV, False),
    ],
)
def test_party_rules_per_kind(kind: str, counterparty: dict, ok: bool) -> None:
    prop = b.proposal([b.party(JABAR, "initiator"), b.party("other", **counterparty)], kind)
    if ok:
        assert b.created(prop).kind == kind
    else:
        with pytest.raises(L.InvalidProposal) as info:
            L.create(prop, staff(), NOW, "agr-1")
        assert info.value.details["kind"] == kind


@pytest.mark.parametrize("kind", b.KINDS)
def test_every_counterparty_obeys_the_kind(kind: str) -> None:
    good = b.proposal_for(kind).parties
    bad = b.party("jatim") if kind != "ksdd" else b.party("unpad", sector="academia")
    with pytest.raises(L.InvalidProposal):
        L.create(b.proposal([*good, bad], kind), staff(), NOW, "agr-1")


@pytest.mark.parametrize(
    "initiating",
    [
        b.party(JABAR, "initiator", sector="academia"),
        b.party(JABAR, "initiator", foreign=True),
        b.party(JABAR, "initiator", sector="industry", foreign=True),
    ],
    ids=["non-government", "foreign", "foreign-industry"],
)
def test_initiator_is_an_indonesian_region(initiating: m.Party) -> None:
    with pytest.raises(L.InvalidProposal):
        L.create(b.proposal([initiating, b.party(JATENG)], "ksdd"), staff(), NOW, "agr-1")


@pytest.mark.parametrize(
    "parties,message",
    [
        ([b.party(JABAR, "initiator"), b.party(JATENG, "initiator")], "exactly one"),
        ([b.party(JABAR), b.party(JATENG)], "exactly one"),
        ([b.party(JABAR, "initiator"), b.party(JABAR)], "once"),
        ([b.party(JABAR, "initiator"), b.party(JATENG), b.party(JATENG)], "once"),
    ],
    ids=["two-initiators", "no-initiator", "initiator-twice", "counterparty-twice"],
)
def test_one_initiator_and_unique_orgs(parties: list[m.Party], message: str) -> None:
    with pytest.raises(L.InvalidProposal, match=message):
        L.create(b.proposal(parties, "ksdd"), staff(), NOW, "agr-1")


@pytest.mark.parametrize(
    "kind,counterparty",
    [
        ("ksdpk", b.party("itb", sector="academia", dprd=True)),
        ("ksdpl", b.party("wa-state", foreign=True, dprd=True)),
        ("ksdll", b.party("jica", sector="industry", foreign=True, dprd=True)),
    ],
)
def test_dprd_only_for_indonesian_government_parties(kind: str, counterparty: m.Party) -> None:
    with pytest.raises(L.InvalidProposal, match="DPRD"):
        L.create(b.proposal([b.party(JABAR, "initiator"), counterparty], kind), staff(), NOW, "agr-1")
    # the region itself may need its DPRD's approval
    assert b.created(b.proposal_for(kind, dprd=True)).parties[0].requires_dprd_approval


def test_proposal_shape_is_validated_by_the_model() -> None:
    with pytest.raises(pydantic.ValidationError):
        b.proposal([b.party(JABAR, "initiator")], "ksdd")  # fewer than two parties
    with pytest.raises(pydantic.ValidationError):
        b.proposal(b.ksdd_proposal().parties, "kslain")  # unknown kind
    with pytest.raises(pydantic.ValidationError):
        b.party("Not An Org!")


# ================================================================ draft: edit, submit


def test_initiator_staff_edit_in_draft() -> None:
    state = b.created()
    state, events = run(state, staff(), m.Edit(title="Kerja sama air bersih", duration_months=12))
    assert types(events) == ["proposal_edited"]
    assert events[0].data["changes"] == {"title": "Kerja sama air bersih", "duration_months": 12}
    assert (state.title, state.duration_months, state.version) == ("Kerja sama air bersih", 12, 2)
    state, _ = run(state, admin(JABAR), m.Edit(start_date=date(2028, 1, 1)))
    assert state.start_date == date(2028, 1, 1)


@pytest.mark.parametrize(
    "actor",
    [staff(JATENG), partner(JABAR), approver(JABAR, "review"), signatory(JABAR), staff("outsider")],
    ids=lambda a: a.sub,
)
def test_only_initiator_staff_edit(actor: m.Actor) -> None:
    refused(b.created(), actor, m.Edit(title="Judul lain"), L.NotAllowed)


def test_edit_changes_something() -> None:
    refused(b.created(), staff(), m.Edit(), L.InvalidProposal)


def test_edited_parties_obey_the_rules() -> None:
    state = b.created()
    academia = [b.party(JABAR, "initiator"), b.party("itb", sector="academia")]
    refused(state, staff(), m.Edit(parties=academia), L.InvalidProposal)
    moved = [b.party(JATENG, "initiator"), b.party(JABAR)]
    refused(state, staff(), m.Edit(parties=moved), L.InvalidProposal)
    dprd_abroad = [b.party(JABAR, "initiator"), b.party(JATENG, foreign=True, dprd=True)]
    refused(state, staff(), m.Edit(parties=dprd_abroad), L.InvalidProposal)
    # a valid change of parties is taken, and the gates follow it at submission
    three = [b.party(JABAR, "initiator"), b.party(JATENG), b.party(JATIM, dprd=True)]
    state, _ = run(state, staff(), m.Edit(parties=three))
    assert L.party_orgs(state) == [JABAR, JATENG, JATIM]
    state, _ = run(state, staff(), m.Submit())
    assert [(g.step, g.org) for g in state.gates if g.gate == "dprd"] == [("persetujuan_dprd", JATIM)]


def test_edit_only_in_draft() -> None:
    refused(submitted(), staff(), m.Edit(title="Terlambat"), L.InvalidTransition)
    refused(b.implemented(), staff(), m.Edit(title="Terlambat"), L.InvalidTransition)


def test_submit_enters_the_first_step() -> None:
    state, events = run(b.created(b.ksdd_proposal()), staff(), m.Submit())
    assert types(events) == ["agreement_submitted", "step_entered"]
    # Deadlines fall at office hours in the initiator's zone (09:00 WIB = 02:00 UTC).
    due = t.due_after(NOW, 14, "Asia/Jakarta")
    assert due == datetime(2027, 1, 18, 2, tzinfo=UTC)
    assert events[1].data == {
        "step": "persiapan",
        "index": 0,
        "stage": "review",
        "change": None,
        "due_at": due.isoformat(),
    }
    assert (state.stage, state.step_index, state.version) == ("review", 0, 2)
    assert state.deadlines == {"step": due}
    assert [g.status for g in state.gates if g.step == "persiapan"] == ["pending", "pending"]
    assert [g.status for g in state.gates if g.step != "persiapan"] == ["waiting", "waiting"]

    foreign, _ = run(b.created(b.ksdpl_proposal()), staff(), m.Submit())
    assert (foreign.stage, b.step_key(foreign)) == ("negotiation", "pernyataan_kehendak")
    assert foreign.deadlines == {"step": t.due_after(NOW, 90, "Asia/Jakarta")}


@pytest.mark.parametrize("actor", [staff(JATENG), partner(JABAR), approver(JABAR, "review")], ids=lambda a: a.sub)
def test_only_initiator_staff_submit(actor: m.Actor) -> None:
    refused(b.created(), actor, m.Submit(), L.NotAllowed)


def test_submit_only_from_draft() -> None:
    refused(submitted(), staff(), m.Submit(), L.InvalidTransition)


# ================================================================ negotiation


def negotiating(kind: str = "ksdpl", **kw: object) -> m.AgreementState:
    return (
        submitted(b.proposal_for(kind, **kw))
        if kind != "ksdd"
        else b.advance(b.created(b.ksdd_proposal(**kw)), "penyusunan_ksb")
    )


def test_submitting_party_accepts_its_version_implicitly() -> None:
    state, events = run(negotiating(), staff(), m.SubmitDraft(document=b.doc("loi-1"), note="awal"))
    assert types(events) == ["draft_submitted"]
    assert events[0].data == {
        "version": 1,
        "kind": "loi",
        "document": b.doc("loi-1"),
        "note": "awal",
        "org": JABAR,
        "scope": "",
    }
    draft = state.drafts[0]
    assert (draft.version, draft.kind, draft.accepted_by, draft.submitted_by, draft.org) == (
        1,
        "loi",
        [JABAR],
        "staff@jabar",
        JABAR,
    )
    assert b.step_key(state) == "pernyataan_kehendak"


def test_step_completes_when_every_party_accepts_the_latest() -> None:
    state, _ = run(negotiating(), staff(), m.SubmitDraft(document=b.doc("loi-1")))
    state, events = run(state, partner("wa-state"), m.AcceptDraft(version=1))
    assert types(events) == ["draft_accepted", "step_completed", "step_entered"]
    assert events[1].data == {"step": "pernyataan_kehendak", "version": 1}
    assert b.step_key(state) == "rencana_kerja_sama"
    assert state.drafts[0].accepted_by == [JABAR, "wa-state"]


def test_versions_are_numbered_across_documents() -> None:
    state = negotiating()
    state, _ = run(state, partner("wa-state"), m.SubmitDraft(document=b.doc("loi-1")))
    state, _ = run(state, staff(), m.SubmitDraft(document=b.doc("loi-2")))
    state, _ = run(state, partner("wa-state"), m.AcceptDraft(version=2))
    assert b.step_key(state) == "rencana_kerja_sama"
    state, events = run(state, staff(), m.SubmitDraft(document=b.doc("plan-1")))
    assert events[0].data["version"] == 3 and events[0].data["kind"] == "plan"
    # accepting the letter of intent again, or a version that does not exist, is refused
    refused(state, partner("wa-state"), m.AcceptDraft(version=2), L.InvalidTransition)
    error = refused(state, partner("wa-state"), m.AcceptDraft(version=4), L.InvalidTransition)
    assert error.details["latest_version"] == 3


def test_new_version_clears_earlier_acceptances() -> None:
    state = negotiating("ksdd", counterparties=(JATENG, JATIM))
    state, _ = run(state, staff(), m.SubmitDraft(document=b.doc("ksb-1")))
    state, _ = run(state, partner(JATENG), m.AcceptDraft(version=1))
    assert state.drafts[-1].accepted_by == [JABAR, JATENG]
    state, _ = run(state, partner(JATIM), m.SubmitDraft(document=b.doc("ksb-2")))
    assert state.drafts[-1].accepted_by == [JATIM]
    assert L.agreed_draft(state, "ksb") is None
    # only the latest version can be accepted
    error = refused(state, staff(), m.AcceptDraft(version=1), L.InvalidTransition)
    assert error.details["latest_version"] == 2
    state, _ = run(state, staff(), m.AcceptDraft(version=2))
    assert b.step_key(state) == "penyusunan_ksb"
    state, events = run(state, staff(JATENG), m.AcceptDraft(version=2))
    assert "step_completed" in types(events) and b.step_key(state) == "penandatanganan_ksb"


def test_same_document_twice_is_refused() -> None:
    state, _ = run(negotiating(), staff(), m.SubmitDraft(document=b.doc("loi-1")))
    error = refused(state, partner("wa-state"), m.SubmitDraft(document=b.doc("loi-1")), L.InvalidTransition)
    assert error.details["version"] == 1


def test_accepting_twice_or_before_any_draft_is_refused() -> None:
    state = negotiating("ksdd", counterparties=(JATENG, JATIM))
    refused(state, partner(JATENG), m.AcceptDraft(version=1), L.InvalidTransition)
    state, _ = run(state, staff(), m.SubmitDraft(document=b.doc("ksb-1")))
    refused(state, staff(), m.AcceptDraft(version=1), L.InvalidTransition)  # own version
    state, _ = run(state, partner(JATENG), m.AcceptDraft(version=1))
    refused(state, staff(JATENG), m.AcceptDraft(version=1), L.InvalidTransition)


@pytest.mark.parametrize(
    "actor",
    [
        partner("outsider"),
        staff("outsider"),
        signatory("wa-state"),
        approver("wa-state", "review"),
        approver(JABAR, "review", "dprd", "legal", "head"),
        admin(),
        auditor(),
        b.ministry_approver(),
    ],
    ids=lambda a: a.sub,
)
def test_only_staff_and_partners_of_parties_negotiate(actor: m.Actor) -> None:
    state = negotiating()
    refused(state, actor, m.SubmitDraft(document=b.doc("x")), L.NotAllowed)
    state, _ = run(state, staff(), m.SubmitDraft(document=b.doc("loi-1")))
    refused(state, actor, m.AcceptDraft(version=1), L.NotAllowed)


def test_counterparty_staff_and_partners_negotiate() -> None:
    state, _ = run(negotiating(), staff("wa-state"), m.SubmitDraft(document=b.doc("loi-1")))
    assert state.drafts[-1].accepted_by == ["wa-state"]
    state, _ = run(state, partner(JABAR), m.AcceptDraft(version=1))
    assert b.step_key(state) == "rencana_kerja_sama"


@pytest.mark.parametrize(
    "command", [m.SubmitDraft(document=b.doc("x")), m.AcceptDraft(version=1)], ids=lambda c: c.type
)
def test_negotiation_commands_only_in_negotiation(command: object) -> None:
    for state in (
        b.created(),
        submitted(b.ksdd_proposal()),
        b.advance(b.created(), "penandatanganan_ksb"),
        b.implemented(),
    ):
        refused(state, staff(), command, L.InvalidTransition)


# ================================================================ signing


def signing(kind: str = "ksdpl") -> m.AgreementState:
    step = "penandatanganan" if kind in ("ksdpl", "ksdll") else "penandatanganan_ksb"
    return b.advance(b.created(b.proposal_for(kind)), step)


def test_signatories_sign_the_agreed_version() -> None:
    state = signing()
    agreed = L.agreed_draft(state, "pks")
    assert agreed is not None
    state, events = run(state, signatory(JABAR), m.Sign(version=agreed.version, method="electronic"))
    assert types(events) == ["document_signed"]
    assert events[0].data == {
        "org": JABAR,
        "version": agreed.version,
        "kind": "pks",
        "document": agreed.document,
        "signed_by": "Head of jabar",
        "method": "electronic",
        "evidence": None,
        "scope": "",
    }
    assert state.stage == "signing"
    state, events = run(
        state,
        signatory("wa-state", sub="u"),
        m.Sign(version=agreed.version, method="wet_ink", evidence=b.doc("scan"), signed_by="Governor Jane Doe"),
    )
    assert types(events) == ["document_signed", "step_completed", "implementation_started"]
    assert [(s.org, s.method, s.evidence, s.signed_by, s.document) for s in state.signatures] == [
        (JABAR, "electronic", None, "Head of jabar", agreed.document),
        ("wa-state", "wet_ink", b.doc("scan"), "Governor Jane Doe", agreed.document),
    ]


@pytest.mark.parametrize(
    "actor",
    [staff(JABAR), partner("wa-state"), approver(JABAR, "head"), signatory("outsider"), admin(), b.ministry_approver()],
    ids=lambda a: a.sub,
)
def test_only_a_partys_signatory_signs(actor: m.Actor) -> None:
    state = signing()
    refused(state, actor, m.Sign(version=L.agreed_draft(state, "pks").version, method="electronic"), L.NotAllowed)


def test_only_the_agreed_version_is_signed() -> None:
    state = signing()
    agreed = L.agreed_draft(state, "pks").version
    for version in (1, agreed + 1, 99):
        error = refused(state, signatory(JABAR), m.Sign(version=version, method="electronic"), L.InvalidTransition)
        assert error.details["agreed_version"] == agreed


def test_wet_ink_needs_evidence() -> None:
    state = signing()
    version = L.agreed_draft(state, "pks").version
    refused(state, signatory(JABAR), m.Sign(version=version, method="wet_ink"), L.InvalidProposal)
    state, _ = run(state, signatory(JABAR), m.Sign(version=version, method="wet_ink", evidence=b.doc("scan")))
    assert state.signatures[0].evidence == b.doc("scan")


def test_signing_twice_is_refused() -> None:
    state = signing()
    version = L.agreed_draft(state, "pks").version
    state, _ = run(state, signatory(JABAR), m.Sign(version=version, method="electronic"))
    refused(state, signatory(JABAR, sub="another"), m.Sign(version=version, method="electronic"), L.InvalidTransition)


def test_ksb_signed_leads_to_the_next_step() -> None:
    state = signing("ksdd")
    state, events = sign_all(state, L.agreed_draft(state, "ksb").version)
    assert types(events)[-3:] == ["step_completed", "step_skipped", "step_entered"]
    assert b.step_key(state) == "penyusunan_pks"
    dprd = b.advance(b.created(b.ksdd_proposal(dprd=True)), "penandatanganan_ksb")
    dprd, _ = sign_all(dprd, L.agreed_draft(dprd, "ksb").version)
    assert (dprd.stage, b.step_key(dprd)) == ("approval", "persetujuan_dprd")


def test_implementation_dates() -> None:
    # started on time: effective on the start date, ending after the term
    early = NOW.replace(year=2026, month=12, day=1)
    state = b.advance(b.created(b.ksdpl_proposal(), now=early), "penandatanganan", now=early)
    state, events = sign_all(state, L.agreed_draft(state, "pks").version, now=early)
    assert events[-1].type == "implementation_started"
    assert events[-1].data == {
        "effective_date": "2027-01-01",
        "end_date": "2030-01-01",
        "next_evaluation_on": "2027-07-01",
    }
    assert (state.stage, state.step_index, state.deadlines) == ("implementation", None, {})
    assert (state.effective_date, state.end_date) == (date(2027, 1, 1), date(2030, 1, 1))
    # signed late: effective on the day of the last signature
    late = datetime(2027, 3, 15, 10, tzinfo=UTC)
    state = b.advance(
        b.created(b.ksdpl_proposal(duration_months=1, start_date="2027-01-31"), now=late), "penandatanganan", now=late
    )
    state, _ = sign_all(state, L.agreed_draft(state, "pks").version, now=late)
    assert (state.effective_date, state.end_date) == (date(2027, 3, 15), date(2027, 4, 15))


def test_end_date_clamps_to_the_month() -> None:
    assert t.add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert t.add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert t.add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert t.add_months(date(2027, 1, 1), 600) == date(2077, 1, 1)


@pytest.mark.parametrize("kind", b.KINDS)
def test_in_implementation_every_party_signed_the_final_text(kind: str) -> None:
    state = b.implemented(b.proposal_for(kind, dprd=True))
    final = L.agreed_draft(state, "pks")
    assert final is not None
    assert {(s.org, s.document) for s in state.signatures if s.version == final.version} == {
        (org, final.document) for org in L.party_orgs(state)
    }


# ================================================================ gates


def test_each_region_decides_its_own_slot() -> None:
    state = submitted(b.ksdd_proposal())
    state, events = run(state, approver(JABAR, "review"), m.Decide(gate="review", outcome="approve"))
    assert types(events) == ["gate_decided"]
    assert events[0].data == {
        "step": "persiapan",
        "gate": "review",
        "org": JABAR,
        "outcome": "approve",
        "comment": None,
    }
    assert slot(state, "persiapan", JABAR).status == "approved"
    assert slot(state, "persiapan", JABAR).decided_by == "approver-review@jabar"
    assert slot(state, "persiapan", JATENG).status == "pending"
    assert b.step_key(state) == "persiapan"
    # the first region's approver cannot decide again (409: already decided, issue #9), nor
    # for the other region
    refused(state, approver(JABAR, "review"), m.Decide(gate="review", outcome="approve"), L.InvalidTransition)
    state, events = run(state, approver(JATENG, "review"), m.Decide(gate="review", outcome="approve"))
    assert types(events) == ["gate_decided", "step_completed", "step_entered"]
    assert b.step_key(state) == "penyusunan_ksb"


@pytest.mark.parametrize(
    "actor,error",
    [
        (approver("outsider", "review"), L.NotAllowed),
        (approver(JABAR, "legal", "dprd", "head"), L.NotAllowed),  # lacks the gate
        (approver(JABAR), L.NotAllowed),
        (m.Actor(sub="s", org=JABAR, roles=["staff"], gates=["review"]), L.NotAllowed),  # not an approver
        (staff(JABAR), L.NotAllowed),
        (admin(), L.NotAllowed),
        (b.ministry_approver(), L.NotAllowed),
    ],
    ids=lambda x: getattr(x, "sub", ""),
)
def test_gate_needs_an_approver_of_the_slot_holding_the_gate(actor: m.Actor, error: type) -> None:
    refused(submitted(b.ksdpk_proposal()), actor, m.Decide(gate="review", outcome="approve"), error)


def test_deciding_a_gate_not_awaited_is_refused() -> None:
    state = submitted(b.ksdd_proposal())
    error = refused(state, approver(JABAR, "legal"), m.Decide(gate="legal", outcome="approve"), L.InvalidTransition)
    assert error.details["awaited_gates"] == ["review"]
    refused(b.created(), approver(JABAR, "review"), m.Decide(gate="review", outcome="approve"), L.InvalidTransition)
    refused(negotiating(), approver(JABAR, "review"), m.Decide(gate="review", outcome="approve"), L.InvalidTransition)


@pytest.mark.parametrize("outcome", ["request_changes", "reject"])
def test_request_changes_and_reject_need_a_comment(outcome: str) -> None:
    refused(submitted(), approver(JABAR, "review"), m.Decide(gate="review", outcome=outcome), L.InvalidProposal)


@pytest.mark.parametrize("kind", ["ksdpl", "ksdll"])
def test_ministry_gate_is_decided_once_by_any_ministry_approver(kind: str) -> None:
    state = b.advance(b.created(b.proposal_for(kind)), "persetujuan_menteri")
    assert state.stage == "approval"
    assert [(g.org, g.status) for g in state.gates if g.gate == "ministry"] == [(None, "pending")]
    # only approvers of the configured ministry (Kemendagri by default), never a party
    for actor in (
        approver(JABAR, "review", "legal", "dprd", "head"),
        staff("kemendagri"),
        approver("kemendagri", "review"),
        approver("kemlu", "ministry"),
        approver(JABAR, "ministry"),
    ):
        refused(state, actor, m.Decide(gate="ministry", outcome="approve"), L.NotAllowed)
    for minister in (b.ministry_approver(), approver("kemendagri", "ministry", sub="another")):
        after, events = run(state, minister, m.Decide(gate="ministry", outcome="approve"))
        assert types(events) == ["gate_decided", "step_completed", "step_entered"]
        assert events[0].data["org"] is None
        assert b.step_key(after) == "penandatanganan"


def test_request_changes_returns_to_the_last_negotiation_before_the_gate() -> None:
    state = b.advance(b.created(b.ksdd_proposal(dprd=True)), "persetujuan_dprd")
    ksb = L.agreed_draft(state, "ksb")
    assert ksb is not None and len(state.signatures) == 2
    state, _ = run(state, approver(JATENG, "dprd"), m.Decide(gate="dprd", outcome="approve"))
    state, events = run(
        state, approver(JABAR, "dprd"), m.Decide(gate="dprd", outcome="request_changes", comment="Kurangi beban APBD")
    )
    assert types(events) == ["gate_decided", "returned_for_changes", "step_entered"]
    assert events[1].data == {"step": "persetujuan_dprd", "to_step": "penyusunan_ksb", "document": "ksb"}
    assert (state.stage, b.step_key(state)) == ("negotiation", "penyusunan_ksb")
    # acceptances of the KSB are cleared; its signatures stay on record (they bind that
    # version's hash, and a new version needs new ones)
    assert L.latest_draft(state, "ksb").accepted_by == []
    assert len([s for s in state.signatures if s.kind == "ksb"]) == 2
    # the gate that asked keeps its word; gates after the negotiation wait again
    assert slot(state, "persetujuan_dprd", JABAR).status == "changes_requested"
    assert slot(state, "persetujuan_dprd", JABAR).comment == "Kurangi beban APBD"
    assert slot(state, "persetujuan_dprd", JATENG).status == "waiting"
    assert {g.status for g in state.gates if g.step == "telaah_hukum"} == {"waiting"}
    assert {g.status for g in state.gates if g.step == "persiapan"} == {"approved"}
    # a new version, agreed and signed again, goes back to both DPRDs
    state = b.advance(state, "persetujuan_dprd")
    assert {g.status for g in state.gates if g.step == "persetujuan_dprd"} == {"pending"}
    assert L.agreed_draft(state, "ksb").version > ksb.version
    assert b.advance(state, "implementation").stage == "implementation"


def test_signed_ksb_reaccepted_unchanged_keeps_its_signatures() -> None:
    """Regression: after the DPRD asked for changes, the parties re-accepted the very
    version they had signed; nobody could sign it again, so the signing step never
    completed. The signatures on that version's hash stand and the step completes at once."""
    state = b.advance(b.created(b.ksdd_proposal(dprd=True)), "persetujuan_dprd")
    state, _ = run(state, approver(JABAR, "dprd"), m.Decide(gate="dprd", outcome="request_changes", comment="Tunda"))
    version = L.latest_draft(state, "ksb").version
    state, _ = run(state, staff(JABAR), m.AcceptDraft(version=version))
    state, _ = run(state, partner(JATENG), m.AcceptDraft(version=version))
    assert b.step_key(state) == "persetujuan_dprd"
    assert len([s for s in state.signatures if s.kind == "ksb"]) == 2


@pytest.mark.parametrize(
    "kind,step,gate,back_to",
    [
        ("ksdd", "telaah_hukum", "legal", "penyusunan_pks"),
        ("ksdpk", "telaah_hukum", "legal", "penyusunan_pks"),
        ("ksdpl", "persetujuan_dprd", "dprd", "rencana_kerja_sama"),
        ("ksdpl", "verifikasi", "review", "rencana_kerja_sama"),
        ("ksdll", "persetujuan_menteri", "ministry", "rancangan_naskah"),
    ],
)
def test_request_changes_targets(kind: str, step: str, gate: str, back_to: str) -> None:
    state = b.advance(b.created(b.proposal_for(kind, dprd=True)), step)
    before = {(g.step, g.org): g.status for g in state.gates}
    decider = b.ministry_approver() if gate == "ministry" else approver(JABAR, gate)
    state, events = run(state, decider, m.Decide(gate=gate, outcome="request_changes", comment="Ubah"))
    assert events[1].data["to_step"] == back_to and b.step_key(state) == back_to
    assert L.latest_draft(state, L.current_step(state).document).accepted_by == []
    procedure = L.procedure_of(state)
    back_index = next(i for i, s in enumerate(procedure.steps) if s.key == back_to)
    later = {s.key for s in procedure.steps[back_index + 1 :]}
    for g in state.gates:
        if g.step == step and g.org == (None if gate == "ministry" else JABAR):
            assert g.status == "changes_requested"
        elif g.step in later:
            assert g.status == "waiting"
        else:
            assert g.status == before[(g.step, g.org)] == "approved"


def test_request_changes_with_no_negotiation_before_returns_to_draft() -> None:
    state = submitted(b.ksdd_proposal())
    state, _ = run(state, approver(JATENG, "review"), m.Decide(gate="review", outcome="approve"))
    state, events = run(
        state, approver(JABAR, "review"), m.Decide(gate="review", outcome="request_changes", comment="Lengkapi kajian")
    )
    assert types(events) == ["gate_decided", "returned_to_draft"]
    assert (state.stage, state.step_index, state.deadlines) == ("draft", None, {})
    assert L.step_view(state) is None and L.open_slots(state) == []
    assert slot(state, "persiapan", JATENG).status == "waiting"
    assert L.allowed_actions(state, staff(), NOW) == ["edit", "submit", "withdraw", "comment", "set_dprd_requirement"]
    state, _ = run(state, staff(), m.Edit(objectives="Kajian lengkap"))
    state, _ = run(state, staff(), m.Submit())
    assert {g.status for g in state.gates if g.step == "persiapan"} == {"pending"}
    assert b.advance(state, "implementation").stage == "implementation"


def test_gates_follow_the_parties_edited_after_return_to_draft() -> None:
    state = submitted(b.ksdd_proposal())
    state, _ = run(
        state, approver(JABAR, "review"), m.Decide(gate="review", outcome="request_changes", comment="Ganti mitra")
    )
    state, _ = run(state, staff(), m.Edit(parties=[b.party(JABAR, "initiator"), b.party(JATIM, dprd=True)]))
    # the earlier decisions stay on view in draft (JATENG's slots too) until resubmission
    assert slot(state, "persiapan", JABAR).comment == "Ganti mitra"
    state, _ = run(state, staff(), m.Submit())
    assert {g.org for g in state.gates} == {JABAR, JATIM}
    assert [g.status for g in state.gates if g.step == "persiapan"] == ["pending", "pending"]
    assert slot(state, "persetujuan_dprd", JATIM).status == "waiting"


@pytest.mark.parametrize(
    "kind,step,gate",
    [
        ("ksdd", "persiapan", "review"),
        ("ksdd", "persetujuan_dprd", "dprd"),
        ("ksdd", "telaah_hukum", "legal"),
        ("ksdpl", "verifikasi", "review"),
        ("ksdll", "persetujuan_menteri", "ministry"),
    ],
)
def test_reject_ends_the_agreement(kind: str, step: str, gate: str) -> None:
    state = b.advance(b.created(b.proposal_for(kind, dprd=True)), step)
    decider = b.ministry_approver() if gate == "ministry" else approver(JABAR, gate)
    state, events = run(state, decider, m.Decide(gate=gate, outcome="reject", comment="Tidak bermanfaat"))
    assert types(events) == ["gate_decided", "agreement_rejected"]
    assert events[1].data["step"] == step
    assert (state.stage, state.closed_reason, state.deadlines) == ("rejected", "Tidak bermanfaat", {})
    assert L.step_view(state) is None
    assert not [g for g in state.gates if g.status == "pending"], "a closed agreement awaits no one"
    assert_closed(state)


# ================================================================ terminal stages


POOL = [
    staff(JABAR),
    staff(JATENG),
    partner(JATENG),
    signatory(JABAR),
    admin(),
    auditor(),
    approver(JABAR, *m.GATES),
    approver(JATENG, *m.GATES),
    b.ministry_approver(),
    m.SYSTEM,
]


def assert_closed(state: m.AgreementState) -> None:
    """A terminal stage accepts nothing from anyone and offers nothing."""
    assert state.stage in m.TERMINAL_STAGES and L.phase(state) == "closed"
    for actor in POOL:
        assert L.allowed_actions(state, actor, NOW) == []
        for command in [*L.candidate_commands(state), m.SubmitDraft(document=b.doc("new"))]:
            refused(state, actor, command, L.InvalidTransition)


# ================================================================ withdraw


@pytest.mark.parametrize(
    "where",
    [
        "draft",
        "persiapan",
        "penyusunan_ksb",
        "penandatanganan_ksb",
        "persetujuan_dprd",
        "telaah_hukum",
        "penandatanganan_pks",
    ],
)
def test_initiator_staff_withdraw_before_implementation(where: str) -> None:
    state = b.advance(b.created(b.ksdd_proposal(dprd=True)), where)
    for actor in (staff(JATENG), partner(JABAR), signatory(JABAR), approver(JABAR, *m.GATES)):
        refused(state, actor, m.Withdraw(reason="x"), L.NotAllowed)
    refused(state, admin(), m.Withdraw(reason="x"), L.NotAllowed)  # an admin of another organisation
    for actor in (staff(JABAR), admin(JABAR)):
        closed, events = run(state, actor, m.Withdraw(reason="Prioritas berubah"))
        assert types(events) == ["agreement_withdrawn"]
        assert (closed.stage, closed.closed_reason) == ("withdrawn", "Prioritas berubah")
    assert_closed(closed)
    assert not [g for g in closed.gates if g.status == "pending"]


def test_no_withdrawal_in_implementation_or_termination() -> None:
    state = b.implemented()
    refused(state, staff(), m.Withdraw(reason="x"), L.InvalidTransition)
    state, _ = run(state, staff(), m.Terminate(reason="Tidak bermanfaat"))
    refused(state, staff(), m.Withdraw(reason="x"), L.InvalidTransition)


# ================================================================ terminate


def test_termination_needs_the_head_of_the_initiator() -> None:
    """(Issue #10: any government party may ask; each government party's head decides.)"""
    state = b.implemented(b.ksdpk_proposal())
    for actor in (staff(b.THIRD_PARTY), partner(JABAR), approver(JABAR, "head")):
        refused(state, actor, m.Terminate(reason="x"), L.NotAllowed)
    state, events = run(state, staff(), m.Terminate(reason="Tidak ada manfaat bersama"))
    assert types(events) == ["termination_requested"]
    assert events[0].data["gates"] == [
        {
            "step": "pengakhiran",
            "gate": "head",
            "org": JABAR,
            "status": "waiting",
            "decided_by": None,
            "comment": None,
            "at": None,
        }
    ]
    assert state.stage == "implementation" and L.phase(state) == "termination"
    assert state.termination == m.Termination(
        reason="Tidak ada manfaat bersama", requested_by="staff@jabar", at=NOW, org=JABAR
    )
    assert b.step_key(state) == "pengakhiran" and L.step_view(state).kind == "gate"
    assert [(g.org, g.status) for g in L.open_slots(state)] == [(JABAR, "pending")]
    assert state.deadlines == {"step": t.due_after(NOW, 14, "Asia/Jakarta")}
    refused(state, staff(), m.Terminate(reason="again"), L.InvalidTransition)
    for actor in (approver(b.THIRD_PARTY, "head"), approver(JABAR, "review", "legal", "dprd"), b.ministry_approver()):
        refused(state, actor, m.Decide(gate="head", outcome="approve"), L.NotAllowed)
    refused(state, approver(JABAR, *m.GATES), m.Decide(gate="legal", outcome="approve"), L.InvalidTransition)
    refused(state, approver(JABAR, "head"), m.Decide(gate="head", outcome="reject"), L.InvalidProposal)
    done, events = run(state, approver(JABAR, "head"), m.Decide(gate="head", outcome="approve"))
    assert types(events) == ["gate_decided", "agreement_terminated"]
    assert (done.stage, done.closed_reason, done.termination) == ("terminated", "Tidak ada manfaat bersama", None)
    assert_closed(done)


@pytest.mark.parametrize("outcome", ["reject", "request_changes"])
def test_declined_termination_keeps_the_agreement_in_force(outcome: str) -> None:
    state, _ = run(b.implemented(), staff(), m.Terminate(reason="Tidak bermanfaat"))
    state, events = run(state, approver(JABAR, "head"), m.Decide(gate="head", outcome=outcome, comment="Lanjutkan"))
    assert types(events) == ["gate_decided", "termination_declined"]
    assert (state.stage, state.termination, state.deadlines) == ("implementation", None, {})
    assert L.phase(state) == "implementation" and L.step_view(state) is None
    # it may be proposed again, and the fresh gate is pending again
    state, _ = run(state, staff(), m.Terminate(reason="Sekarang sungguh tidak bermanfaat"))
    assert [g.status for g in state.gates if g.step == "pengakhiran"] == ["pending", "pending"]  # each region's head
    state, _ = run(state, approver(JABAR, "head"), m.Decide(gate="head", outcome="approve"))
    state, _ = run(state, approver(JATENG, "head"), m.Decide(gate="head", outcome="approve"))
    assert state.stage == "terminated"


def test_terminate_only_in_implementation() -> None:
    for state in (b.created(), submitted(), signing()):
        refused(state, staff(), m.Terminate(reason="x"), L.InvalidTransition)


# ================================================================ comment


def test_parties_comment_anywhere_before_the_end() -> None:
    state = b.created(b.ksdd_proposal())
    for where in ("draft", "persiapan", "penyusunan_ksb", "penandatanganan_ksb", "implementation"):
        state = b.advance(state, where)
        for actor in (staff(JABAR), partner(JATENG), signatory(JATENG), approver(JABAR, "review"), admin(JABAR)):
            after, events = run(state, actor, m.Comment(text="Catatan"))
            assert types(events) == ["comment_added"]
            assert after.comments[-1] == m.CommentEntry(by=actor.sub, org=actor.org, text="Catatan", at=NOW)
        for actor in (staff("outsider"), b.ministry_approver(), auditor(), admin()):
            refused(state, actor, m.Comment(text="Catatan"), L.NotAllowed)
    state, _ = run(state, staff(), m.Terminate(reason="x"))
    state, _ = run(state, partner(JATENG), m.Comment(text="Keberatan"))
    assert state.comments[-1].org == JATENG


# ================================================================ concurrency, versions, events


def test_stale_version_is_refused() -> None:
    state = b.created()
    error = refused(state, staff(), m.Submit(), L.StaleVersion, expected_version=2)
    assert error.details["version"] == 1
    # checked before anything else, even a command impossible now
    refused(state, staff(), m.Sign(version=1, method="electronic"), L.StaleVersion, expected_version=0)
    state, _ = run(state, staff(), m.Submit(), expected_version=1)
    assert state.version == 2


REFUSALS = [
    ("draft", staff(JATENG), m.Submit(), L.NotAllowed),
    ("draft", staff(), m.Edit(), L.InvalidProposal),
    ("draft", staff(), m.AcceptDraft(version=1), L.InvalidTransition),
    ("persiapan", approver(JABAR, "legal"), m.Decide(gate="legal", outcome="approve"), L.InvalidTransition),
    ("persiapan", approver(JATENG, "review"), m.Decide(gate="review", outcome="reject"), L.InvalidProposal),
    ("penyusunan_ksb", partner("outsider"), m.SubmitDraft(document=b.doc(1)), L.NotAllowed),
    ("penandatanganan_ksb", signatory(JABAR), m.Sign(version=99, method="electronic"), L.InvalidTransition),
    ("implementation", partner(JATENG), m.Terminate(reason="x"), L.NotAllowed),
    ("implementation", staff(), m.Withdraw(reason="x"), L.InvalidTransition),
]


@pytest.mark.parametrize("where,actor,command,error", REFUSALS, ids=lambda x: getattr(x, "type", None))
def test_every_refusal_says_stage_and_allowed_actions(where, actor, command, error) -> None:
    state = b.advance(b.created(b.ksdd_proposal()), where)
    e = refused(state, actor, command, error)
    assert isinstance(e.details["allowed_actions"], list)
    assert e.message and str(e) == e.message and e.status == error.status


def test_version_counts_accepted_commands_and_seq_is_gapless() -> None:
    state = b.created(b.ksdpl_proposal(dprd=True))
    log = [b.as_created_before_2026(e) for e in L.create(b.ksdpl_proposal(dprd=True), staff(), NOW, "agr-1")]
    commands = 1
    while state.stage != "implementation":
        before = state
        state, events = b.happy_step(state)
        log += events
        commands += len({e.version for e in events})
        assert [e.version for e in events] == sorted(e.version for e in events)
        assert state.version > before.version
    assert state.version == commands
    assert [e.seq for e in log] == list(range(1, len(log) + 1)) and state.seq == len(log)
    assert [e.id for e in log] == [str(uuid.uuid5(L.EVENT_NAMESPACE, f"agr-1/{e.seq}")) for e in log]
    assert len({e.id for e in log}) == len(log)
    # replaying the log rebuilds the same state
    assert b.replay(log) == state


def test_one_command_many_events_one_version() -> None:
    state, _ = run(negotiating(), staff(), m.SubmitDraft(document=b.doc(1)))
    state, events = run(state, partner("wa-state"), m.AcceptDraft(version=1))
    assert len(events) == 3 and {e.version for e in events} == {state.version}
    assert [e.seq for e in events] == [state.seq - 2, state.seq - 1, state.seq]
    assert all(e.at == NOW and e.actor == partner("wa-state") for e in events)
    assert state.updated_at == NOW


def test_decide_is_deterministic() -> None:
    later = NOW + timedelta(days=3)
    state = negotiating()
    a = L.decide(state, m.SubmitDraft(document=b.doc(1)), staff(), later)
    again = L.decide(state, m.SubmitDraft(document=b.doc(1)), staff(), later)
    assert a == again
    other = negotiating().model_copy(update={"id": "agr-2"})
    assert L.decide(other, m.SubmitDraft(document=b.doc(1)), staff(), later)[0].id != a[0].id


def test_evolve_refuses_events_out_of_sequence() -> None:
    state = b.created()
    events = L.decide(state, m.Submit(), staff(), NOW)
    with pytest.raises(AssertionError):
        L.evolve(state, events[1])


# ================================================================ can_see, allowed actions, snapshot


def test_parties_auditors_admins_see() -> None:
    state = b.created(b.ksdd_proposal())
    for actor in (
        staff(JABAR),
        partner(JATENG),
        signatory(JATENG),
        approver(JATENG, "dprd"),
        admin(JABAR),
        b.operator(),
        auditor(),
        m.SYSTEM,
    ):
        assert L.can_see(state, actor)
    for actor in (
        staff("outsider"),
        partner("outsider"),
        approver("outsider", *m.GATES),
        b.ministry_approver(),
        admin(),
    ):
        assert not L.can_see(state, actor)
    assert not L.can_see(b.implemented(b.ksdd_proposal()), b.ministry_approver())


@pytest.mark.parametrize("kind", ["ksdpl", "ksdll"])
def test_ministry_sees_from_its_gate_on(kind: str) -> None:
    minister = b.ministry_approver()
    state = b.created(b.proposal_for(kind))
    for step in ("draft", "pernyataan_kehendak", "verifikasi", "rancangan_naskah"):
        state = b.advance(state, step)
        assert not L.can_see(state, minister), step
    state = b.advance(state, "persetujuan_menteri")
    assert L.can_see(state, minister)
    assert not L.can_see(state, staff("kemendagri"))
    assert not L.can_see(state, m.Actor(sub="x", org="kemendagri", roles=["staff"], gates=["ministry"]))
    asked, _ = run(state, minister, m.Decide(gate="ministry", outcome="request_changes", comment="Ubah"))
    assert L.can_see(asked, minister)
    withdrawn, _ = run(state, staff(), m.Withdraw(reason="x"))
    # a closed agreement awaits no one: the ministry slot goes back to waiting, out of sight
    assert slot(withdrawn, "persetujuan_menteri", None).status == "waiting"
    assert not L.can_see(withdrawn, minister)
    for step in ("penandatanganan", "implementation"):
        state = b.advance(state, step)
        assert L.can_see(state, minister), step
    state, _ = run(state, staff(), m.Terminate(reason="x"))
    state, _ = run(state, approver(JABAR, "head"), m.Decide(gate="head", outcome="approve"))
    assert state.stage == "terminated" and L.can_see(state, minister)


def test_allowed_actions_per_actor() -> None:
    state = b.created(b.ksdd_proposal())
    # (each government party's staff state their own DPRD facts: set_dprd_requirement)
    own = ["edit", "submit", "withdraw", "comment", "set_dprd_requirement"]
    assert L.allowed_actions(state, staff(), NOW) == own
    assert L.allowed_actions(state, admin(JABAR), NOW) == own
    assert L.allowed_actions(state, admin(), NOW) == []
    assert L.allowed_actions(state, staff(JATENG), NOW) == ["comment", "set_dprd_requirement"]
    assert L.allowed_actions(state, staff("outsider"), NOW) == []
    state = b.advance(state, "persiapan")
    assert L.allowed_actions(state, approver(JATENG, "review"), NOW) == ["decide", "comment"]
    assert L.allowed_actions(state, approver(JATENG, "legal"), NOW) == ["comment"]
    state = b.advance(state, "penyusunan_ksb")
    assert L.allowed_actions(state, partner(JATENG), NOW) == ["submit_draft", "comment"]
    state, _ = run(state, staff(), m.SubmitDraft(document=b.doc(1)))
    assert L.allowed_actions(state, partner(JATENG), NOW) == ["submit_draft", "accept_draft", "comment"]
    assert L.allowed_actions(state, staff(), NOW) == [
        "submit_draft",
        "extend_deadline",
        "withdraw",
        "comment",
        "set_dprd_requirement",
        "edit_plan",
    ]
    state = b.advance(state, "penandatanganan_ksb")
    assert L.allowed_actions(state, signatory(JATENG), NOW) == ["sign", "comment"]
    state = b.advance(state, "implementation")
    assert L.allowed_actions(state, staff(), NOW) == [
        "start_evaluation",
        "propose_amendment",
        "renew",
        "terminate",
        "comment",
        "record_measurement",
        "schedule_meeting",
        "publish",
    ]
    assert L.allowed_actions(state, approver(JABAR, "head"), NOW) == ["comment"]


def test_allowed_actions_offers_submit_draft_whatever_the_latest_document() -> None:
    """Regression: the representative `submit_draft` used the all-zero hash, so it was hidden
    when the latest version happened to be that document."""
    state, _ = run(negotiating(), staff(), m.SubmitDraft(document="0" * 64))
    assert "submit_draft" in L.allowed_actions(state, partner("wa-state"), NOW)


def test_snapshot_shows_stage_step_and_options() -> None:
    state = b.advance(b.created(b.ksdd_proposal()), "penyusunan_ksb")
    snap = L.snapshot(state, partner(JATENG), NOW)
    assert (snap.stage, snap.version, snap.kind) == ("negotiation", state.version, "ksdd")
    assert snap.step is not None and snap.step.key == "penyusunan_ksb" and snap.step.document == "ksb"
    assert snap.step.name.en == "Offer and drafting of the memorandum (KSB)"
    assert snap.procedure == m.ProcedureRef(key="ksdd", version="2020.1")
    assert snap.allowed_actions == ["submit_draft", "comment"]
    assert m.Snapshot.model_validate(snap.model_dump(mode="json")) == snap
    closed, _ = run(state, staff(), m.Withdraw(reason="x"))
    snap = L.snapshot(closed, staff(), NOW)
    assert (snap.stage, snap.step, snap.allowed_actions) == ("withdrawn", None, [])
    term, _ = run(b.implemented(), staff(), m.Terminate(reason="x"))
    view = L.snapshot(term, staff(), NOW).step
    assert (view.key, view.gate, view.index, view.of) == ("pengakhiran", "head", 7, 7)
