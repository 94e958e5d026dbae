"""A refusal as the agreement's pages show it, in the reader's language, by its `code`.

The API's JSON keeps its English `message`; the pages word every code an action or a form
on the agreement's pages can meet (the decider's refusals, `workflows.lifecycle.errors` and
`bounds`; the workflow's and the API's, `services.errors`, `services.api.commands`,
`idempotency`, `document_access`, `actions`): tests/web/test_refusal_codes.py walks them
all and fails for a code without both. A code whose details hold its figures is worded from
them, in either language. Otherwise each reader reads the code's sentence in their
language — the two say the same: the API's message of a code such as `temporal_unavailable`
lacks the page's "the action may have been recorded" (review18) — except for a code whose
message says which rule refused (`NAMES_ITS_RULE`): an English reader reads that message,
the rule's own words naming what it refused, and an Indonesian reader the code's sentence
with that message after it, marked as the rule's English words, so no particular is lost.
Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Every code's sentence: what happened and what the reader may do, nothing changed.
REFUSALS: dict[str, dict[str, str]] = {
    # The decider's (`workflows.lifecycle.errors`, `bounds`).
    "invalid_transition": {
        "id": "Tindakan ini tidak dapat dilakukan pada keadaan perjanjian saat ini; tidak ada yang diubah.",
        "en": "This action cannot be taken in the agreement's present state; nothing was changed.",
    },
    "forbidden": {
        "id": "Anda tidak berwenang melakukan tindakan ini pada perjanjian ini; tidak ada yang diubah.",
        "en": "You may not take this action on this agreement; nothing was changed.",
    },
    "stale_version": {
        "id": (
            "Perjanjian telah berubah sejak halaman ini dibuka; muat ulang halaman, periksa perubahannya, "
            "lalu coba lagi. Tidak ada yang diubah."
        ),
        "en": (
            "The agreement has changed since this page was opened; reload the page, check what changed and "
            "try again. Nothing was changed."
        ),
    },
    "invalid_proposal": {
        "id": "Isian tidak memenuhi ketentuan yang berlaku untuk perjanjian ini; tidak ada yang diubah.",
        "en": "What was sent breaks a rule that applies to this agreement; nothing was changed.",
    },
    "nothing_due": {
        "id": "Belum ada yang jatuh tempo; tidak ada yang diubah.",
        "en": "Nothing is due yet; nothing was changed.",
    },
    "settings_unchanged": {
        "id": "Pengaturan pihak ini sudah berlaku pada perjanjian; tidak ada yang diubah.",
        "en": "The agreement already has this party's settings; nothing was changed.",
    },
    "settings_superseded": {
        "id": "Pengaturan yang lebih baru dari pihak ini sudah berlaku pada perjanjian; tidak ada yang diubah.",
        "en": "Newer settings of this party already apply to the agreement; nothing was changed.",
    },
    "too_many_extensions": {
        "id": "Tenggat ini sudah diperpanjang {limit} kali, batas untuk satu tenggat; tidak ada yang diubah.",
        "en": "This due date has been extended {limit} times, the most one due date may be; nothing was changed.",
    },
    "agreement_too_large": {
        "id": (
            "Tindakan ini akan membuat catatan perjanjian menjadi {size} KB, melebihi batasnya {limit} KB; tidak ada "
            "yang diubah. Bagian terbesarnya: {largest}. Persingkat teks yang panjang — muat uraian, catatan, atau "
            "narasi yang panjang dalam dokumen yang diunggah lalu rujuk dokumen itu — atau kirim lebih sedikit butir "
            "sekaligus."
        ),
        "en": (
            "This would make the agreement's record {size} KB, over its limit of {limit} KB; nothing was changed. "
            "Its largest parts: {largest}. Keep long texts short — put a long description, note or narrative in "
            "an uploaded document and refer to it — or send fewer items at once."
        ),
    },
    # The workflow's and the API's (`workflows.agreement`, `services.api.commands`, ...).
    "unrecordable": {
        "id": "Salah satu nilai dalam tindakan ini tidak dapat disimpan; tidak ada yang diubah.",
        "en": "A value of this action cannot be stored; nothing was changed.",
    },
    "record_conflict": {
        "id": "Tindakan ini tidak dapat dicatat; tidak ada yang diubah. Muat ulang halaman lalu coba lagi.",
        "en": "The action could not be recorded; nothing was changed. Reload the page and try again.",
    },
    "command_failed": {
        "id": "Tindakan ini tidak dapat dilaksanakan; tidak ada yang diubah.",
        "en": "The action could not be carried out; nothing was changed.",
    },
    "temporal_unavailable": {
        "id": (
            "Layanan alur kerja sedang tidak tersedia; coba lagi beberapa saat lagi. Muat ulang halaman lebih dulu: "
            "tindakan ini mungkin sudah tercatat."
        ),
        "en": (
            "The workflow service is unavailable; try again shortly. Reload the page first: the action may have "
            "been recorded."
        ),
    },
    "not_recorded": {
        "id": "Perjanjian belum tercatat; coba lagi beberapa saat lagi.",
        "en": "The agreement is not recorded yet; try again shortly.",
    },
    "invalid_if_match": {
        "id": "Versi perjanjian yang dikirim formulir tidak terbaca; muat ulang halaman lalu coba lagi.",
        "en": "The form sent a version of the agreement that cannot be read; reload the page and try again.",
    },
    "idempotency_key_reused": {
        "id": "Formulir ini sudah pernah dikirim dengan isi yang lain; muat ulang halaman lalu kirim lagi.",
        "en": "This form was already sent with other contents; reload the page and send it again.",
    },
    "invalid_idempotency_key": {
        "id": "Kode pengiriman formulir ini tidak valid; muat ulang halaman lalu kirim lagi.",
        "en": "The form's sending code is not valid; reload the page and send it again.",
    },
    "unknown_document": {
        "id": "Lampirkan hanya dokumen yang diunggah organisasi Anda; tidak ada yang diubah.",
        "en": "Attach only documents your organisation uploaded; nothing was changed.",
    },
    # The API's kinds of error (`services.errors`, `services.auth`).
    "unauthorized": {
        "id": "Anda perlu masuk terlebih dahulu.",
        "en": "You need to sign in first.",
    },
    "invalid_token": {
        "id": "Sesi masuk Anda tidak valid atau telah berakhir; silakan masuk kembali.",
        "en": "Your sign-in is not valid or has expired; please sign in again.",
    },
    "not_found": {
        "id": "Perjanjian atau dokumen tidak ditemukan, atau bukan untuk Anda lihat.",
        "en": "The agreement or document does not exist, or is not yours to see.",
    },
    "conflict": {
        "id": "Tindakan ini tidak sesuai dengan keadaan perjanjian saat ini; tidak ada yang diubah.",
        "en": "This action conflicts with the agreement's present state; nothing was changed.",
    },
    "precondition_failed": {
        "id": "Perjanjian telah berubah sejak halaman ini dibuka; muat ulang halaman lalu coba lagi.",
        "en": "The agreement has changed since this page was opened; reload the page and try again.",
    },
    "payload_too_large": {
        "id": "Isian terlalu besar untuk diterima; tidak ada yang diubah.",
        "en": "What was sent is too large to take; nothing was changed.",
    },
    "unprocessable": {
        "id": "Permintaan ini tidak dapat diproses; tidak ada yang diubah.",
        "en": "The request cannot be processed; nothing was changed.",
    },
    "service_unavailable": {
        "id": "Layanan sedang tidak tersedia; coba lagi beberapa saat lagi.",
        "en": "The service is unavailable; try again shortly.",
    },
    "internal_error": {
        "id": "Terjadi kesalahan pada sistem; coba lagi beberapa saat lagi.",
        "en": "Something went wrong on our side; try again shortly.",
    },
}

# Codes whose message says which rule refused, and what (a gate, an evaluation, an activity,
# a field): the Indonesian page shows it after the code's sentence, as the rule's own words.
NAMES_ITS_RULE = frozenset({"invalid_transition", "forbidden", "invalid_proposal", "conflict", "unprocessable"})
# Codes worded from their figures: without them (a refusal stored before they were given),
# worded as the rule broken, with its message.
_FIGURED = frozenset({"too_many_extensions", "agreement_too_large"})
RULE_IN_ENGLISH = {"id": "Rincian aturan (dalam bahasa Inggris)", "en": "Details"}
STAGE = {"id": "Tahap perjanjian saat ini", "en": "The agreement's stage"}


def _figures(code: str, details: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a code worded from its details fills in, None when the details lack it (a
    refusal stored before they were given)."""
    if code == "too_many_extensions":
        limit = details.get("limit")
        return {"limit": limit} if isinstance(limit, int) else None
    if code == "agreement_too_large":
        size, limit, largest = details.get("size"), details.get("limit"), details.get("largest")
        if not (isinstance(size, int) and isinstance(limit, int) and isinstance(largest, list)):
            return None
        parts = [p for p in largest if isinstance(p, dict) and isinstance(p.get("bytes"), int)]
        named = ", ".join(f"{p.get('field')} ({_kb(p['bytes'])} KB)" for p in parts)
        return {"size": _kb(size), "limit": _kb(limit), "largest": named or "—"}
    return None


def _kb(size: int) -> int:
    return -(-size // 1024)


def worded(code: str, message: str, details: Mapping[str, Any], lang: str, stage: Callable[[str], str]) -> str:
    """The refusal `code` (with the API's `message` and `details`) in `lang`; `stage` words a
    stage the details name."""
    words = REFUSALS.get(code)
    if words is None:  # a code no table holds (tests/web/test_refusal_codes.py keeps there none)
        return message
    figures = _figures(code, details)
    if figures is not None:
        return words[lang].format(**figures)
    if code in _FIGURED:
        words = REFUSALS["invalid_proposal"]  # without its figures: worded as what it is, a rule broken
    if lang == "en":
        return message if message and code in NAMES_ITS_RULE | _FIGURED else words["en"]
    sentence = words["id"]
    at = details.get("stage")
    if code in NAMES_ITS_RULE and isinstance(at, str) and at:
        sentence += f" {STAGE['id']}: {stage(at)}."
    if code in NAMES_ITS_RULE | _FIGURED and message:
        sentence += f" {RULE_IN_ENGLISH['id']}: “{message}”"
    return sentence
