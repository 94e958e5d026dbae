"""The report upward's problems worded by kind (`services.api.reporting.problem_words`, issue
#11, branch problems17): every kind in Indonesian and English from its facts, the step by
its name, the moment in the reader's zone, the organisations by name, with none of the
`detail`'s keys, ids and ISO timestamps; a problem without its facts keeps its `detail`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, get_args

import pytest

from services.api.reporting import problem_words, table
from services.api.reporting.report import EvaluationResult, Problem, ProblemKind

DUE = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # 16:00 in Jakarta, 17:00 in Makassar
NAMES = {"kab-garut": "Pemerintah Kabupaten Garut", "univ-x": "Universitas Contoh"}

FACTS: dict[str, dict[str, Any]] = {
    "deadline_overdue": {"deadline": "step", "step": "telaah_hukum", "due_at": DUE},
    "deadline_escalated": {"step": "telaah_hukum", "due_at": DUE},
    "deadline_extended": {"deadline": "evaluation_report", "evaluation": 2, "due_at": DUE, "text": "Banjir"},
    "evaluation_escalated": {"evaluation": 2, "escalated_to": "head_office"},
    "evaluation_report_missing": {"evaluation": 1, "orgs": ["kab-garut", "univ-x"]},
    "evaluation_report_late": {"evaluation": 1, "orgs": ["univ-x"]},
    "recommendation_deferred": {"evaluation": 3, "recommendation": "expand", "change": "renewal-2"},
    "termination_requested": {"orgs": ["kab-garut"], "evaluation": 3, "text": "Anggaran dialihkan"},
    "termination_declined": {"text": "Masih dibutuhkan"},
    "terminated": {"text": "Anggaran dialihkan"},
    "plan_items_late": {"late_items": {"activity": 2, "obligation": 1}},
}
# What the API's `detail` held: keys, ids, ISO timestamps.
INTERNAL = re.compile(r"\d{4}-\d{2}-\d{2}|kab-garut|univ-x|_|telaah|renewal-2")


def problem(kind: str, **facts: Any) -> Problem:
    return Problem(
        agreement_id="agr-1", title="Kerja sama", kind=kind, on=date(2027, 1, 5), detail=f"detail of {kind}", **facts
    )


def test_every_kind_has_facts_here_and_a_label_in_both_languages():
    assert set(FACTS) == set(get_args(ProblemKind))
    for lang in ("id", "en"):
        assert set(problem_words.LABELS[lang]) == set(FACTS)


@pytest.mark.parametrize("kind", sorted(FACTS))
@pytest.mark.parametrize("lang", ["id", "en"])
def test_each_kind_reads_as_a_sentence_without_keys_ids_or_iso_timestamps(kind: str, lang: str):
    worded = problem_words.sentence(problem(kind, **FACTS[kind]), lang, "Asia/Jakarta", lambda o: NAMES.get(o, o))
    assert worded != f"detail of {kind}" and not INTERNAL.search(worded), worded
    for org in FACTS[kind].get("orgs", []):
        assert NAMES[org] in worded


def test_a_step_s_due_moment_is_the_reader_s_local_date_and_time_with_the_step_s_name():
    overdue = problem("deadline_overdue", **FACTS["deadline_overdue"])
    assert problem_words.sentence(overdue, "id", "Asia/Jakarta") == (
        "Tahap “Telaah hukum PKS” seharusnya selesai 4 Januari 2027 16:00 WIB."
    )
    assert problem_words.sentence(overdue, "en", "Asia/Makassar") == (
        "The step “Legal review of the agreement (PKS)” was due 4 January 2027 17:00 WITA."
    )


def test_the_csv_s_line_gives_the_day_the_label_and_the_sentence_in_english():
    late = problem("plan_items_late", **FACTS["plan_items_late"])
    assert problem_words.line(late, "en", "Asia/Jakarta") == (
        "5 January 2027 Action plan items late: 2 activities, 1 obligation past their date."
    )
    missing = problem("evaluation_report_missing", **FACTS["evaluation_report_missing"])
    assert problem_words.sentence(missing, "id", "Asia/Jakarta", NAMES.__getitem__) == (
        "Evaluasi ke-1 disimpulkan tanpa laporan dari Pemerintah Kabupaten Garut, Universitas Contoh."
    )


def test_a_problem_without_its_facts_keeps_its_detail():
    assert problem_words.sentence(problem("deadline_escalated"), "id", "Asia/Jakarta") == "detail of deadline_escalated"
    bare = problem("evaluation_report_missing", evaluation=1)
    assert problem_words.sentence(bare, "en", "Asia/Jakarta") == "detail of evaluation_report_missing"


def test_the_csv_words_each_evaluation_concluded_not_its_codes():
    """The CSV's `evaluations` cell (branch left18): an evaluation's number, score and
    recommendation in English words, as the rest of the file; one superseded by the final
    evaluation says it was closed without a score (it read "#2 None None")."""

    def concluded(number: int, score: int | None, recommendation: str | None, final: bool = False) -> str:
        return table.evaluation_line(
            EvaluationResult(
                agreement_id="agr-1",
                title="Kerja sama",
                number=number,
                final=final,
                concluded_on=date(2027, 1, 5),
                score=score,
                recommendation=recommendation,
                summary=None,
                missing_reports=[],
                late_reports=[],
            )
        )

    assert concluded(1, 55, "expand") == "Evaluation 1: score 55, recommended “expand”"
    assert concluded(3, 80, "continue", final=True) == "Final evaluation 3: score 80, recommended “continue”"
    assert concluded(2, None, None) == "Evaluation 2: closed without a score or recommendation"
    for worded in (concluded(1, 55, "stop"), concluded(2, None, None)):
        assert "None" not in worded and "#" not in worded, worded
