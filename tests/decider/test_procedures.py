"""Procedures as data: each kind walks the steps of its regulation, in order, and released
procedure versions never change (a change in the law is a new version)."""

from __future__ import annotations

import hashlib

import pytest

from tests import builders as b
from tests.builders import submitted
from workflows import lifecycle as L
from workflows import messages as m
from workflows.procedures import (
    CHANGE_PROCEDURES,
    CURRENT,
    PERMENDAGRI_22,
    PERMENDAGRI_25,
    PP_28,
    PROCEDURES,
    TERMINATION_BY_EACH_HEAD,
    TERMINATION_STEP,
    current_procedure,
    get_procedure,
)

DOMESTIC = [
    # key, kind, gate, scope, condition, document, Indonesian name, English name
    (
        "persiapan",
        "gate",
        "review",
        "each_government",
        None,
        None,
        "Persiapan dan kajian TKKSD",
        "Preparation and TKKSD review",
    ),
    (
        "penyusunan_ksb",
        "negotiation",
        None,
        None,
        None,
        "ksb",
        "Penawaran dan penyusunan KSB",
        "Offer and drafting of the memorandum (KSB)",
    ),
    (
        "penandatanganan_ksb",
        "signing",
        None,
        None,
        None,
        "ksb",
        "Penandatanganan KSB",
        "Signing of the memorandum (KSB)",
    ),
    (
        "persetujuan_dprd",
        "gate",
        "dprd",
        "each_government",
        "requires_dprd_approval",
        None,
        "Persetujuan DPRD",
        "Approval of the regional parliament (DPRD)",
    ),
    ("penyusunan_pks", "negotiation", None, None, None, "pks", "Penyusunan PKS", "Drafting of the agreement (PKS)"),
    (
        "telaah_hukum",
        "gate",
        "legal",
        "each_government",
        None,
        None,
        "Telaah hukum PKS",
        "Legal review of the agreement (PKS)",
    ),
    (
        "penandatanganan_pks",
        "signing",
        None,
        None,
        None,
        "pks",
        "Penandatanganan PKS",
        "Signing of the agreement (PKS)",
    ),
]
FOREIGN = [
    (
        "pernyataan_kehendak",
        "negotiation",
        None,
        None,
        None,
        "loi",
        "Prakarsa, penjajakan dan pernyataan kehendak",
        "Initiative, exploration and letter of intent",
    ),
    (
        "rencana_kerja_sama",
        "negotiation",
        None,
        None,
        None,
        "plan",
        "Penyusunan rencana kerja sama",
        "Cooperation plan",
    ),
    (
        "persetujuan_dprd",
        "gate",
        "dprd",
        "each_government",
        "requires_dprd_approval",
        None,
        "Persetujuan DPRD",
        "Approval of the regional parliament (DPRD)",
    ),
    ("verifikasi", "gate", "review", "each_government", None, None, "Verifikasi", "Verification"),
    (
        "rancangan_naskah",
        "negotiation",
        None,
        None,
        None,
        "pks",
        "Penyusunan dan pembahasan rancangan naskah",
        "Drafting and inter-ministry discussion of the text",
    ),
    ("persetujuan_menteri", "gate", "ministry", "once", None, None, "Persetujuan Menteri", "The Minister's approval"),
    ("penandatanganan", "signing", None, None, None, "pks", "Penandatanganan", "Signing"),
]
DOMESTIC_2026 = [
    *DOMESTIC[:2],
    (
        "persetujuan_ksb",
        "gate",
        "review",
        "each_government",
        None,
        None,
        "Persetujuan rancangan KSB oleh TKKSD",
        "TKKSD approval of the drafted memorandum (KSB)",
    ),
    *DOMESTIC[2:],
]
EXPECTED = {"ksdd": DOMESTIC_2026, "ksdpk": DOMESTIC_2026, "ksdpl": FOREIGN, "ksdll": FOREIGN}
# What agreements created before 2026 walk (the builders create those by default).
EXPECTED_2020 = {"ksdd": DOMESTIC, "ksdpk": DOMESTIC, "ksdpl": FOREIGN, "ksdll": FOREIGN}
BASIS = {"ksdd": PERMENDAGRI_22, "ksdpk": PERMENDAGRI_22, "ksdpl": PERMENDAGRI_25, "ksdll": PERMENDAGRI_25}

