"""How implementation is going, computed from the plan, the progress reported and the
measurements, at a given moment: the agreement's health (on track, at risk, off track,
with the reasons) and the summary of an evaluation's period that pre-fills its report.
Pure; docs/implementation.md says the thresholds and why.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle.plan import state_plan_hash, term_of
from workflows.lifecycle.reading import local_today, open_evaluation, zone

BEHIND_POINTS = 25  # an activity this many percentage points behind its schedule is at risk
OFF_TRACK_AFTER_DAYS = 30  # overdue this many days: off track
INDICATOR_SHORTFALL = 0.5  # a measurement below half of the target pro-rated to today is at risk
INDICATOR_FROM = 0.25  # ... once a quarter of the term has passed (early figures say little)

_RANK = {"on_track": 0, "at_risk": 1, "off_track": 2}


def planned_percent(activity: m.Activity, day: date) -> int:
    """How much of `activity` its schedule expects done by `day` (linear between its start
    and end)."""
    if day < activity.starts_on:
        return 0
    if day >= activity.ends_on:
        return 100
    span = (activity.ends_on - activity.starts_on).days or 1
    return round(100 * (day - activity.starts_on).days / span)


ActivityStatus = Literal["done", "overdue", "behind", "running", "ahead"]


def activity_status(activity: m.ActivityRecord, today: date) -> ActivityStatus:
    """Where an activity stands against its schedule on `today`: what health counts (an
    overdue or behind activity) and what the plan's timeline colours."""
    if activity.percent >= 100:
        return "done"
    if today > activity.ends_on:
        return "overdue"
    if today < activity.starts_on:
        return "ahead"
    return "behind" if planned_percent(activity, today) - activity.percent >= BEHIND_POINTS else "running"


def _overdue(due: date, today: date) -> m.Health:
    return "off_track" if (today - due).days > OFF_TRACK_AFTER_DAYS else "at_risk"


def health(state: m.AgreementState, now: datetime) -> m.ImplementationHealth | None:
    """The implementation's health at `now` (None: not in force, or no plan to measure)."""
    if state.stage != "implementation" or not (state.activities or state.obligations):
        return None
    today = local_today(state, now)
    found: list[tuple[m.Health, m.HealthReason]] = []

    def say(status: m.Health, code: str, ref: str, text: str, about: str, party: str, **more: Any) -> None:
        # The item's words and organisation beside the English sentence: what the edges
        # word it from in the reader's language (services/notifying/health_words.py).
        found.append((status, m.HealthReason(code=code, ref=ref, text=text, about=about, party=party, **more)))

    for o in state.obligations:
        if o.status == "missed":
            say("off_track", "obligation_missed", o.id, f"{o.party} missed obligation {o.id}.", o.description, o.party)
        elif o.status == "open" and o.due_on < today:
            text = f"Obligation {o.id} of {o.party} is overdue."
            say(_overdue(o.due_on, today), "obligation_overdue", o.id, text, o.description, o.party)
    for a in state.activities:
        standing = activity_status(a, today)
        if standing == "overdue":
            text = f"Activity {a.id} should have ended."
            say(_overdue(a.ends_on, today), "activity_overdue", a.id, text, a.name, a.party)
        elif standing == "behind":
            planned = planned_percent(a, today)
            text = f"Activity {a.id} is {a.percent}% done; its schedule expects {planned}%."
            figures = {"percent": a.percent, "planned": planned}
            say("at_risk", "activity_behind", a.id, text, a.name, a.party, figures=figures)
    for item in state.action_items:
        if item.done_at is None and item.due_on < today:
            text = f"Action item {item.id} of {item.party} is overdue."
            say("at_risk", "action_item_overdue", item.id, text, item.text, item.party)
    found += [(s, r) for s, r in _indicators(state, today)]
    status: m.Health = max((s for s, _ in found), key=_RANK.__getitem__, default="on_track")
    reasons = [r for s, r in sorted(found, key=lambda f: -_RANK[f[0]])]
    return m.ImplementationHealth(status=status, reasons=reasons, as_of=now)


