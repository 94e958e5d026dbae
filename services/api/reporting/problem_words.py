"""The report upward's problems in their reader's language, by kind (`report.ProblemKind`).

A `Problem` carries its facts (the step, the due moment, the evaluation, the organisations,
the words a person wrote, the late items) and, for the API's older consumers, `detail`: an
English line with keys, ids and ISO timestamps ("step, due 2027-01-04T16:00:00+07:00"),
which no official reading the report knows. The report page and its PDF (in the reader's
language and zone) and the CSV (in English, `table.CSV_LANGUAGE`, in the organisation's zone)
word a problem here, so the three say one thing in one vocabulary, as
`services.notifying.health_words` does for health reasons. The steps', changes' and dates'
words are the mails' (`services.notifying.render`). Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from services.notifying.render import CHANGE_NAMES, STEP_NAMES, day_text, moment

if TYPE_CHECKING:
    from services.api.reporting.report import Problem

# A problem's kind in a word or two: the list's label, before the sentence.
LABELS: dict[str, dict[str, str]] = {
    "id": {
        "deadline_overdue": "Tenggat terlewat",
        "deadline_escalated": "Tenggat terlewat, dilaporkan ke atasan",
        "deadline_extended": "Tenggat diperpanjang",
        "evaluation_escalated": "Laporan evaluasi terlambat, dilaporkan ke atasan",
        "evaluation_report_missing": "Laporan evaluasi tidak masuk",
        "evaluation_report_late": "Laporan evaluasi terlambat",
        "recommendation_deferred": "Rekomendasi ditunda",
        "termination_requested": "Pengakhiran diusulkan",
        "termination_declined": "Pengakhiran ditolak",
        "terminated": "Kerja sama diakhiri",
        "plan_items_late": "Butir rencana aksi terlambat",
    },
    "en": {
        "deadline_overdue": "Deadline overdue",
        "deadline_escalated": "Deadline missed, escalated",
        "deadline_extended": "Deadline extended",
        "evaluation_escalated": "Evaluation report late, escalated",
        "evaluation_report_missing": "Evaluation report missing",
        "evaluation_report_late": "Evaluation report late",
        "recommendation_deferred": "Recommendation deferred",
        "termination_requested": "Termination proposed",
        "termination_declined": "Termination declined",
        "terminated": "Agreement terminated",
        "plan_items_late": "Action plan items late",
    },
}

# The sentence of each kind (and, for a deadline, of each deadline). `{step}` is the step's
# name, `{due}` the moment in the reader's zone, `{orgs}` the organisations' names, `{text}`
# what a person wrote (quoted), `{change}` an amendment or renewal in words.
SENTENCES: dict[str, dict[str, str]] = {
    "id": {
        "deadline_overdue:step": "Tahap “{step}” seharusnya selesai {due}.",
        "deadline_overdue:evaluation_report": "Laporan evaluasi ke-{evaluation} seharusnya masuk {due}.",
        "deadline_escalated": "Tahap “{step}” tidak selesai sampai tenggatnya, {due}; koordinator telah diberi tahu.",
        "deadline_extended:step": "Tenggat tahap yang berjalan diperpanjang sampai {due}. Alasan: {text}",
        "deadline_extended:evaluation_report": (
            "Tenggat laporan evaluasi ke-{evaluation} diperpanjang sampai {due}. Alasan: {text}"
        ),
        "evaluation_escalated:coordinators": "Laporan evaluasi ke-{evaluation} terlambat; koordinator diberi tahu.",
        "evaluation_escalated:head_office": (
            "Laporan evaluasi ke-{evaluation} terlambat; koordinator dan kantor kepala daerah diberi tahu."
        ),
        "evaluation_report_missing": "Evaluasi ke-{evaluation} disimpulkan tanpa laporan dari {orgs}.",
        "evaluation_report_late": "{orgs} mengirim laporan evaluasi ke-{evaluation} setelah tenggatnya.",
        "recommendation_deferred": (
            "Evaluasi ke-{evaluation} merekomendasikan “{recommendation}”; usulan ditunda selama {change} berjalan."
        ),
        "termination_requested": "{orgs} mengusulkan pengakhiran. Alasan: {text}",
        "termination_requested:evaluation": (
            "{orgs} mengusulkan pengakhiran atas rekomendasi evaluasi ke-{evaluation}. Alasan: {text}"
        ),
        "termination_declined": "Catatan: {text}",
        "terminated": "Alasan: {text}",
        "plan_items_late": "{items} melewati tanggalnya.",
    },
    "en": {
        "deadline_overdue:step": "The step “{step}” was due {due}.",
        "deadline_overdue:evaluation_report": "The report of evaluation {evaluation} was due {due}.",
        "deadline_escalated": "The step “{step}” was not done by its deadline, {due}; the coordinators were told.",
        "deadline_extended:step": "The running step's deadline was moved to {due}. Reason: {text}",
        "deadline_extended:evaluation_report": (
            "The deadline of evaluation {evaluation}'s reports was moved to {due}. Reason: {text}"
        ),
        "evaluation_escalated:coordinators": (
            "The reports of evaluation {evaluation} are late; the coordinators were told."
        ),
        "evaluation_escalated:head_office": (
            "The reports of evaluation {evaluation} are late; "
            "the coordinators and the head of region's office were told."
        ),
        "evaluation_report_missing": "Evaluation {evaluation} was concluded without the report of {orgs}.",
        "evaluation_report_late": "{orgs} reported for evaluation {evaluation} after its due date.",
        "recommendation_deferred": (
            "Evaluation {evaluation} recommended “{recommendation}”; proposing it waits while the {change} is open."
        ),
        "termination_requested": "{orgs} proposed to terminate the agreement. Reason: {text}",
        "termination_requested:evaluation": (
            "{orgs} proposed to terminate the agreement, as evaluation {evaluation} recommended. Reason: {text}"
        ),
        "termination_declined": "Comment: {text}",
        "terminated": "Reason: {text}",
        "plan_items_late": "{items} past their date.",
    },
}

# An evaluation's recommendation, as the pages word it (`services.api.web.life_words`).
RECOMMENDATIONS = {
    "id": {"continue": "lanjutkan", "expand": "perluas", "stop": "hentikan"},
    "en": {"continue": "continue", "expand": "expand", "stop": "stop"},
}
# A late plan item's kind, one and many (Indonesian has no plural).
ITEMS = {
    "id": {
        "activity": ("kegiatan",) * 2,
        "obligation": ("kewajiban",) * 2,
        "action_item": ("tindak lanjut rapat",) * 2,
    },
    "en": {
        "activity": ("activity", "activities"),
        "obligation": ("obligation", "obligations"),
        "action_item": ("action item", "action items"),
    },
}
# The other party: an older recording's termination request names no party.
SOMEONE = {"id": "Salah satu pihak", "en": "A party"}
NOTHING_WRITTEN = {"id": "(tidak diisi)", "en": "(none given)"}


def label(kind: str, lang: str) -> str:
    return LABELS.get(lang, LABELS["id"]).get(kind, kind.replace("_", " "))


def _change(ref: str | None, lang: str) -> str | None:
    """ "renewal-2" as the mails word it: "perpanjangan ke-2", "renewal 2"."""
    kind, _, number = (ref or "").partition("-")
    word = CHANGE_NAMES.get(lang, CHANGE_NAMES["id"]).get(kind)
    if word is None or not number:
        return ref
    return f"{word} ke-{number}" if lang == "id" else f"{word} {number}"


def _items(counts: Mapping[str, int], lang: str) -> str:
    words = ITEMS.get(lang, ITEMS["id"])
    return ", ".join(
        f"{n} {words[kind][0 if n == 1 else 1] if kind in words else kind}" for kind, n in sorted(counts.items())
    )


def sentence(problem: Problem, lang: str, zone: str, name: Callable[[str], str] = str) -> str:
    """`problem` as a sentence in `lang`, its moments in `zone`, its organisations called
    `name(org)`. A problem this module cannot word (a kind it does not know, or facts an
    older recording lacks) keeps its `detail`."""
    lang = lang if lang in SENTENCES else "id"
    p = problem
    key: str = p.kind
    if p.kind in ("deadline_overdue", "deadline_extended"):
        key = f"{p.kind}:{p.deadline}"
    elif p.kind == "evaluation_escalated":
        key = f"{p.kind}:{p.escalated_to or 'coordinators'}"
    elif p.kind == "termination_requested" and p.evaluation is not None:
        key = f"{p.kind}:evaluation"
    template = SENTENCES[lang].get(key)
    if template is None:
        return p.detail
    words: dict[str, Any] = {
        "step": STEP_NAMES.get(p.step or "", {}).get(lang, p.step),
        "due": moment(p.due_at, lang, ZoneInfo(zone)) if p.due_at else None,
        "evaluation": p.evaluation,
        "orgs": ", ".join(name(org) for org in p.orgs)
        or (SOMEONE[lang] if p.kind == "termination_requested" else None),
        "text": (p.text or "").strip() or NOTHING_WRITTEN[lang],
        "recommendation": RECOMMENDATIONS[lang].get(p.recommendation or "", p.recommendation),
        "change": _change(p.change, lang),
        "items": _items(p.late_items or {}, lang) if p.late_items else None,
    }
    needed = [field for field in words if "{" + field + "}" in template]
    if any(words[field] in (None, "") for field in needed):
        return p.detail
    return template.format(**{field: words[field] for field in needed})


def line(problem: Problem, lang: str, zone: str, name: Callable[[str], str] = str) -> str:
    """The problem's whole line as the CSV's cell holds it: its day, label and sentence."""
    return f"{day_text(problem.on, lang)} {label(problem.kind, lang)}: {sentence(problem, lang, zone, name)}"