# sha256(repr(procedure)) of every released procedure version. A failure here means a
# released procedure was edited: agreements already running would silently change rules.
# Add a new version to PROCEDURES (and point CURRENT at it) instead, and pin it here.
RELEASED = {
    ("ksdd", "2020.1"): "90b5afa489833c21aec8b67ca1d3373f889366a00bb1d5625b03cc376491943c",
    ("ksdpk", "2020.1"): "bcc50a0ed66f6710f8477fff94d06440a40ee651ebc5d849dad4bdacfc1483bf",
    ("ksdpl", "2020.1"): "22856de95f5bcaf1ef7f62612e9e98404f4a258c0320d460485469edc312b919",
    ("ksdll", "2020.1"): "4c1a2f37ad78e2509c78b475f500f7cd6ab10965f2496e59233bed527d13a0f1",
    # changes while in force (an amendment or renewal records its procedure's version too)
    ("adendum", "2020.1"): "553f2a59a787e75824ca5a7a302d366f45bdf3a5fcbc6466733afd765d082303",
    ("perpanjangan", "2020.1"): "6bf586d049d4f437150ab5b56ae5910c6eb034486cc4f8b838fb5365b89e8867",
    # 2026.1: the TKKSD approves the drafted KSB before signing (Permendagri 22/2020, step 3)
    ("ksdd", "2026.1"): "47f38cbe38839f592484469f6ef2b19713599e173c841de5f356b93611ff7a24",
    ("ksdpk", "2026.1"): "ca97ea473ce2a8f288bba93997fe8ce1a3a45debb4c61000f5fe2b576f15327c",
    # 2026.1: an addendum changing the burden or the budget goes to the DPRD that requires it
    ("adendum", "2026.1"): "92b664581707d7343fe5729048bed5482e0d15170d831f88b1cadc8052a1b8b5",
}
TERMINATION_FINGERPRINT = "8ecaf54e74bf44dabbe7f233d60c482b5618c387eebf881c0120112c4db926ba"
TERMINATION_BY_EACH_HEAD_FINGERPRINT = "eefc23fca8b703e7a6ed77b529c7c8b50092b7d9333ad223c28a3abf7701bc94"


def fingerprint(obj: object) -> str:
    return hashlib.sha256(repr(obj).encode()).hexdigest()


# ---------------------------------------------------------------- the data


def test_procedures_are_frozen() -> None:
    for key, digest in RELEASED.items():
        assert key in PROCEDURES, f"released procedure {key} was removed"
        assert fingerprint(PROCEDURES[key]) == digest, f"released procedure {key} was edited; add a new version instead"
    assert fingerprint(TERMINATION_STEP) == TERMINATION_FINGERPRINT
    assert fingerprint(TERMINATION_BY_EACH_HEAD) == TERMINATION_BY_EACH_HEAD_FINGERPRINT
    unpinned = set(PROCEDURES) - set(RELEASED)
    assert not unpinned & {(k, v) for k, v in CURRENT.items()}, (
        f"the current procedure of a kind must be pinned in RELEASED: {sorted(unpinned)}"
    )
    changes = {(p.key, p.version) for p in CHANGE_PROCEDURES.values()}
    assert not unpinned & changes, f"the change procedures in use must be pinned in RELEASED: {sorted(unpinned)}"


CHANGES = {
    "amendment": [
        ("penyusunan_adendum", "negotiation", None, None, None, "adendum"),
        ("persetujuan_dprd_adendum", "gate", "dprd", "each_government", "dprd_if_change_burdens", None),
        ("telaah_hukum_adendum", "gate", "legal", "each_government", None, None),
        ("penandatanganan_adendum", "signing", None, None, None, "adendum"),
    ],
    "renewal": [
        ("penyusunan_perpanjangan", "negotiation", None, None, None, "pks"),
        ("persetujuan_dprd_perpanjangan", "gate", "dprd", "each_government", "requires_dprd_approval", None),
        ("telaah_hukum_perpanjangan", "gate", "legal", "each_government", None, None),
        ("penandatanganan_perpanjangan", "signing", None, None, None, "pks"),
    ],
}


@pytest.mark.parametrize("kind", sorted(CHANGES))
def test_change_procedures_negotiate_approve_and_sign(kind: str) -> None:
    procedure = CHANGE_PROCEDURES[kind]
    assert PROCEDURES[(procedure.key, procedure.version)] is procedure
    assert [(s.key, s.kind, s.gate, s.scope, s.condition, s.document) for s in procedure.steps] == CHANGES[kind]
    assert procedure.steps[0].kind == "negotiation" and procedure.steps[-1].kind == "signing"
    assert all(s.basis.startswith(PP_28) and s.name_id and s.name_en for s in procedure.steps)
    # step keys never clash with an agreement's own steps (gate slots are keyed by step)
    own = {s.key for key, p in PROCEDURES.items() if key[0] in CURRENT for s in p.steps}
    assert not own & {s.key for s in procedure.steps}


def test_every_kind_has_a_current_procedure() -> None:
    assert set(CURRENT) == set(b.KINDS)
    for kind in b.KINDS:
        procedure = current_procedure(kind)
        assert procedure.key == kind
        assert get_procedure(kind, CURRENT[kind]) is procedure
        assert procedure.title_id and procedure.title_en
    with pytest.raises(KeyError):
        get_procedure("ksdd", "1999.1")


