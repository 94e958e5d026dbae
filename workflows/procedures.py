"""Procedures as data: the steps the regulations prescribe for each kind of agreement.

Each agreement records the procedure key and version it started under; a change in the law
is a *new version* added here, never an edit of a released one, so agreements already
running keep their rules. `test_procedures_are_frozen` pins the released versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

StepKind = Literal["gate", "negotiation", "signing"]
# Who a gate decides for: the initiator only, each Indonesian government party (government
# sits on both sides of a KSDD), or once for the whole agreement (the Minister).
GateScope = Literal["initiator", "each_government", "once"]
# A gate may apply only to parties for which a condition holds (DPRD approval is needed only
# when the cooperation burdens the public or is not budgeted for that party).
# `dprd_if_change_burdens`: an addendum needs those DPRDs only when it changes the burden on
# the public or the budget.
GateCondition = Literal["requires_dprd_approval", "dprd_if_change_burdens"]


@dataclass(frozen=True)
class Step:
    key: str
    kind: StepKind
    name_id: str
    name_en: str
    basis: str
    document: str | None = None
    gate: str | None = None
    scope: GateScope | None = None
    condition: GateCondition | None = None


@dataclass(frozen=True)
class Procedure:
    key: str
    version: str
    title_id: str
    title_en: str
    steps: tuple[Step, ...]

    def step(self, index: int) -> Step:
        return self.steps[index]


PERMENDAGRI_22 = (
    "Permendagri 22/2020 tentang Tata Cara Kerja Sama Daerah dengan Daerah Lain"
    " dan Kerja Sama Daerah dengan Pihak Ketiga"
)
PERMENDAGRI_25 = (
    "Permendagri 25/2020 tentang Tata Cara Kerja Sama Daerah dengan Pemerintah Daerah di Luar Negeri"
    " dan Kerja Sama Daerah dengan Lembaga di Luar Negeri"
)


# The TKKSD approves the drafted KSB before the head signs it (Permendagri 22/2020, step 3).
KSB_APPROVAL = Step(
    "persetujuan_ksb",
    "gate",
    "Persetujuan rancangan KSB oleh TKKSD",
    "TKKSD approval of the drafted memorandum (KSB)",
    f"{PERMENDAGRI_22}; TKKSD menyetujui rancangan kesepakatan bersama sebelum ditandatangani",
    gate="review",
    scope="each_government",
)


def _domestic_2026(key: str, title_id: str, title_en: str) -> Procedure:
    """Version 2026.1: the 2020.1 steps with the TKKSD's approval of the drafted KSB before
    its signing."""
    first = _domestic(key, title_id, title_en)
    steps = (*first.steps[:2], KSB_APPROVAL, *first.steps[2:])
    return Procedure(key=key, version="2026.1", title_id=title_id, title_en=title_en, steps=steps)


def _domestic(key: str, title_id: str, title_en: str) -> Procedure:
    """KSDD and KSDPK share the domestic procedure; for a KSDPK the third party is not a
    government, so the per-government gates fall on the region alone."""
    return Procedure(
        key=key,
        version="2020.1",
        title_id=title_id,
        title_en=title_en,
        steps=(
            Step(
                "persiapan",
                "gate",
                "Persiapan dan kajian TKKSD",
                "Preparation and TKKSD review",
                f"{PERMENDAGRI_22}; tahap persiapan",
                gate="review",
                scope="each_government",
            ),
            Step(
                "penyusunan_ksb",
                "negotiation",
                "Penawaran dan penyusunan KSB",
                "Offer and drafting of the memorandum (KSB)",
                f"{PERMENDAGRI_22}; tahap penawaran dan penyusunan kesepakatan bersama",
                document="ksb",
            ),
            Step(
                "penandatanganan_ksb",
                "signing",
                "Penandatanganan KSB",
                "Signing of the memorandum (KSB)",
                f"{PERMENDAGRI_22}; tahap penandatanganan kesepakatan bersama",
                document="ksb",
            ),
            Step(
                "persetujuan_dprd",
                "gate",
                "Persetujuan DPRD",
                "Approval of the regional parliament (DPRD)",
                f"{PERMENDAGRI_22}; PP 28/2018: persetujuan DPRD bila membebani masyarakat "
                "atau belum dianggarkan dalam APBD",
                gate="dprd",
                scope="each_government",
                condition="requires_dprd_approval",
            ),
            Step(
                "penyusunan_pks",
                "negotiation",
                "Penyusunan PKS",
                "Drafting of the agreement (PKS)",
                f"{PERMENDAGRI_22}; tahap penyusunan perjanjian kerja sama",
                document="pks",
            ),
            Step(
                "telaah_hukum",
                "gate",
                "Telaah hukum PKS",
                "Legal review of the agreement (PKS)",
                f"{PERMENDAGRI_22}; penyusunan perjanjian kerja sama (telaah biro hukum)",
                gate="legal",
                scope="each_government",
            ),
            Step(
                "penandatanganan_pks",
                "signing",
                "Penandatanganan PKS",
                "Signing of the agreement (PKS)",
                f"{PERMENDAGRI_22}; tahap penandatanganan perjanjian kerja sama",
                document="pks",
            ),
        ),
    )


def _foreign(key: str, title_id: str, title_en: str) -> Procedure:
    return Procedure(
        key=key,
        version="2020.1",
        title_id=title_id,
        title_en=title_en,
        steps=(
            Step(
                "pernyataan_kehendak",
                "negotiation",
                "Prakarsa, penjajakan dan pernyataan kehendak",
                "Initiative, exploration and letter of intent",
                f"{PERMENDAGRI_25}; tahap prakarsa, penjajakan dan pernyataan kehendak",
                document="loi",
            ),
            Step(
                "rencana_kerja_sama",
                "negotiation",
                "Penyusunan rencana kerja sama",
                "Cooperation plan",
                f"{PERMENDAGRI_25}; tahap penyusunan rencana kerja sama",
                document="plan",
            ),
            Step(
                "persetujuan_dprd",
                "gate",
                "Persetujuan DPRD",
                "Approval of the regional parliament (DPRD)",
                f"{PERMENDAGRI_25}; tahap persetujuan DPRD",
                gate="dprd",
                scope="each_government",
                condition="requires_dprd_approval",
            ),
            Step(
                "verifikasi",
                "gate",
                "Verifikasi",
                "Verification",
                f"{PERMENDAGRI_25}; tahap verifikasi",
                gate="review",
                scope="each_government",
            ),
            Step(
                "rancangan_naskah",
                "negotiation",
                "Penyusunan dan pembahasan rancangan naskah",
                "Drafting and inter-ministry discussion of the text",
                f"{PERMENDAGRI_25}; tahap penyusunan dan pembahasan rancangan naskah",
                document="pks",
            ),
            Step(
                "persetujuan_menteri",
                "gate",
                "Persetujuan Menteri",
                "The Minister's approval",
                f"{PERMENDAGRI_25}; tahap persetujuan Menteri (surat kuasa dari Menteri Luar Negeri)",
                gate="ministry",
                scope="once",
            ),
            Step(
                "penandatanganan",
                "signing",
                "Penandatanganan",
                "Signing",
                f"{PERMENDAGRI_25}; tahap penandatanganan",
                document="pks",
            ),
        ),
    )


PROCEDURES: dict[tuple[str, str], Procedure] = {
    (p.key, p.version): p
    for p in (
        _domestic("ksdd", "Kerja sama daerah dengan daerah lain", "Region with another region"),
        _domestic("ksdpk", "Kerja sama daerah dengan pihak ketiga", "Region with a third party"),
        _foreign(
            "ksdpl",
            "Kerja sama daerah dengan pemerintah daerah di luar negeri",
            "Region with a foreign regional government",
        ),
        _foreign("ksdll", "Kerja sama daerah dengan lembaga di luar negeri", "Region with a foreign institution"),
        _domestic_2026("ksdd", "Kerja sama daerah dengan daerah lain", "Region with another region"),
        _domestic_2026("ksdpk", "Kerja sama daerah dengan pihak ketiga", "Region with a third party"),
    )
}

# The version new agreements of each kind start under.
CURRENT: dict[str, str] = {"ksdd": "2026.1", "ksdpk": "2026.1", "ksdpl": "2020.1", "ksdll": "2020.1"}

# The termination decision by the head of region (a gate outside the procedure's steps).
TERMINATION_STEP = Step(
    "pengakhiran",
    "gate",
    "Pengakhiran kerja sama",
    "Termination",
    "PP 28/2018 tentang Kerja Sama Daerah; pengakhiran kerja sama",
    gate="head",
    scope="initiator",
)
# Since 2026: every government party's head decides a termination (any of them may ask).
# Same key: a termination requested before keeps the slots it recorded.
TERMINATION_BY_EACH_HEAD = Step(
    "pengakhiran",
    "gate",
    "Pengakhiran kerja sama",
    "Termination",
    "PP 28/2018 tentang Kerja Sama Daerah; pengakhiran kerja sama (keputusan kepala daerah masing-masing pihak)",
    gate="head",
    scope="each_government",
)


# The day (UTC) from which new agreements start under a version, and the version before it.
# Creation picks the version in force at its own time, so a workflow replaying the creation
# of an agreement started before that day picks the version it started under.
IN_FORCE: dict[tuple[str, str], tuple[date, str]] = {
    ("ksdd", "2026.1"): (date(2026, 12, 1), "2020.1"),
    ("ksdpk", "2026.1"): (date(2026, 12, 1), "2020.1"),
}
# Agreements created from this day keep office-day deadlines and the 2026 change procedures.
RULES_2026_FROM = date(2026, 12, 1)


def get_procedure(key: str, version: str) -> Procedure:
    return PROCEDURES[(key, version)]


def current_procedure(kind: str, on: date | None = None) -> Procedure:
    """The version new agreements of `kind` start under (on day `on`: the one then in force)."""
    version = CURRENT[kind]
    while on is not None and (kind, version) in IN_FORCE and on < IN_FORCE[(kind, version)][0]:
        version = IN_FORCE[(kind, version)][1]
    return PROCEDURES[(kind, version)]


# ---------------------------------------------------------------- changes while in force

PP_28 = "PP 28/2018 tentang Kerja Sama Daerah"

# An addendum (adendum) runs its own negotiation, legal review and signing while the
# agreement stays in force; a renewal (perpanjangan) negotiates a new term, with the DPRD
# where a party needs it, before the current term ends.
AMENDMENT = Procedure(
    key="adendum",
    version="2020.1",
    title_id="Adendum",
    title_en="Amendment",
    steps=(
        Step(
            "penyusunan_adendum",
            "negotiation",
            "Penyusunan adendum",
            "Drafting of the addendum",
            f"{PP_28}; perubahan kerja sama melalui adendum",
            document="adendum",
        ),
        Step(
            "telaah_hukum_adendum",
            "gate",
            "Telaah hukum adendum",
            "Legal review of the addendum",
            f"{PP_28}; perubahan kerja sama (telaah biro hukum)",
            gate="legal",
            scope="each_government",
        ),
        Step(
            "penandatanganan_adendum",
            "signing",
            "Penandatanganan adendum",
            "Signing of the addendum",
            f"{PP_28}; perubahan kerja sama",
            document="adendum",
        ),
    ),
)
RENEWAL = Procedure(
    key="perpanjangan",
    version="2020.1",
    title_id="Perpanjangan",
    title_en="Renewal",
    steps=(
        Step(
            "penyusunan_perpanjangan",
            "negotiation",
            "Penyusunan perjanjian perpanjangan",
            "Drafting of the renewal",
            f"{PP_28}; perpanjangan jangka waktu kerja sama",
            document="pks",
        ),
        Step(
            "persetujuan_dprd_perpanjangan",
            "gate",
            "Persetujuan DPRD atas perpanjangan",
            "DPRD approval of the renewal",
            f"{PP_28}; persetujuan DPRD bila membebani masyarakat",
            gate="dprd",
            scope="each_government",
            condition="requires_dprd_approval",
        ),
        Step(
            "telaah_hukum_perpanjangan",
            "gate",
            "Telaah hukum perpanjangan",
            "Legal review of the renewal",
            f"{PP_28}; perpanjangan (telaah biro hukum)",
            gate="legal",
            scope="each_government",
        ),
        Step(
            "penandatanganan_perpanjangan",
            "signing",
            "Penandatanganan perpanjangan",
            "Signing of the renewal",
            f"{PP_28}; perpanjangan jangka waktu kerja sama",
            document="pks",
        ),
    ),
)
# 2026.1: an addendum that changes the burden on the public or the budget goes to the DPRD
# of each party that requires it, like a renewal.
AMENDMENT_2026 = Procedure(
    key="adendum",
    version="2026.1",
    title_id="Adendum",
    title_en="Amendment",
    steps=(
        AMENDMENT.steps[0],
        Step(
            "persetujuan_dprd_adendum",
            "gate",
            "Persetujuan DPRD atas adendum",
            "DPRD approval of the addendum",
            f"{PP_28}; persetujuan DPRD bila perubahan membebani masyarakat atau anggaran",
            gate="dprd",
            scope="each_government",
            condition="dprd_if_change_burdens",
        ),
        *AMENDMENT.steps[1:],
    ),
)
PROCEDURES.update({(p.key, p.version): p for p in (AMENDMENT, RENEWAL, AMENDMENT_2026)})
# The procedure new changes start under (an open change keeps the one it recorded); an
# agreement created before RULES_2026_FROM keeps the changes of its time (CHANGE_PROCEDURES_2020).
CHANGE_PROCEDURES: dict[str, Procedure] = {"amendment": AMENDMENT_2026, "renewal": RENEWAL}
CHANGE_PROCEDURES_2020: dict[str, Procedure] = {"amendment": AMENDMENT, "renewal": RENEWAL}
