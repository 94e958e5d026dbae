"""Progress of an agreement's action plan, for the reports upward, read from its recorded
state JSON (the read model's `state`) rather than from `AgreementState`: agreements
recorded before action plans existed (issue #13) simply have none, and this reader works
whether or not the running decider knows plans yet.

Fields relied on (as the decider records them, `workflows.messages.AgreementState`):
`activities[]` with `id`, `name`, `party`, `ends_on` and `progress[]` (each with `percent`,
possibly null, in the order reported); `obligations[]` with `id`, `party`, `due_on` and
`status` (`open`, `fulfilled`, `missed`); `action_items[]` with `id`, `party`, `due_on` and
`done_at`. Whether an agreement is on track is the decider's judgement (its health status),
not restated here: this module only counts what was planned and what was reported."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field


class LateItem(BaseModel):
    """A plan item past its date and not done: an activity past its end below 100 %, an
    obligation still open past its due date, a meeting's action item not done."""

    kind: str = Field(description="activity, obligation or action_item")
    id: str
    party: str
    due_on: date


class PlanProgress(BaseModel):
    activities: int
    activities_completed: int  # latest progress reported at 100 %
    mean_percent: int  # mean of each activity's latest reported percentage (0 before any)
    obligations: int
    obligations_fulfilled: int
    obligations_missed: int
    action_items: int
    action_items_done: int
    late: list[LateItem] = Field(default_factory=list)


def plan_progress(state: dict[str, Any], *, as_of: date) -> PlanProgress | None:
    """What the agreement's action plan says of its progress on `as_of`; None when the
    agreement carries no plan (no activities, obligations or action items)."""
    activities = _items(state, "activities")
    obligations = _items(state, "obligations")
    actions = _items(state, "action_items")
    if not (activities or obligations or actions):
        return None
    late: list[LateItem] = []
    percents = []
    for activity in activities:
        percent = _latest_percent(activity)
        percents.append(percent)
        ends_on = _date(activity.get("ends_on"))
        if ends_on is not None and ends_on < as_of and percent < 100:
            late.append(LateItem(kind="activity", id=str(activity.get("id")), party=_party(activity), due_on=ends_on))
    for obligation in obligations:
        due_on = _date(obligation.get("due_on"))
        if obligation.get("status", "open") == "open" and due_on is not None and due_on < as_of:
            late.append(
                LateItem(kind="obligation", id=str(obligation.get("id")), party=_party(obligation), due_on=due_on)
            )
    for item in actions:
        due_on = _date(item.get("due_on"))
        if item.get("done_at") is None and due_on is not None and due_on < as_of:
            late.append(LateItem(kind="action_item", id=str(item.get("id")), party=_party(item), due_on=due_on))
    return PlanProgress(
        activities=len(activities),
        activities_completed=sum(1 for p in percents if p >= 100),
        mean_percent=round(sum(percents) / len(percents)) if percents else 0,
        obligations=len(obligations),
        obligations_fulfilled=sum(1 for o in obligations if o.get("status") == "fulfilled"),
        obligations_missed=sum(1 for o in obligations if o.get("status") == "missed"),
        action_items=len(actions),
        action_items_done=sum(1 for i in actions if i.get("done_at") is not None),
        late=sorted(late, key=lambda i: (i.due_on, i.kind, i.id)),
    )


def _items(state: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = state.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _latest_percent(activity: dict[str, Any]) -> int:
    reports = activity.get("progress")
    for report in reversed(reports if isinstance(reports, list) else []):
        if isinstance(report, dict) and isinstance(report.get("percent"), int):
            return max(0, min(100, int(report["percent"])))
    return 0


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _party(item: dict[str, Any]) -> str:
    return str(item.get("party") or "")