@pytest.mark.parametrize("kind", b.KINDS)
def test_steps_in_order_with_names_and_legal_basis(kind: str) -> None:
    procedure = current_procedure(kind)
    actual = [(s.key, s.kind, s.gate, s.scope, s.condition, s.document, s.name_id, s.name_en) for s in procedure.steps]
    assert actual == EXPECTED[kind]
    for step in procedure.steps:
        assert step.basis.startswith(BASIS[kind]), step.key
        assert (step.kind == "gate") == (step.gate is not None) == (step.scope is not None)
        assert (step.kind != "gate") == (step.document is not None)
    assert len({s.key for s in procedure.steps}) == len(procedure.steps)


def test_termination_is_a_head_gate_for_the_initiator() -> None:
    assert (TERMINATION_STEP.kind, TERMINATION_STEP.gate, TERMINATION_STEP.scope) == ("gate", "head", "initiator")
    assert "PP 28/2018" in TERMINATION_STEP.basis
    assert all(TERMINATION_STEP.key not in {s.key for s in p.steps} for p in PROCEDURES.values())


def test_stage_of_a_step() -> None:
    procedure = current_procedure("ksdpl")
    stages = [L.stage_for(s) for s in procedure.steps]
    assert stages == ["negotiation", "negotiation", "approval", "review", "negotiation", "approval", "signing"]
    assert [L.stage_for(s) for s in current_procedure("ksdd").steps] == [
        "review",
        "negotiation",
        "review",
        "signing",
        "approval",
        "negotiation",
        "approval",
        "signing",
    ]


# ---------------------------------------------------------------- walking the procedures


def walk(prop: m.Proposal, legacy: bool = False) -> tuple[list[str], list[m.Event], m.AgreementState]:
    """Follow the happy path to implementation: the steps entered, all events, the state."""
    state = b.created(prop, legacy=legacy)
    events: list[m.Event] = []
    for _ in range(40):
        if state.stage == "implementation":
            break
        state, evs = b.happy_step(state)
        events += evs
    assert state.stage == "implementation"
    return [e.data["step"] for e in events if e.type == "step_entered"], events, state


@pytest.mark.parametrize("kind", b.KINDS)
@pytest.mark.parametrize("dprd", [False, True])
def test_each_kind_walks_its_steps_in_order(kind: str, dprd: bool) -> None:
    entered, events, state = walk(b.proposal_for(kind, dprd))
    expected = [s[0] for s in EXPECTED[kind] if dprd or s[0] != "persetujuan_dprd"]
    assert entered == expected
    skipped = [e.data["step"] for e in events if e.type == "step_skipped"]
    assert skipped == ([] if dprd else ["persetujuan_dprd"])
    completed = [e.data["step"] for e in events if e.type == "step_completed"]
    assert completed == expected
    assert state.procedure == m.ProcedureRef(key=kind, version=CURRENT[kind])


def test_skipped_dprd_step_says_why() -> None:
    _, events, _ = walk(b.ksdpl_proposal(dprd=False))
    skipped = [e for e in events if e.type == "step_skipped"]
    assert [(e.data["step"], e.data["reason"]) for e in skipped] == [("persetujuan_dprd", "no party needs this gate")]


@pytest.mark.parametrize("kind", b.KINDS)
def test_agreement_records_procedure_key_and_version(kind: str) -> None:
    events = L.create(b.proposal_for(kind), b.staff(), b.NOW, "agr-9")
    assert events[0].data["procedure"] == {"key": kind, "version": CURRENT[kind]}
    state = b.replay(events)
    assert state.procedure.key == kind and state.procedure.version == CURRENT[kind]
    assert L.procedure_of(state) is current_procedure(kind)


