"""A step's legal basis in the reader's language (issue #11, branch names14).

The procedures (workflows/procedures.py) write each step's basis in Indonesian, as the
regulation's name and then what in it the step follows: "Permendagri 22/2020 tentang …;
tahap persiapan". Released procedures never change (agreements record the version they
started under), so the English is here, for the pages: the regulations keep their names (an
official title is not translated), the words after them are. A basis no entry knows (a
procedure version added without its words here) is shown as written;
`tests/web/test_basis.py` checks every released step has its words."""

from __future__ import annotations

# What the step follows in its regulation, Indonesian -> English: the part of a basis after
# its last "; " (the regulations' names come before it).
BASIS_EN: dict[str, str] = {
    # Permendagri 22/2020: the domestic procedure (KSDD, KSDPK)
    "tahap persiapan": "the preparation stage",
    "tahap penawaran dan penyusunan kesepakatan bersama": "the offer and drafting of the memorandum (KSB)",
    "tahap penandatanganan kesepakatan bersama": "the signing of the memorandum (KSB)",
    "TKKSD menyetujui rancangan kesepakatan bersama sebelum ditandatangani": (
        "the TKKSD approves the drafted memorandum (KSB) before it is signed"
    ),
    "PP 28/2018: persetujuan DPRD bila membebani masyarakat atau belum dianggarkan dalam APBD": (
        "PP 28/2018: the DPRD's approval where the cooperation burdens the public or is not budgeted in the APBD"
    ),
    "tahap penyusunan perjanjian kerja sama": "the drafting of the agreement (PKS)",
    "penyusunan perjanjian kerja sama (telaah biro hukum)": (
        "the drafting of the agreement (PKS): the legal bureau's review"
    ),
    "tahap penandatanganan perjanjian kerja sama": "the signing of the agreement (PKS)",
    # Permendagri 25/2020: the foreign procedure (KSDPL, KSDLL)
    "tahap prakarsa, penjajakan dan pernyataan kehendak": (
        "the initiative, exploration and statement of intent (LoI) stage"
    ),
    "tahap penyusunan rencana kerja sama": "the drafting of the cooperation plan",
    "tahap verifikasi": "the verification stage",
    "tahap persetujuan DPRD": "the DPRD's approval stage",
    "tahap penyusunan dan pembahasan rancangan naskah": "the drafting and discussion of the draft text",
    "tahap persetujuan Menteri (surat kuasa dari Menteri Luar Negeri)": (
        "the Minister's approval stage (a power of attorney from the Minister of Foreign Affairs)"
    ),
    "tahap penandatanganan": "the signing stage",
    # PP 28/2018: changes and termination
    "perubahan kerja sama": "changing a cooperation",
    "perubahan kerja sama melalui adendum": "changing a cooperation by an addendum",
    "perubahan kerja sama (telaah biro hukum)": "changing a cooperation: the legal bureau's review",
    "persetujuan DPRD bila membebani masyarakat": "the DPRD's approval where it burdens the public",
    "persetujuan DPRD bila perubahan membebani masyarakat atau anggaran": (
        "the DPRD's approval where the change burdens the public or the budget"
    ),
    "perpanjangan jangka waktu kerja sama": "extending the term of a cooperation",
    "perpanjangan (telaah biro hukum)": "an extension: the legal bureau's review",
    "pengakhiran kerja sama": "ending a cooperation",
    "pengakhiran kerja sama (keputusan kepala daerah masing-masing pihak)": (
        "ending a cooperation (the decision of each party's regional head)"
    ),
}


def basis_in(basis: str, lang: str) -> str:
    """A step's `basis` (Indonesian, as the procedure writes it) in `lang`: in English, the
    regulations' names as they are and the words after them in English."""
    if lang == "id":
        return basis
    regulations, sep, what = basis.rpartition("; ")
    english = BASIS_EN.get(what)
    if english is None:
        return basis
    return f"{regulations}{sep}{english}"
