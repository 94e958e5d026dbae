"""What time brings to the action plan: activities starting soon, activities, obligations
and action items falling due, and — once overdue — escalations, first to the owner party,
then to the coordinators. They are notices like every other deadline's
(`workflows.lifecycle.schedule.notices` adds them), at office hours in the owner party's
calendar. docs/implementation.md.
"""

from __future__ import annotations

from datetime import date

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle.reading import notices_calendar, zone

START_REMINDER_DAYS = 5  # office days before an activity starts
DUE_REMINDER_DAYS = (5, 0)  # office days before an activity, obligation or action item is due
# Escalations after the due date, in office days: the owner party the day after, the
# coordinators ESCALATION_INTERVAL_DAYS later if it is still open.
ESCALATIONS: tuple[tuple[int, str], ...] = ((1, "owner"), (1 + t.ESCALATION_INTERVAL_DAYS, "coordinators"))


def _due_notices(
    state: m.AgreementState, subject: str, ref: str, party: str, due: date, *, reminders: tuple[int, ...]
) -> list[t.Notice]:
    calendar = notices_calendar(state, party)
    closing = calendar.closing(calendar.on_or_before(due))
    tag = f"{subject}:{ref}@{due.isoformat()}"
    base = {"subject": subject, "ref": ref, "party": party, "on": due.isoformat()}
    out = [
        t.Notice(
            f"plan-reminder:{tag}:{days}",
            calendar.before(closing, days),
            "implementation_reminder",
            {**base, "what": "due", "days_before": days},
        )
        for days in reminders
    ]
    out += [
        t.Notice(
            f"plan-escalation:{tag}:{round_}",
            calendar.after(closing, days),
            "implementation_escalated",
            {**base, "round": round_, "to": to},
        )
        for round_, (days, to) in enumerate(ESCALATIONS, start=1)
    ]
    return out


def implementation_notices(state: m.AgreementState) -> list[t.Notice]:
    """The plan's notices while the agreement is in force. Items already due when an
    agreement was imported (its past on paper) are not chased."""
    if state.stage != "implementation":
        return []
    start = t.local_day(state.created_at, zone(state)) if state.imported else None
    out: list[t.Notice] = []

    def fresh(due: date) -> bool:
        return start is None or due >= start

    for a in state.activities:
        if a.percent >= 100 or not fresh(a.ends_on):
            continue
        if not a.progress and fresh(a.starts_on):
            calendar = notices_calendar(state, a.party)
            out.append(
                t.Notice(
                    f"plan-reminder:activity-start:{a.id}@{a.starts_on.isoformat()}",
                    calendar.before(calendar.opening(a.starts_on), START_REMINDER_DAYS),
                    "implementation_reminder",
                    {
                        "subject": "activity",
                        "ref": a.id,
                        "party": a.party,
                        "on": a.starts_on.isoformat(),
                        "what": "starts",
                        "days_before": START_REMINDER_DAYS,
                    },
                )
            )
        out += _due_notices(state, "activity", a.id, a.party, a.ends_on, reminders=DUE_REMINDER_DAYS)
    for o in state.obligations:
        if o.status == "open" and fresh(o.due_on):
            out += _due_notices(state, "obligation", o.id, o.party, o.due_on, reminders=DUE_REMINDER_DAYS)
    for item in state.action_items:
        if item.done_at is None:
            out += _due_notices(state, "action_item", item.id, item.party, item.due_on, reminders=(0,))
    return out