def test_agreement_keeps_the_procedure_it_started_under(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new version of the law applies to new agreements; running ones keep theirs."""
    from workflows import procedures as P

    old = b.advance(b.created(b.ksdd_proposal()), "penyusunan_ksb")
    released = P.PROCEDURES[("ksdd", "2020.1")]
    newer = P.Procedure(
        key="ksdd", version="2030.1", title_id=released.title_id, title_en=released.title_en, steps=released.steps[1:]
    )
    monkeypatch.setitem(P.PROCEDURES, ("ksdd", "2030.1"), newer)
    monkeypatch.setitem(P.CURRENT, "ksdd", "2030.1")
    fresh = b.created(b.ksdd_proposal(), agreement_id="agr-new", legacy=False)
    assert fresh.procedure.version == "2030.1"
    fresh, _ = b.run(fresh, b.staff(), m.Submit())
    assert b.step_key(fresh) == "penyusunan_ksb" and fresh.step_index == 0
    # the older agreement still walks 2020.1, step indices included
    assert old.procedure.version == "2020.1" and old.step_index == 1
    assert L.step_view(old).of == len(released.steps)
    done = b.advance(old, "implementation")
    assert done.procedure.version == "2020.1"


# ---------------------------------------------------------------- who the gates fall on


def slots(state: m.AgreementState) -> list[tuple[str, str | None]]:
    return [(g.step, g.org) for g in state.gates]


def test_ksdd_asks_both_regions_review_and_legal() -> None:
    state = submitted(b.ksdd_proposal())
    assert slots(state) == [
        ("persiapan", "jabar"),
        ("persiapan", "jateng"),
        ("telaah_hukum", "jabar"),
        ("telaah_hukum", "jateng"),
    ]


def test_ksdd_dprd_only_for_parties_that_need_it() -> None:
    assert ("persetujuan_dprd", "jateng") in slots(submitted(b.ksdd_proposal(dprd={"jateng"})))
    assert ("persetujuan_dprd", "jabar") not in slots(submitted(b.ksdd_proposal(dprd={"jateng"})))
    both = slots(submitted(b.ksdd_proposal(dprd=True)))
    assert [s for s in both if s[0] == "persetujuan_dprd"] == [
        ("persetujuan_dprd", "jabar"),
        ("persetujuan_dprd", "jateng"),
    ]
    assert not [s for s in slots(submitted(b.ksdd_proposal())) if s[0] == "persetujuan_dprd"]


def test_ksdd_with_three_regions_gates_each() -> None:
    state = submitted(b.ksdd_proposal(dprd={"jatim"}, counterparties=("jateng", "jatim")))
    assert [o for s, o in slots(state) if s == "persiapan"] == ["jabar", "jateng", "jatim"]
    assert [o for s, o in slots(state) if s == "persetujuan_dprd"] == ["jatim"]


@pytest.mark.parametrize("sector", ["industry", "academia", "community", "media"])
def test_ksdpk_gates_fall_on_the_region_alone(sector: str) -> None:
    state = submitted(b.ksdpk_proposal(dprd=True, sector=sector))
    assert slots(state) == [("persiapan", "jabar"), ("persetujuan_dprd", "jabar"), ("telaah_hukum", "jabar")]


@pytest.mark.parametrize("kind", ["ksdpl", "ksdll"])
def test_foreign_ministry_gate_is_once_for_the_agreement(kind: str) -> None:
    state = submitted(b.proposal_for(kind, True))
    assert slots(state) == [("persetujuan_dprd", "jabar"), ("verifikasi", "jabar"), ("persetujuan_menteri", None)]
    assert all(g.status == "waiting" for g in state.gates)


def test_step_view_shows_names_basis_and_position() -> None:
    state = submitted(b.ksdpl_proposal())
    view = L.step_view(state)
    assert view is not None
    assert (view.key, view.kind, view.document, view.index, view.of) == (
        "pernyataan_kehendak",
        "negotiation",
        "loi",
        0,
        7,
    )
    assert view.name == m.LocalizedName(
        id="Prakarsa, penjajakan dan pernyataan kehendak", en="Initiative, exploration and letter of intent"
    )
    assert view.basis.startswith(PERMENDAGRI_25)
    gate = L.step_view(b.advance(state, "verifikasi"))
    assert (gate.kind, gate.gate, gate.index) == ("gate", "review", 3)
    assert L.step_view(b.created(b.ksdpl_proposal())) is None


def test_new_domestic_agreements_have_the_tkksd_approve_the_drafted_ksb_before_signing() -> None:
    """Permendagri 22/2020, step 3 (procedure 2026.1): the TKKSD of each region approves the
    agreed KSB before the heads sign it; asking for changes goes back to drafting it."""
    state = b.advance(b.created(b.ksdd_proposal(), legacy=False), "persetujuan_ksb")
    assert state.procedure == m.ProcedureRef(key="ksdd", version="2026.1")
    assert state.stage == "review" and L.agreed_draft(state, "ksb") is not None
    assert [(s.org, s.status) for s in L.open_slots(state)] == [(b.INITIATOR, "pending"), (b.REGION, "pending")]
    back, events = b.run(
        state,
        b.approver(b.REGION, "review"),
        m.Decide(gate="review", outcome="request_changes", comment="Pasal 3 diperjelas"),
    )
    assert b.types(events)[-2:] == ["returned_for_changes", "step_entered"]
    assert b.step_key(back) == "penyusunan_ksb"
    assert b.step_key(b.advance(state, "penandatanganan_ksb")) == "penandatanganan_ksb"
    # an agreement created under 2020.1 keeps going straight to signing
    entered, _, _ = walk(b.ksdd_proposal(), legacy=True)
    assert entered == [s[0] for s in EXPECTED_2020["ksdd"] if s[0] != "persetujuan_dprd"]
