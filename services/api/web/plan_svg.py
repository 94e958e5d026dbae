"""The action plan as a timeline, drawn on the server like the lifecycle diagram: each
activity a bar from its planned start to its planned end, the part reported done filled in,
today's line across, and what is overdue (not done after its end) marked. The schedule's
standing is the decider's own (`progress.activity_status`), so the page and the health
status read the plan the same way."""

from __future__ import annotations

import textwrap
from datetime import date
from html import escape

from services.api.web.i18n import Translator
from workflows import messages as m
from workflows.lifecycle.plan import term_of
from workflows.lifecycle.progress import activity_status

WIDTH = 640
LABEL_W = 170
ROW_H = 34
BAR_H = 16
TOP = 26


COLOURS = {
    "done": ("#cfe8d6", "#1e7b34"),
    "running": ("#dbe7f7", "#1f5fa8"),
    "behind": ("#fff4ce", "#8a5a00"),
    "overdue": ("#fde8e8", "#a4262c"),
    "ahead": ("#f4f5f7", "#5b6470"),
}


def timeline_svg(state: m.AgreementState, tr: Translator, today: date) -> str | None:
    """The plan's activities over the agreement's term; None without activities."""
    if not state.activities:
        return None
    start, end = term_of(state)
    first = min([start, *(a.starts_on for a in state.activities)])
    last = max([end, *(a.ends_on for a in state.activities)])
    span = max((last - first).days, 1)
    scale = WIDTH - LABEL_W - 10

    def x(day: date) -> float:
        return LABEL_W + scale * (day - first).days / span

    height = TOP + len(state.activities) * ROW_H + 22
    names = {
        "done": tr.t("Done"),
        "running": tr.t("Under way"),
        "behind": tr.t("Behind schedule"),
        "overdue": tr.t("Overdue"),
        "ahead": tr.t("Not started"),
    }
    parts = [
        f'<svg class="plan" role="img" viewBox="0 0 {WIDTH} {height}" aria-labelledby="plan-title">'
        f'<title id="plan-title">{escape(tr.t("Action plan"))}: {escape(tr.date(first))} — '
        f"{escape(tr.date(last))}</title>",
        f'<text x="{LABEL_W}" y="14" font-size="11" fill="#5b6470">{escape(tr.date(first))}</text>',
        f'<text x="{WIDTH - 10}" y="14" font-size="11" fill="#5b6470" text-anchor="end">{escape(tr.date(last))}</text>',
    ]
    for i, activity in enumerate(state.activities):
        y = TOP + i * ROW_H
        status = activity_status(activity, today)
        fill, stroke = COLOURS[status]
        x0, x1 = x(activity.starts_on), x(activity.ends_on)
        width = max(x1 - x0, 3.0)
        done_w = width * activity.percent / 100
        label = f"{activity.id} {activity.name}"
        summary = (
            f"{label}: {tr.date(activity.starts_on)} — {tr.date(activity.ends_on)}, "
            f"{tr.number(activity.percent)} % ({names[status]}; {activity.party})"
        )
        parts.append(
            f'<g class="activity activity-{status}" data-activity="{escape(activity.id)}" '
            f'data-percent="{activity.percent}" data-status="{status}"><title>{escape(summary)}</title>'
        )
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="12" font-weight="600" fill="#1b1f24">'
            f"{escape(textwrap.shorten(label, 23, placeholder='…'))}</text>"
            f'<text x="0" y="{y + 27}" font-size="10" fill="#5b6470">'
            f"{escape(textwrap.shorten(activity.party, 28, placeholder='…'))}</text>"
        )
        dash = ' stroke-dasharray="4 2"' if status == "overdue" else ""
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 4}" width="{width:.1f}" height="{BAR_H}" rx="3" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"{dash}/>'
        )
        if done_w > 0:
            parts.append(
                f'<rect class="done" x="{x0:.1f}" y="{y + 4}" width="{done_w:.1f}" height="{BAR_H}" rx="3" '
                f'fill="{stroke}"/>'
            )
        mark = " !" if status == "overdue" else ""
        text_x = min(x0 + width + 4, WIDTH - 4)
        anchor = "end" if x0 + width + 40 > WIDTH else "start"
        parts.append(
            f'<text x="{text_x:.1f}" y="{y + 16}" font-size="11" fill="{stroke}" text-anchor="{anchor}">'
            f"{activity.percent} %{mark}</text></g>"
        )
    if first <= today <= last:
        tx = x(today)
        parts.append(
            f'<line class="today" x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{height - 16}" stroke="#a4262c" '
            f'stroke-dasharray="4 3"/><text x="{tx:.1f}" y="{height - 4}" font-size="10" text-anchor="middle" '
            f'fill="#a4262c">{escape(tr.t("Today"))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
