"""A report upward as CSV: one row per agreement reported on, with what the report says of
it in the period (new, ended, evaluations, problems, action plan). The totals by kind and
partner sector follow from the rows; the JSON report carries them too. An overseer's
roll-up as CSV: one row per organisation it oversees, then the totals."""

from __future__ import annotations

import csv
import io

from services.api.reporting import problem_words
from services.api.reporting.report import (
    KINDS,
    SECTORS,
    EvaluationResult,
    ReportedAgreement,
    Summary,
    UpwardReport,
)
from services.api.reporting.rollup import OversightRollup
from services.notifying import health_words

COLUMNS = (
    "org",
    "period_from",
    "period_to",
    "agreement_id",
    "title",
    "kind",
    "stage",
    "sector",
    "partners",
    "partner_sectors",
    "foreign",
    "signed_on",
    "effective_date",
    "end_date",
    "new",
    "ended_on",
    "ended_as",
    "termination_reason",
    "evaluations",
    "latest_score",
    "problems",
    "plan_activities",
    "plan_mean_percent",
    "plan_late_items",
    "plan_health",
    "plan_health_reasons",
)


# The most characters a spreadsheet cell holds (Excel's limit; Python's own CSV reader stops
# at 128 KB): a longer cell is cut short on opening, silently, and what it said is lost.
# Excel counts UTF-16 code units: a character beyond the BMP (an emoji, a rare CJK
# ideograph) counts twice (`units`).
CELL_LIMIT = 32_767


def units(text: str) -> int:
    """`text`'s length as a spreadsheet counts it: in UTF-16 code units."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` units with "…" at the end, between two characters."""
    if units(text) <= limit:
        return text
    used = 0
    for at, character in enumerate(text):
        used += 2 if ord(character) > 0xFFFF else 1
        if used > limit - 1:
            return text[:at] + "…"
    return text


def cell(value: object) -> str:
    """A value as a spreadsheet shows it; text that a spreadsheet would run as a formula
    (titles and reasons are typed by people) is kept as text with a leading apostrophe.
    Never longer than `CELL_LIMIT`: cut with "…" (the problems cell says what it left out:
    `_within_a_cell`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    text = "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
    return _cut(text, CELL_LIMIT)


def _within_a_cell(lines: list[str]) -> str:
    """The lines joined with "; " as far as they fit in a cell, then how many were left
    out: an agreement with hundreds of problems (each with what people wrote) would fill
    far more than a cell holds, and the spreadsheet would drop the rest without a word."""
    joined = "; ".join(lines)
    if units(joined) <= CELL_LIMIT:
        return joined
    kept: list[str] = []
    size = 0
    room = CELL_LIMIT - 200  # the note of what was left out, and a leading apostrophe
    for line in lines:
        if size + units(line) + 2 > room:
            break
        kept.append(line)
        size += units(line) + 2
    if not kept:  # one line longer than a cell: cut short
        kept = [_cut(lines[0], room)]
    left = len(lines) - len(kept)
    note = f"… and {left} more {'problem' if left == 1 else 'problems'}: the report's page and its JSON hold every one."
    return "; ".join([*kept, note])


# The language of the CSV's words: one file whoever downloads it (the API and the page serve
# the same bytes), as its headers and codes (`stage`, `ended_as`, `yes`/`no`) are English.
CSV_LANGUAGE = "en"


def _health_reasons(report: UpwardReport, a: ReportedAgreement) -> str | None:
    """The reasons as the pages and the digest word them (by code, the item by its own words,
    the organisation by the name the row gives it), not the decider's sentence with the plan's
    and the organisations' ids, which nobody reading a sheet knows."""
    plan = a.action_plan
    if plan is None or plan.health is None:
        return None
    named = {report.org: report.name or report.org, **{p.org: p.name or p.org for p in a.partners}}
    return "; ".join(
        health_words.sentence(r, CSV_LANGUAGE, lambda org: named.get(org, org)) for r in plan.health.reasons
    )


