"""Server-drawn SVG: the lifecycle diagram of an agreement's procedure and the chart of its
indicators' achievement (evaluations and measurements). The diagram is drawn from the procedure data
(`workflows.procedures`) and the decider's tables (`lifecycle.TRANSITIONS`, `stage_for`), so
it shows what the decider enforces and cannot drift from it."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from datetime import date
from html import escape

from services.api.web.i18n import Translator
from workflows import lifecycle
from workflows import messages as m
from workflows.procedures import Procedure

WIDTH = 640
BOX_H = 64
GAP = 26
# The commands of a phase that move it on (the rest — comment, withdraw, tick — are always there).
MOVING = ("edit", "submit", "decide", "submit_draft", "accept_draft", "sign", "start_evaluation")


@dataclass(frozen=True)
class Node:
    key: str
    title: str
    detail: str
    commands: list[str]
    status: str  # passed | current | ahead | stopped


def _phase_commands(phase: str) -> list[str]:
    return [c for c in MOVING if c in lifecycle.TRANSITIONS.get(phase, frozenset())]


def lifecycle_nodes(state: m.AgreementState, tr: Translator) -> list[Node]:
    """The stages and steps of the agreement's own procedure, in order, each marked passed,
    current, ahead or stopped (where a rejection or withdrawal ended it)."""
    procedure: Procedure = lifecycle.procedure_of(state)
    stage = state.stage
    in_procedure = stage not in ("draft", "implementation", "expired", "terminated") and state.change is None
    index = state.step_index if state.step_index is not None else -1
    closed_early = stage in ("rejected", "withdrawn")
    done = stage in ("implementation", "expired", "terminated")
    nodes = [
        Node(
            "draft",
            tr.stage("draft"),
            tr.t("New proposal"),
            _phase_commands("draft"),
            "current" if stage == "draft" else ("stopped" if closed_early and index < 0 else "passed"),
        )
    ]
    for i, step in enumerate(procedure.steps):
        if done or (stage != "draft" and i < index):
            status = "passed"
        elif i == index and (in_procedure or closed_early):
            status = "stopped" if closed_early else "current"
        else:
            status = "ahead"
        phase = step.kind
        detail = tr.stage(lifecycle.stage_for(step))
        if step.gate:
            detail += f" · {tr.gate(step.gate)}"
        if step.document:
            detail += f" · {step.document.upper()}"
        nodes.append(Node(step.key, tr.step_name(step), detail, _phase_commands(phase), status))
    if stage in ("expired", "terminated"):
        end_status = "passed"
    elif stage == "implementation":
        end_status = "current"
    else:
        end_status = "ahead"
    nodes.append(
        Node(
            "implementation",
            tr.stage("implementation"),
            tr.t("Evaluations"),
            _phase_commands("implementation"),
            end_status,
        )
    )
    return nodes


COLOURS = {
    "passed": ("#e6f4ea", "#1e7b34"),
    "current": ("#fff4ce", "#8a5a00"),
    "ahead": ("#f4f5f7", "#5b6470"),
    "stopped": ("#fde8e8", "#a4262c"),
}


def lifecycle_svg(state: m.AgreementState, tr: Translator) -> str:
    nodes = lifecycle_nodes(state, tr)
    height = len(nodes) * (BOX_H + GAP)
    marks = {"passed": "✓", "current": "▶", "ahead": "", "stopped": "✕"}
    names = {"passed": tr.t("Passed"), "current": tr.t("Current"), "ahead": tr.t("Ahead"), "stopped": tr.t("Refused")}
    parts = [
        f'<svg class="lifecycle" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="lifecycle-title"><title id="lifecycle-title">{escape(tr.t("Lifecycle"))}: '
        f"{escape(state.procedure.key)} {escape(state.procedure.version)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#5b6470"/></marker></defs>',
    ]
    for i, node in enumerate(nodes):
        y = i * (BOX_H + GAP) + 4
        fill, stroke = COLOURS[node.status]
        width = 3 if node.status == "current" else 1.5
        parts.append(
            f'<g class="step step-{node.status}" data-step="{escape(node.key)}" data-status="{node.status}">'
            f"<title>{escape(node.title)} — {escape(names[node.status])}</title>"
            f'<rect x="4" y="{y}" width="{WIDTH - 8}" height="{BOX_H}" rx="8" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{width}"/>'
        )
        title = textwrap.shorten(node.title, 58, placeholder="…")
        parts.append(
            f'<text x="16" y="{y + 22}" font-size="15" font-weight="600" fill="#1b1f24">'
            f"{escape(marks[node.status])} {escape(title)}</text>"
        )
        parts.append(f'<text x="16" y="{y + 42}" font-size="12" fill="{stroke}">{escape(node.detail)}</text>')
        if node.commands:
            commands = escape(textwrap.shorten(", ".join(tr.action(c) for c in node.commands), 90))
            parts.append(f'<text x="16" y="{y + 58}" font-size="11" fill="#5b6470">{commands}</text>')
        parts.append("</g>")
        if i < len(nodes) - 1:
            parts.append(
                f'<line x1="{WIDTH // 2}" y1="{y + BOX_H + 2}" x2="{WIDTH // 2}" y2="{y + BOX_H + GAP - 4}" '
                'stroke="#5b6470" stroke-width="1.5" marker-end="url(#arrow)"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def achievement_series(state: m.AgreementState) -> dict[str, list[tuple[int, float]]]:
    """Per indicator, its achievement at each evaluation with reports (the mean of what the
    parties reported), in evaluation order."""
    series: dict[str, list[tuple[int, float]]] = {i.name: [] for i in state.indicators}
    for evaluation in state.evaluations:
        values: dict[str, list[float]] = {}
        for report in evaluation.reports:
            for result in report.results:
                values.setdefault(result.indicator, []).append(result.achieved)
        for name, achieved in values.items():
            if name in series:
                series[name].append((evaluation.number, sum(achieved) / len(achieved)))
    return series


MEASUREMENTS_SHOWN = 6  # the latest per indicator: the chart stays readable over a long term


def measurement_series(state: m.AgreementState) -> dict[str, list[tuple[date, float]]]:
    """Per indicator, the latest measurements the parties recorded (#13), by the day
    measured (the later record of a day wins)."""
    series: dict[str, dict[date, float]] = {i.name: {} for i in state.indicators}
    for measurement in sorted(state.measurements, key=lambda x: (x.measured_on, x.at)):
        if measurement.indicator in series:
            series[measurement.indicator][measurement.measured_on] = measurement.value
    return {name: sorted(days.items())[-MEASUREMENTS_SHOWN:] for name, days in series.items()}


@dataclass(frozen=True, slots=True)
class _Bar:
    kind: str  # "evaluation" or "measurement": the bar's class, and its colour when short
    label: str
    value: float


def _bars(state: m.AgreementState, tr: Translator) -> dict[str, list[_Bar]]:
    evaluations = achievement_series(state)
    measurements = measurement_series(state)
    return {
        i.name: [_Bar("evaluation", f"#{n}", v) for n, v in evaluations[i.name]]
        + [_Bar("measurement", tr.date(d), v) for d, v in measurements[i.name]]
        for i in state.indicators
    }


def achievement_svg(state: m.AgreementState, tr: Translator) -> str | None:
    """Bars of each indicator's achievement against its target (the line at 100 %): at
    each evaluation with reports (solid), and as the parties measured it between them
    (blue, the latest few). None when nothing has been reported or measured yet."""
    series = _bars(state, tr)
    if not any(series.values()):
        return None
    targets = {i.name: i for i in state.indicators}
    left, right, bar_h = 200, 60, 16
    scale_w = WIDTH - left - right
    rows = sum(max(1, len(v)) for v in series.values()) + len(series)
    height = rows * (bar_h + 6) + 30
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="chart-title"><title id="chart-title">{escape(tr.t("Achievement against target"))}</title>'
    ]
    y = 10
    for name, bars in series.items():
        indicator = targets[name]
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="12" font-weight="600" fill="#1b1f24">'
            f"{escape(textwrap.shorten(name, 30))}</text>"
        )
        parts.append(
            f'<text x="0" y="{y + 26}" font-size="10" fill="#5b6470">{escape(tr.t("Target"))} '
            f"{escape(tr.number(indicator.target))} {escape(indicator.unit)}</text>"
        )
        for bar in bars or [_Bar("none", "", 0.0)]:
            ratio = bar.value / indicator.target if indicator.target else 0.0
            width = max(1.0, min(ratio, 1.5) / 1.5 * scale_w)
            colour = "#1e7b34" if ratio >= 1 else ("#2b5fa8" if bar.kind == "measurement" else "#b06b00")
            percent = ratio * 100  # infinite for a value past a float over a tiny target: not rounded
            label = f"{bar.label}: {tr.number(round(percent) if math.isfinite(percent) else percent)} %"
            label = label if bar.label else "—"
            parts.append(
                f'<rect class="{bar.kind}" x="{left}" y="{y}" width="{width:.1f}" height="{bar_h}" fill="{colour}">'
                f"<title>{escape(label)} ({escape(tr.number(bar.value))} {escape(indicator.unit)})</title></rect>"
            )
            parts.append(
                f'<text x="{left + width + 4:.1f}" y="{y + 12}" font-size="11" fill="#1b1f24">{escape(label)}</text>'
            )
            y += bar_h + 6
        y += bar_h + 6
    target_x = left + scale_w / 1.5
    parts.append(
        f'<line x1="{target_x:.1f}" y1="4" x2="{target_x:.1f}" y2="{height - 16}" stroke="#a4262c" '
        'stroke-dasharray="4 3"/>'
    )
    parts.append(
        f'<text x="{target_x:.1f}" y="{height - 4}" font-size="10" text-anchor="middle" fill="#a4262c">'
        f"100 % {escape(tr.t('Target'))}</text></svg>"
    )
    return "".join(parts)