def _indicators(state: m.AgreementState, today: date) -> list[tuple[m.Health, m.HealthReason]]:
    """Indicators whose latest measurement is far below the target pro-rated to today
    (targets are read as counting up from zero over the term)."""
    start, end = state.effective_date, state.end_date
    if start is None or end is None or end <= start:
        return []
    elapsed = min(1.0, (today - start).days / (end - start).days)
    if elapsed < INDICATOR_FROM:
        return []
    out: list[tuple[m.Health, m.HealthReason]] = []
    for indicator in state.indicators:
        measured = [x for x in state.measurements if x.indicator == indicator.name]
        if not measured or indicator.target <= 0:
            continue
        latest = max(measured, key=lambda x: (x.measured_on, x.at))
        expected = indicator.target * elapsed
        if latest.value < INDICATOR_SHORTFALL * expected:
            out.append(
                (
                    "at_risk",
                    m.HealthReason(
                        code="indicator_behind",
                        ref=indicator.name,
                        text=f"{indicator.name}: {latest.value:g} {indicator.unit} measured, "
                        f"{expected:g} expected by now (target {indicator.target:g}).",
                        figures={"value": latest.value, "expected": expected, "target": indicator.target},
                        unit=indicator.unit,
                    ),
                )
            )
    return out


def period_summary(state: m.AgreementState, evaluation: m.Evaluation) -> m.PeriodSummary:
    """What the period an evaluation covers holds: from the evaluation before it (or the
    start of the term) to its opening."""
    earlier = [x for x in state.evaluations if x.number < evaluation.number]
    start = t.local_day(earlier[-1].opened_at, zone(state)) if earlier else (state.effective_date or state.start_date)
    end = t.local_day(evaluation.opened_at, zone(state))
    rows: list[dict[str, Any]] = [
        {
            "id": a.id,
            "name": a.name,
            "party": a.party,
            "planned_percent": planned_percent(a, end),
            "actual_percent": a.percent,
        }
        for a in state.activities
        if a.starts_on <= end
    ]
    planned = round(sum(r["planned_percent"] for r in rows) / len(rows)) if rows else 0
    actual = round(sum(r["actual_percent"] for r in rows) / len(rows)) if rows else 0

    def settled(o: m.ObligationRecord, status: str) -> bool:
        return o.status == status and o.settled_at is not None and t.local_day(o.settled_at, zone(state)) >= start

    return m.PeriodSummary(
        evaluation=evaluation.number,
        period_from=start,
        period_to=end,
        activities=rows,
        obligations_fulfilled=[o.id for o in state.obligations if settled(o, "fulfilled")],
        obligations_missed=[o.id for o in state.obligations if settled(o, "missed")],
        # overdue as health counts it: still open after its due day (due that day is due until closing)
        obligations_overdue=[o.id for o in state.obligations if o.status == "open" and o.due_on < end],
        measurements=[x for x in state.measurements if start <= x.measured_on <= end],
        planned_percent=planned,
        actual_percent=actual,
        achievement=round(100 * actual / planned) if planned else None,
    )


def open_period(state: m.AgreementState) -> m.PeriodSummary | None:
    """The summary for the latest open evaluation's report form (None: none is open, or
    there is no plan)."""
    evaluation = open_evaluation(state)
    if evaluation is None or not (state.activities or state.obligations or state.measurements):
        return None
    return period_summary(state, evaluation)


def action_plan(state: m.AgreementState, now: datetime) -> m.ActionPlanView:
    """The plan and how it stands at `now`: what `GET /agreements/{id}/action-plan` shows."""
    today = local_today(state, now)
    start, end = term_of(state)
    return m.ActionPlanView(
        agreement_id=state.id,
        title=state.title,
        stage=state.stage,
        version=state.version,
        as_of=now,
        term_from=start,
        term_to=end,
        plan_hash=state_plan_hash(state),
        indicators=list(state.indicators),
        goals=list(state.goals),
        obligations=list(state.obligations),
        activities=[
            m.ActivityProgress.model_validate(
                {**a.model_dump(), "percent_done": a.percent, "percent_planned": planned_percent(a, today)}
            )
            for a in state.activities
        ],
        measurements=sorted(state.measurements, key=lambda x: (x.measured_on, x.at)),
        meetings=list(state.meetings),
        action_items=list(state.action_items),
        plan_revisions=list(state.plan_revisions),
        health=health(state, now),
    )
