"""Words and formats of the web pages: Indonesian by default, English per reader; dates,
times and numbers through Babel; times in the reader's zone with its Indonesian name
(WIB, WITA, WIT) or its UTC offset elsewhere."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import NumberFormatError, format_decimal, format_scientific, parse_decimal

from services.api.web import refusal_words
from services.api.web.basis_words import basis_in
from services.api.web.life_words import EDITION, EVENTS, RECOUNTS, VALUES
from services.api.web.plan_words import PLAN_ACTIONS, PLAN_EN, PLAN_ID
from services.errors import PaktaError
from workflows.messages import MAX_FIGURE, LocalizedName
from workflows.procedures import Step

# Babel rounds a number in the decimal module's context, of 28 digits by default: a float of
# 10^25 or more (an indicator's target, a measurement, an achievement: floats the parties
# write) raised InvalidOperation there, and every page showing it was a 500 from then on.
# Such a number is formatted again in a context wide enough for any float.
_WIDE = decimal.Context(prec=400, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
LOCALES = {"id": "id_ID", "en": "en_GB"}
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
# The zones a reader picks from (Indonesia's three, then UTC).
READER_ZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "UTC")

# English text -> Indonesian. English readers see the key itself.
ID: dict[str, str] = {
    "Inbox": "Kotak masuk",
    "Agreements": "Perjanjian",
    "Dashboard": "Dasbor",
    "Reports upward": "Laporan ke atas",
    "Register of organisations": "Register organisasi",
    "New proposal": "Usulan baru",
    "Sign in": "Masuk",
    "Sign out": "Keluar",
    "Signed in as": "Masuk sebagai",
    "Language": "Bahasa",
    "Time zone": "Zona waktu",
    "Save": "Simpan",
    "Skip to content": "Lompat ke isi",
    "Main navigation": "Navigasi utama",
    "Public portal": "Portal publik",
    "API documentation": "Dokumentasi API",
    "Demo people": "Pengguna demo",
    "Sign in as one of the demo people of pakta dev, or paste a bearer token.": (
        "Masuk sebagai salah satu pengguna demo pakta dev, atau tempel token bearer."
    ),
    "Bearer token": "Token bearer",
    "Sign in with token": "Masuk dengan token",
    "The token is not valid.": "Token tidak valid.",
    "Sign in through the identity provider.": "Masuk melalui penyedia identitas.",
    "Signing in through the identity provider failed.": "Gagal masuk melalui penyedia identitas.",
    "Nothing awaits you now.": "Tidak ada yang menunggu Anda saat ini.",
    "What awaits you": "Yang menunggu Anda",
    "Agreement": "Perjanjian",
    "Action": "Tindakan",
    "Deadline": "Tenggat",
    "Overdue": "Terlambat",
    "Stage": "Tahap",
    "Kind": "Jenis",
    "Step": "Langkah",
    "Legal basis": "Dasar hukum",
    "Approve": "Setujui",
    "Request changes": "Minta perubahan",
    "Reject": "Tolak",
    "Decline the termination": "Tolak pengakhiran",
    "Nothing you can do on this agreement now.": "Tidak ada yang dapat Anda lakukan pada perjanjian ini sekarang.",
    "Comment": "Komentar",
    "A comment is required to request changes or reject.": "Komentar wajib diisi untuk meminta perubahan atau menolak.",
    "View the diff and accept": "Lihat perbedaan dan terima",
    "Accept this version": "Terima versi ini",
    "Sign electronically": "Tanda tangani secara elektronik",
    "Signed by (name)": "Ditandatangani oleh (nama)",
    "Signed on paper (wet ink)": "Ditandatangani di atas kertas (basah)",
    "Scan of the signed document (PDF)": "Pindaian dokumen yang ditandatangani (PDF)",
    "Record the wet-ink signature": "Catat tanda tangan basah",
    "Upload the signed scan (PDF).": "Unggah pindaian yang telah ditandatangani (PDF).",
    "Submit": "Ajukan",
    "Submit the proposal": "Ajukan usulan",
    "Submit a draft": "Kirim draf",
    "Draft text": "Teks draf",
    "Note": "Catatan",
    "Evaluation report": "Laporan evaluasi",
    "Submit the report": "Kirim laporan",
    "Narrative": "Uraian",
    "Achieved": "Capaian",
    "Target": "Target",
    "Unit": "Satuan",
    "Score": "Nilai",
    "Recommendation": "Rekomendasi",
    "Conclude the evaluation": "Simpulkan evaluasi",
    "Start an evaluation now": "Mulai evaluasi sekarang",
    "Withdraw": "Tarik kembali",
    "Reason": "Alasan",
    "Add a comment": "Tambah komentar",
    "Parties": "Para pihak",
    "Organisation": "Organisasi",
    "Role": "Peran",
    "Sector": "Sektor",
    "Signatory": "Penanda tangan",
    "Foreign": "Luar negeri",
    "Purpose": "Maksud dan tujuan",
    "Term": "Jangka waktu",
    "Start": "Mulai",
    "End": "Berakhir",
    "months": "bulan",
    "Value": "Nilai kerja sama",
    "Indicators": "Indikator",
    "Current step": "Langkah saat ini",
    "Lifecycle": "Siklus hidup",
    "Timeline": "Riwayat",
    "The audit chain is intact.": "Rantai audit utuh.",
    "The audit chain is broken.": "Rantai audit rusak.",
    "Drafts": "Draf",
    "Version": "Versi",
    "Accepted by": "Diterima oleh",
    "Signatures": "Tanda tangan",
    "Document hash": "Hash dokumen",
    "Method": "Metode",
    "Evaluations": "Evaluasi",
    "Burdens the public": "Membebani masyarakat",
    "Does not burden the public": "Tidak membebani masyarakat",
    "Activities": "Kegiatan",
    "reports": "laporan",
    "Documents": "Dokumen",
    "Download": "Unduh",
    "Printable summary (PDF)": "Ringkasan cetak (PDF)",
    "What you can do": "Yang dapat Anda lakukan",
    "Done.": "Selesai.",
    "Refused": "Ditolak",
    "Not found": "Tidak ditemukan",
    "The page or agreement does not exist, or is not yours to see.": (
        "Halaman atau perjanjian tidak ada, atau bukan untuk Anda lihat."
    ),
    "Forbidden": "Dilarang",
    "Not allowed": "Tidak diizinkan",
    "This address does not take that kind of request: go back and use the page's own links and buttons.": (
        "Alamat ini tidak menerima permintaan seperti itu: kembali dan gunakan tautan dan tombol halaman itu sendiri."
    ),
    "This field takes text, not a file": "Isian ini berupa teks, bukan berkas",
    "Bad address": "Alamat tidak valid",
    "The address has a part this page cannot read: go back and use the site's own links.": (
        "Alamat ini memuat bagian yang tidak dapat dibaca halaman ini: kembali dan gunakan tautan situs ini sendiri."
    ),
    "The form holds a value this page refuses": "Formulir memuat nilai yang ditolak halaman ini",
    "The form is missing its security token or it has expired; reload the page and try again.": (
        "Formulir tidak memuat token keamanannya atau token telah kedaluwarsa; muat ulang halaman dan coba lagi."
    ),
    "Too large": "Terlalu besar",
    "The form is larger than this page takes: a document may be at most {size} MB. Upload a smaller "
    "one (a scan at a lower resolution, for instance) and send the form again.": (
        "Formulir lebih besar dari yang diterima halaman ini: dokumen paling besar {size} MB. Unggah yang lebih "
        "kecil (misalnya pindaian beresolusi lebih rendah) lalu kirim formulir lagi."
    ),
    "The form is larger than this page takes: at most {size} MB. Shorten what you wrote and send it again.": (
        "Formulir lebih besar dari yang diterima halaman ini: paling besar {size} MB. Persingkat isian Anda "
        "lalu kirim lagi."
    ),
    "The form could not be read: one of its fields is over 1 MB, or it has more than 1,000 fields. "
    "Shorten it and send it again.": (
        "Formulir tidak dapat dibaca: salah satu isiannya lebih dari 1 MB, atau isiannya lebih dari 1.000. "
        "Persingkat lalu kirim lagi."
    ),
    "Changes between versions": "Perubahan antarversi",
    "Only text drafts can be compared.": "Hanya draf teks yang dapat dibandingkan.",
    "Back to the agreement": "Kembali ke perjanjian",
    "Title": "Judul",
    "Objectives": "Maksud dan tujuan",
    "Start date": "Tanggal mulai",
    "Duration (months)": "Lama (bulan)",
    "Evaluation interval (months)": "Interval evaluasi (bulan)",
    "Value (rupiah, optional)": "Nilai (rupiah, opsional)",
    "Initiator": "Pemrakarsa",
    "Counterparty": "Mitra",
    "Requires DPRD approval": "Perlu persetujuan DPRD",
    (
        "DPRD approval is required when the cooperation burdens the public or is not budgeted in your"
        " APBD; then the request to the DPRD is put on record."
    ): (
        "Persetujuan DPRD diperlukan bila kerja sama membebani masyarakat atau tidak dianggarkan"
        " dalam APBD Anda; isi permohonan kepada DPRD lalu dicatat."
    ),
    "The cooperation burdens the public": "Kerja sama membebani masyarakat",
    "Budgeted in our APBD": "Dianggarkan dalam APBD kami",
    "Aims": "Tujuan",
    "Object": "Objek",
    "Rights and duties": "Hak dan kewajiban",
    "Benefits": "Manfaat",
    "Burden on the public": "Beban bagi masyarakat",
    "APBD contribution (rupiah)": "Kontribusi APBD (rupiah)",
    "Save the draft": "Simpan draf",
    "Edit the proposal": "Ubah usulan",
    "Name": "Nama",
    "Please correct the fields marked below.": "Perbaiki isian yang ditandai di bawah.",
    "Filter": "Saring",
    "Search": "Cari",
    "All": "Semua",
    "Partner organisation": "Organisasi mitra",
    "Only overdue": "Hanya yang terlambat",
    "Ending within (days)": "Berakhir dalam (hari)",
    "Export CSV": "Ekspor CSV",
    "Next page": "Halaman berikutnya",
    "No agreements.": "Tidak ada perjanjian.",
    "By stage": "Menurut tahap",
    "By kind": "Menurut jenis",
    "By sector": "Menurut sektor",
    "By partner": "Menurut mitra",
    "Ending within 90 days": "Berakhir dalam 90 hari",
    "Updated": "Diperbarui",
    "Who": "Siapa",
    "What": "Apa",
    "When": "Kapan",
    "Published agreements": "Perjanjian yang dipublikasikan",
    "Open data": "Data terbuka",
    "Transparency portal": "Portal transparansi",
    "Nothing has been published yet.": "Belum ada yang dipublikasikan.",
    "By region": "Menurut daerah",
    "By year": "Menurut tahun",
    "Publishing": "Publikasi",
    "Published": "Dipublikasikan",
    "Not published": "Tidak dipublikasikan",
    "Publish": "Publikasikan",
    "Achievement against target": "Capaian terhadap target",
    "Passed": "Dilalui",
    "Current": "Saat ini",
    "Ahead": "Berikutnya",
    "Total": "Jumlah",
    "Citizens' feedback": "Masukan warga",
    "Amendments and renewals": "Adendum dan perpanjangan",
    "In progress": "Sedang berjalan",
    "Verify again": "Periksa ulang",
    "Days": "Hari",
    "Evaluation scores": "Nilai evaluasi",
    "Average": "Rata-rata",
    "optional": "opsional",
    "Anonymous": "Anonim",
    "Thank you. Your feedback will appear once the organisation has reviewed it.": (
        "Terima kasih. Masukan Anda akan tampil setelah ditinjau oleh organisasi."
    ),
    "Your name (optional)": "Nama Anda (opsional)",
    "Your feedback": "Masukan Anda",
    "Send feedback": "Kirim masukan",
    "Write your feedback.": "Tuliskan masukan Anda.",
    "At most 2000 characters.": "Paling banyak 2000 karakter.",
    "The text holds characters that cannot be stored.": "Teks memuat karakter yang tidak dapat disimpan.",
    "Too many messages from you in the last hour; try again later.": (
        "Terlalu banyak pesan dari Anda dalam satu jam terakhir; coba lagi nanti."
    ),
    "Only staff of the organisation moderate feedback.": "Hanya staf organisasi yang memoderasi masukan.",
    "Choose whether to show the message or not.": "Pilih apakah pesan ditampilkan atau tidak.",
    "Nothing to moderate.": "Tidak ada yang perlu dimoderasi.",
    "Show on the portal": "Tampilkan di portal",
    "Do not show": "Jangan tampilkan",
    "By partner kind": "Menurut jenis mitra (pentahelix)",
    "Cooperation agreements that regions have chosen to publish.": (
        "Perjanjian kerja sama yang dipilih daerah untuk dipublikasikan."
    ),
    # publishing per agreement (#12)
    "Publish on the transparency portal": "Publikasikan di portal transparansi",
    "Update the publication": "Perbarui publikasi",
    "Take the publication back": "Tarik publikasi",
    "Signed documents to make public": "Dokumen bertanda tangan yang dipublikasikan",
    "Public documents": "Dokumen publik",
    "Signed text": "Naskah bertanda tangan",
    "Signing evidence": "Bukti penandatanganan",
    "Also published by": "Juga dipublikasikan oleh",
    "Your organisation": "Organisasi Anda",
    "Nothing signed yet.": "Belum ada yang ditandatangani.",
    "The portal shows parties, purpose, term, stage and evaluation scores — never the value, drafts, comments or "
    "names of officials — and the signed documents you tick here.": (
        "Portal menampilkan para pihak, maksud dan tujuan, jangka waktu, tahap dan nilai evaluasi — tidak pernah "
        "nilai kerja sama, draf, komentar, atau nama pejabat — serta dokumen bertanda tangan yang Anda centang di sini."
    ),
    "Each signed agreement is published, or taken back, by a party's staff on the agreement's page; the decision "
    "is recorded in its audit trail.": (
        "Setiap perjanjian yang telah ditandatangani dipublikasikan, atau ditarik, oleh staf salah satu pihak di "
        "halaman perjanjian; keputusan itu tercatat dalam jejak auditnya."
    ),
}

ID |= PLAN_ID  # the implementation's words (#13)

STAGES_ID = {
    "draft": "Draf",
    "review": "Kajian",
    "negotiation": "Negosiasi",
    "approval": "Persetujuan",
    "signing": "Penandatanganan",
    "implementation": "Pelaksanaan",
    "rejected": "Ditolak",
    "withdrawn": "Ditarik",
    "terminated": "Diakhiri",
    "expired": "Berakhir",
}
STAGES_EN = {k: k.capitalize() for k in STAGES_ID}
KINDS = {
    "id": {
        "ksdd": "KSDD — dengan daerah lain",
        "ksdpk": "KSDPK — dengan pihak ketiga",
        "ksdpl": "KSDPL — dengan pemerintah daerah di luar negeri",
        "ksdll": "KSDLL — dengan lembaga di luar negeri",
    },
    "en": {
        "ksdd": "KSDD — with another region",
        "ksdpk": "KSDPK — with a third party",
        "ksdpl": "KSDPL — with a foreign regional government",
        "ksdll": "KSDLL — with a foreign institution",
    },
}
ACTIONS = {
    "id": {
        "create": "Buat usulan",
        "submit": "Ajukan usulan",
        "decide": "Putuskan",
        "submit_draft": "Kirim draf",
        "accept_draft": "Terima draf",
        "sign": "Tanda tangani",
        "submit_evaluation_report": "Kirim laporan evaluasi",
        "conclude_evaluation": "Simpulkan evaluasi",
        "start_evaluation": "Mulai evaluasi",
        "edit": "Ubah usulan",
        "withdraw": "Tarik kembali",
        "comment": "Komentar",
        "extend_deadline": "Perpanjang tenggat",
        "propose_amendment": "Usulkan adendum",
        "renew": "Perpanjang kerja sama",
        "terminate": "Usulkan pengakhiran",
        "publish": "Publikasikan",
        "unpublish": "Tarik publikasi",
        "set_dprd_requirement": "Nyatakan keperluan persetujuan DPRD",
        "edit_change": "Ubah adendum atau perpanjangan",
        "withdraw_change": "Tarik adendum atau perpanjangan",
    },
    "en": {
        "create": "Create the proposal",
        "submit": "Submit the proposal",
        "decide": "Decide",
        "submit_draft": "Submit a draft",
        "accept_draft": "Accept the draft",
        "sign": "Sign",
        "submit_evaluation_report": "Submit the evaluation report",
        "conclude_evaluation": "Conclude the evaluation",
        "start_evaluation": "Start an evaluation",
        "edit": "Edit the proposal",
        "withdraw": "Withdraw",
        "comment": "Comment",
        "extend_deadline": "Extend a deadline",
        "propose_amendment": "Propose an amendment",
        "renew": "Renew",
        "terminate": "Propose termination",
        "publish": "Publish",
        "unpublish": "Take the publication back",
        "set_dprd_requirement": "State the DPRD requirement",
        "edit_change": "Edit the amendment or renewal",
        "withdraw_change": "Withdraw the amendment or renewal",
    },
}
# A person's roles (`services.auth.ROLES`) as the header and the sign-in page name them.
ROLES = {
    "id": {
        "staff": "staf",
        "partner": "mitra",
        "signatory": "penanda tangan",
        "approver": "pemberi persetujuan",
        "scheduler": "penjadwal",
        "auditor": "auditor",
        "admin": "administrator",
        "operator": "operator platform",
    },
    "en": {
        "staff": "staff",
        "partner": "partner",
        "signatory": "signatory",
        "approver": "approver",
        "scheduler": "scheduler",
        "auditor": "auditor",
        "admin": "administrator",
        "operator": "platform operator",
    },
}
GATES = {
    "id": {
        "review": "Kajian TKKSD",
        "legal": "Biro hukum",
        "dprd": "DPRD",
        "ministry": "Menteri",
        "head": "Kepala daerah",
    },
    "en": {
        "review": "TKKSD review",
        "legal": "Legal bureau",
        "dprd": "DPRD",
        "ministry": "Minister",
        "head": "Head of region",
    },
}


for _lang, _names in PLAN_ACTIONS.items():
    ACTIONS[_lang] |= _names


def parse_number(text: str, lang: str) -> float | None:
    """A number as a reader of `lang` writes it, None if it is not one. Indonesian puts a dot
    between thousands and a comma before decimals ("1.250,5"), English the other way round:
    the pages show numbers so, and read them so. A float() of "1.000" read an Indonesian
    thousand as one. Babel's strict reading refuses what the language makes ambiguous
    ("1.5" in Indonesian: fifteen, or one and a half?), so the reader is asked again."""
    try:
        number = parse_decimal(text.strip(), locale=LOCALES.get(lang, LOCALES[DEFAULT_LANGUAGE]), strict=True)
    except (NumberFormatError, ValueError, decimal.InvalidOperation):
        return None
    # Babel reads "NaN", "Infinity" and "1e400" (past a float) as numbers; no figure is one,
    # and passed on they were refused with the command's field path for a name.
    return float(number) if number.is_finite() and math.isfinite(float(number)) else None


def plain_number(value: float, lang: str) -> str:
    """A number as a form field holds it for `lang` to read back: every digit, no grouping."""
    text = repr(float(value)).removesuffix(".0")
    return text.replace(".", ",") if lang == "id" else text


class Translator:
    """What a page needs to speak: `t`, names of stages/kinds/actions/gates, and formats."""

    def __init__(self, lang: str, zone: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.zone = zone
        self.locale = LOCALES[self.lang]

    def t(self, text: str) -> str:
        return ID.get(text, text) if self.lang == "id" else PLAN_EN.get(text, text)

    def refusal(self, error: PaktaError) -> str:
        """A refusal as the agreement's pages show it, in the reader's words by its code
        (`refusal_words`: the API's JSON keeps its English message)."""
        return refusal_words.worded(error.code, error.message, error.details, self.lang, self.stage)

    def stage(self, stage: str) -> str:
        return (STAGES_ID if self.lang == "id" else STAGES_EN).get(stage, stage)

    def kind(self, kind: str) -> str:
        return KINDS[self.lang].get(kind, kind)

    def action(self, action: str) -> str:
        return ACTIONS[self.lang].get(action, action.replace("_", " "))

    def known_action(self, action: str | None) -> str | None:
        """An action's name if `action` is one the pages know, else None: `done` comes from
        the address, which anyone may write into a link ("?done=Your account is closed")."""
        return ACTIONS[self.lang].get(action or "")

    def roles(self, roles: Iterable[str]) -> str:
        """A person's roles in the reader's words, joined."""
        return ", ".join(ROLES[self.lang].get(role, role) for role in roles)

    def gate(self, gate: str | None) -> str:
        return GATES[self.lang].get(gate or "", gate or "")

    def value(self, value: str | None) -> str:
        """A value of the messages' literals (a sector, a signature's method, a recommendation,
        a change's kind, a gate's outcome) as a reader's word; anything else as it is."""
        return "—" if value is None else VALUES[self.lang].get(value, value)

    def event(self, type_: str, data: Mapping[str, Any]) -> str:
        """An audit trail's event as its line in the timeline: what happened, then its gate,
        outcome, version, method and the words people wrote (a comment, a reason)."""
        parts = [EVENTS[self.lang].get(type_, type_.replace("_", " "))]
        recount = type_ == "deadline_recounted"
        if recount and data.get("reason") in RECOUNTS[self.lang]:  # a new national edition
            parts = [RECOUNTS[self.lang][str(data["reason"])]]
            if data.get("edition") is not None:
                parts[0] += f" ({EDITION[self.lang]} {data['edition']})"
        if data.get("gate"):
            parts.append(self.gate(str(data["gate"])))
        if data.get("outcome"):
            parts.append(self.value(str(data["outcome"])))
        if data.get("version") is not None:
            parts.append(f"v{data['version']}")
        if data.get("method"):
            parts.append(self.value(str(data["method"])))
        if data.get("previous_due_at") and data.get("due_at"):  # a recount: which date moved where
            moved = [dt.datetime.fromisoformat(str(data[k])) for k in ("previous_due_at", "due_at")]
            parts.append(" → ".join(self.datetime(at) for at in moved))
        # A recount's reason is its headline above, not words people wrote.
        parts += [self.value(str(data[k])) for k in ("comment", "text", "reason") if data.get(k) and not recount]
        return " · ".join(parts)

    def step_name(self, name: LocalizedName | Step) -> str:
        """A step's name: from a snapshot's step view (`LocalizedName`) or a procedure's `Step`."""
        if isinstance(name, Step):
            return name.name_id if self.lang == "id" else name.name_en
        return name.id if self.lang == "id" else name.en

    def zone_name(self, at: dt.datetime | None = None) -> str:
        if self.zone in ZONE_NAMES:
            return ZONE_NAMES[self.zone]
        if self.zone == "UTC":
            return "UTC"
        offset = (at or dt.datetime.now(ZoneInfo(self.zone))).astimezone(ZoneInfo(self.zone)).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        sign = "+" if minutes >= 0 else "-"
        return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    def datetime(self, value: dt.datetime | None) -> str:
        if value is None:
            return "—"
        local = value.astimezone(ZoneInfo(self.zone))
        text = format_datetime(local, "d MMM yyyy HH:mm", tzinfo=ZoneInfo(self.zone), locale=self.locale)
        return f"{text} {self.zone_name(value)}"

    def date(self, value: dt.date | dt.datetime | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, dt.datetime):
            value = value.astimezone(ZoneInfo(self.zone)).date()
        return format_date(value, "d MMMM yyyy", locale=self.locale)

    def basis(self, basis: str) -> str:
        """A step's legal basis in the reader's language (`basis_words`)."""
        return basis_in(basis, self.lang)

    def scope(self, scope: str) -> str:
        """A draft's scope as a reader names it: "amendment-1" is "Adendum #1"."""
        kind, _, number = scope.rpartition("-")
        return f"{self.value(kind)} #{number}" if kind in VALUES[self.lang] and number.isdigit() else scope

    def changes(self, changes: Mapping[str, Any]) -> str:
        """What a signed amendment or renewal changed (its `changes`, as recorded), in words."""
        parts = []
        for key, value in changes.items():
            if value is None:
                continue
            if key == "end_date":
                parts.append(f"{self.t('End')}: {self.date(dt.date.fromisoformat(str(value)))}")
            elif key == "duration_months":
                parts.append(f"+{value} {self.t('months')}")
            elif key == "evaluation_interval_months":
                parts.append(f"{self.t('Evaluation interval (months)')}: {value}")
            elif key == "value":
                parts.append(f"{self.t('Value')}: {self.money(value)}")
            elif key == "objectives":
                parts.append(f"{self.t('Purpose')}: {value}")
            elif key == "indicators":
                parts.append(f"{self.t('Indicators')}: " + ", ".join(str(i.get("name", "")) for i in value))
            elif key == "burdens_public":
                parts.append(self.t("Burdens the public") if value else self.t("Does not burden the public"))
            elif key in ("obligations", "activities"):
                parts.append(f"{self.t(key.capitalize())}: {len(value)}")
        return " · ".join(parts)

    def term(self, start: dt.date, end: dt.date | None, months: int | None = None) -> str:
        """An agreement's term: its start and end once the end is known (from signing on; an
        amendment or renewal moves the end, not the proposal's months, so the months would
        disagree with it), else its start and, where given, the months proposed."""
        if end is not None:
            return f"{self.date(start)} — {self.date(end)}"
        return self.date(start) if months is None else f"{self.date(start)}, {months} {self.t('months')}"

    def number(self, value: float | int | None) -> str:
        if value is None:
            return "—"
        if abs(value) > MAX_FIGURE and math.isfinite(value):
            # Beyond what a party may write now (`workflows.messages.MAX_FIGURE`), recorded
            # before the bound: in scientific notation, 1E308 rather than 309 digits.
            return format_scientific(value, "#.###E0", locale=self.locale)
        try:
            return format_decimal(value, locale=self.locale)
        except decimal.InvalidOperation:
            with decimal.localcontext(_WIDE):
                return format_decimal(value, locale=self.locale)

    def money(self, value: int | None) -> str:
        return "—" if value is None else f"Rp {format_decimal(value, locale=self.locale)}"
