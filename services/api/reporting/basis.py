"""What a report upward follows: the legal basis Pakta's domain notes give (with the article
where they give one), and a plain statement of what no regulation Pakta could consult fixes.
Sources: /work/shared/DOMAIN.md ("Official procedures", "Oversight", "What the texts
confirm, and what they leave open"); docs/reports.md says the same."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LegalBasis(BaseModel):
    topic: str = Field(description="reporting, oversight, foreign_affairs or format")
    basis: str = Field(description="The regulation and article, or 'not fixed' where Pakta's notes give none")
    basis_id: str = Field(
        description="`basis` in Indonesian: the same regulations and articles, the words around them in Indonesian"
    )
    en: str
    id: str


REPORTING = LegalBasis(
    topic="reporting",
    basis="Permendagri 22/2020 (domestic procedure, stages 9-10: penatausahaan, pelaporan)",
    basis_id="Permendagri 22/2020 (prosedur kerja sama dalam negeri, tahap 9-10: penatausahaan, pelaporan)",
    en="Record-keeping and reporting are stages of the domestic cooperation procedure.",
    id="Penatausahaan dan pelaporan adalah tahapan prosedur kerja sama dalam negeri.",
)
GOVERNOR = LegalBasis(
    topic="oversight",
    basis="UU 23/2014 art. 368(1); PP 28/2018 art. 44(3)",
    basis_id="UU 23/2014 Pasal 368 ayat (1); PP 28/2018 Pasal 44 ayat (3)",
    en="The governor, as representative of the central government, guides and supervises the cooperation "
    "of the regencies and cities in the province, and monitors and evaluates it.",
    id="Gubernur, sebagai wakil pemerintah pusat, membina dan mengawasi kerja sama kabupaten/kota di "
    "wilayah provinsinya, serta memantau dan mengevaluasinya.",
)
MINISTER = LegalBasis(
    topic="oversight",
    basis="not fixed: Pakta's domain notes name no article",
    basis_id="belum ditetapkan: catatan domain Pakta tidak menyebut pasalnya",
    en="A province reports to the Minister of Home Affairs; Pakta's notes give no article for this, and "
    "it is not confirmed from a regulation Pakta could consult.",
    id="Provinsi melapor kepada Menteri Dalam Negeri; catatan Pakta tidak menyebut pasalnya, dan hal ini "
    "belum dikonfirmasi dari peraturan yang dapat dibaca Pakta.",
)
FOREIGN_AFFAIRS = LegalBasis(
    topic="foreign_affairs",
    basis="Permendagri 25/2020 (foreign cooperation procedure); no article on informing the Minister in Pakta's notes",
    basis_id="Permendagri 25/2020 (prosedur kerja sama luar negeri); catatan Pakta tidak menyebut pasal tentang "
    "pemberitahuan kepada Menteri",
    en="The Minister of Foreign Affairs is informed of foreign cooperation (KSDPL, KSDLL); the report lists "
    "it separately. Pakta's notes give no article or form for this notice.",
    id="Menteri Luar Negeri diberi tahu tentang kerja sama luar negeri (KSDPL, KSDLL); laporan ini "
    "mencantumkannya tersendiri. Catatan Pakta tidak menyebut pasal atau bentuk pemberitahuan ini.",
)
FORMAT = LegalBasis(
    topic="format",
    basis="not fixed by a regulation Pakta could consult",
    basis_id="tidak diatur oleh peraturan yang dapat dibaca Pakta",
    en="How often reports go to whom and in what format is not fixed by any regulation Pakta could "
    "consult; the sections, the period and this layout are Pakta's own.",
    id="Seberapa sering laporan disampaikan, kepada siapa dan dalam format apa tidak diatur oleh "
    "peraturan yang dapat dibaca Pakta; bagian, periode dan tata letak ini adalah buatan Pakta.",
)


def basis_for(office: str | None, *, foreign: bool) -> list[LegalBasis]:
    """The basis of a report to `office` (None: the platform names no overseer)."""
    oversight = {"governor": [GOVERNOR], "minister_of_home_affairs": [MINISTER]}.get(office or "", [])
    return [REPORTING, *oversight, *([FOREIGN_AFFAIRS] if foreign else []), FORMAT]
