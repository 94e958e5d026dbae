"""Progress of an agreement's action plan, for the reports upward: what was planned and
what was reported, counted from the agreement's state as the decider keeps it (agreements
recorded before action plans existed load with none, and have no plan to report), and its
health — on track, at risk or off track, with the reasons — as the decider computes it
(`workflows.lifecycle.health`), not restated here. docs/reports.md."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from workflows import lifecycle
from workflows import messages as m


class LateItem(BaseModel):
    """A plan item past its date and not done: an activity past its end below 100 %, an
    obligation still open past its due date, a meeting's action item not done."""

    kind: str = Field(description="activity, obligation or action_item")
    id: str
    party: str
    due_on: date
    about: str | None = Field(
        None, description="The item's own words: the activity's name, the obligation's description, the action item"
    )


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
    health: m.ImplementationHealth | None = Field(
        default=None,
        description="The decider's health of the implementation when the report was made "
        "(None: the agreement is not in force, e.g. it ended)",
    )


def plan_progress(state: m.AgreementState, *, as_of: date, now: datetime) -> PlanProgress | None:
    """What the agreement's action plan says of its progress: items late on `as_of` (the
    period's end, or today), the health at `now`; None when the agreement carries no plan
    (no activities, obligations or action items)."""
    if not (state.activities or state.obligations or state.action_items):
        return None
    late = [
        LateItem(kind="activity", id=a.id, party=a.party, due_on=a.ends_on, about=a.name)
        for a in state.activities
        if a.ends_on < as_of and a.percent < 100
    ]
    late += [
        LateItem(kind="obligation", id=o.id, party=o.party, due_on=o.due_on, about=o.description)
        for o in state.obligations
        if o.status == "open" and o.due_on < as_of
    ]
    late += [
        LateItem(kind="action_item", id=i.id, party=i.party, due_on=i.due_on, about=i.text)
        for i in state.action_items
        if i.done_at is None and i.due_on < as_of
    ]
    percents = [a.percent for a in state.activities]
    return PlanProgress(
        activities=len(state.activities),
        activities_completed=sum(1 for p in percents if p >= 100),
        mean_percent=round(sum(percents) / len(percents)) if percents else 0,
        obligations=len(state.obligations),
        obligations_fulfilled=sum(1 for o in state.obligations if o.status == "fulfilled"),
        obligations_missed=sum(1 for o in state.obligations if o.status == "missed"),
        action_items=len(state.action_items),
        action_items_done=sum(1 for i in state.action_items if i.done_at is not None),
        late=sorted(late, key=lambda i: (i.due_on, i.kind, i.id)),
        health=lifecycle.health(state, now),
    )