def evaluation_line(e: EvaluationResult) -> str:
    """An evaluation concluded in the period as the CSV's `evaluations` cell words it, in
    English (`CSV_LANGUAGE`): "Final evaluation 3: score 85, recommended “expand”", not the
    codes "#3 85 expand". One superseded by the final evaluation was closed without a score
    or a recommendation (it read "#2 None None")."""
    which = f"{'Final evaluation' if e.final else 'Evaluation'} {e.number}"
    if e.score is None and e.recommendation is None:
        return f"{which}: closed without a score or recommendation"
    parts = [f"score {e.score}" if e.score is not None else "no score"]
    if e.recommendation is not None:
        words = problem_words.RECOMMENDATIONS[CSV_LANGUAGE].get(e.recommendation, e.recommendation)
        parts.append(f"recommended “{words}”")
    return f"{which}: {', '.join(parts)}"


def report_csv(report: UpwardReport) -> str:
    evaluations: dict[str, list[str]] = {}
    for e in report.evaluations:
        evaluations.setdefault(e.agreement_id, []).append(evaluation_line(e))
    # The problems worded as the page words them, in English, their moments in the
    # organisation's zone, its partners by the names the rows give them: not the `detail`
    # with step keys, ids and ISO timestamps.
    names = {
        report.org: report.name or report.org,
        **{p.org: p.name or p.org for a in report.agreements for p in a.partners},
    }
    problems: dict[str, list[str]] = {}
    for p in report.problems:
        line = problem_words.line(p, CSV_LANGUAGE, report.time_zone, lambda org: names.get(org, org))
        problems.setdefault(p.agreement_id, []).append(line)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for a in report.agreements:
        plan = a.action_plan
        writer.writerow(
            [
                cell(v)
                for v in (
                    report.org,
                    report.period_from,
                    report.period_to,
                    a.id,
                    a.title,
                    a.kind,
                    a.stage,
                    a.sector,
                    "; ".join(p.name or p.org for p in a.partners),
                    "; ".join(sorted({p.sector for p in a.partners})),
                    a.foreign,
                    a.signed_on,
                    a.effective_date,
                    a.end_date,
                    a.new,
                    a.ended_on,
                    a.ended_as,
                    a.termination_reason,
                    "; ".join(evaluations.get(a.id, [])),
                    a.latest_score,
                    _within_a_cell(problems.get(a.id, [])),
                    plan.activities if plan else None,
                    plan.mean_percent if plan else None,
                    len(plan.late) if plan else None,
                    plan.health.status if plan and plan.health else None,
                    _health_reasons(report, a),
                )
            ]
        )
    return out.getvalue()


ROLLUP_COLUMNS = (
    "overseer",
    "period_from",
    "period_to",
    "org",
    "name",
    "level",
    *(f"{count}{part}" for count in ("in_force", "new", "ended") for part in ("", *(f"_{k}" for k in KINDS))),
    *(f"in_force_partner_{s}" for s in SECTORS),
    "evaluations",
    "problems",
    "foreign_cooperation",
)


def rollup_csv(rollup: OversightRollup) -> str:
    """An overseer's roll-up: one row per organisation it oversees (the summary of that
    organisation's own report upward), then a row of the totals (org `*`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ROLLUP_COLUMNS)
    rows: list[tuple[str, str, str, Summary, int | None, int | None, int | None]] = [
        (line.org, line.name, line.level, line.summary, line.evaluations, line.problems, line.foreign_cooperation)
        for line in rollup.organisations
    ]
    rows.append(("*", "", "", rollup.totals, None, None, None))
    for org, name, level, summary, evaluations, problems, foreign in rows:
        counts: list[object] = []
        for breakdown in (summary.in_force, summary.new, summary.ended):
            counts += [breakdown.total, *(breakdown.by_kind.get(k, 0) for k in KINDS)]
        counts += [summary.in_force.by_partner_sector.get(s, 0) for s in SECTORS]
        head = (rollup.overseer, rollup.period_from, rollup.period_to, org, name, level)
        writer.writerow([cell(v) for v in (*head, *counts, evaluations, problems, foreign)])
    return out.getvalue()
