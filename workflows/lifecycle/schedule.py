"""What time brings: step deadlines with their reminders and escalation, evaluation
reports due, scheduled and final evaluations, expiry reminders and expiry.

`notices` lists everything time will make happen in a state, `due_notices` what has come
and was not sent yet, `next_wakeup` when the workflow's timer should next send a `tick`;
the `tick` handler turns what is due into events, one notice at a time, in order. Time is always an
argument: the decider reads no clock. Date arithmetic lives in `workflows.timeline`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import NothingDue
from workflows.lifecycle.evolve import NOTICE_ONLY_EVENT_TYPES
from workflows.lifecycle.plan_time import implementation_notices
from workflows.lifecycle.reading import (
    current_step,
    initiator,
    notices_calendar,
    open_evaluations,
    party_orgs,
    phase,
    scope_of,
)

STEP_DEADLINE_DAYS = t.STEP_DEADLINE_DAYS
TICK_LIMIT = 100  # notices one tick handles at most (one event each, one more for an opening)
# Notices that change the state (an evaluation opening or escalating) one tick handles at
# most: what is due is worked out again after each. Openings pile up when a worker was down
# for long; the rest waits for the next tick, which the workflow sends at once.
TICK_CHANGES_LIMIT = 10


def notices(state: m.AgreementState) -> list[t.Notice]:
    """Everything time will make happen in this state, sent or not (see `due_notices`).
    Times follow the initiating region's calendar: reminders, openings and escalations at
    office hours on its office days (calendar days at 09:00 for agreements created before
    office days: their notices do not move)."""
    if phase(state) in ("closed", "draft"):
        return []
    calendar = notices_calendar(state, initiator(state).org)
    out: list[t.Notice] = []
    step, due = current_step(state), state.deadlines.get("step")
    if step is not None and due is not None:
        tag = f"{scope_of(state)}/{step.key}@{due.isoformat()}"
        for days in t.STEP_REMINDER_DAYS if calendar.legacy else t.STEP_REMINDER_OFFICE_DAYS:
            out.append(
                t.Notice(
                    f"step-reminder:{tag}:{days}",
                    calendar.before(due, days),
                    "deadline_reminder",
                    {"step": step.key, "due_at": due.isoformat(), "days_before": days},
                )
            )
        out.append(
            t.Notice(
                f"step-escalation:{tag}",
                calendar.at_office(due),
                "deadline_escalated",
                {"step": step.key, "due_at": due.isoformat()},
            )
        )
    if state.stage != "implementation" or state.end_date is None:
        return out
    end = state.end_date
    running = open_evaluations(state)
    for evaluation in running:
        out += _evaluation_notices(state, calendar, evaluation)
    if not any(e.final for e in running) and state.next_evaluation_on is not None and state.next_evaluation_on < end:
        # Every interval opens its evaluation, whether or not an earlier one is concluded.
        opens = state.next_evaluation_on
        out.append(
            t.Notice(
                f"evaluation:{opens.isoformat()}",
                calendar.opening(opens),
                "evaluation_opened",
                {"final": False, "origin": "schedule"},
            )
        )
    for days in state.expiry_reminder_days:
        out.append(
            t.Notice(
                f"expiry-reminder:{end.isoformat()}:{days}",
                calendar.opening(calendar.on_or_before(end - timedelta(days=days))),
                "expiry_reminder",
                {"end_date": end.isoformat(), "days_before": days},
            )
        )
    if state.change is not None:  # the end date comes with a change still open: say so
        out.append(
            t.Notice(
                f"change-open-at-end:{scope_of(state)}@{end.isoformat()}",
                calendar.opening(end),
                "change_open_at_end_date",
                {"kind": state.change.kind, "number": state.change.number, "end_date": end.isoformat()},
            )
        )
    if not any(e.final for e in state.evaluations):
        out.append(
            t.Notice(
                f"end-of-term:{end.isoformat()}",
                calendar.opening(end),
                "evaluation_opened",
                {"final": True, "origin": "end_of_term"},
            )
        )
    out += implementation_notices(state)  # the action plan's reminders and escalations (#13)
    return out


def _evaluation_notices(state: m.AgreementState, calendar: t.Calendar, evaluation: m.Evaluation) -> list[t.Notice]:
    """Reminders before an evaluation's reports are due; after it, the expiry of a final
    one, or escalations of a periodic one until it is concluded: the first to the
    coordinators the day after, then to the head's office at a backing-off cadence."""
    out: list[t.Notice] = []
    assert state.end_date is not None
    tag = f"{evaluation.number}@{evaluation.due_at.isoformat()}"
    # Every party has reported: nobody to remind, only the conclusion waits.
    all_reported = set(party_orgs(state)) <= {r.org for r in evaluation.reports}
    reminder_days = t.REPORT_REMINDER_DAYS if calendar.legacy else t.REPORT_REMINDER_OFFICE_DAYS
    for days in () if all_reported else reminder_days:
        out.append(
            t.Notice(
                f"report-reminder:{tag}:{days}",
                calendar.before(evaluation.due_at, days),
                "evaluation_reminder",
                {"evaluation": evaluation.number, "days_before": days, "due_at": evaluation.due_at.isoformat()},
            )
        )
    after = calendar.after(evaluation.due_at, 1)
    if evaluation.final:  # reports or not, a term that ended expires after its due date
        data: dict[str, object] = {"end_date": state.end_date.isoformat(), "evaluation": evaluation.number}
        if state.change is not None:
            data["open_change"] = scope_of(state)
        out.append(t.Notice(f"expire:{state.end_date.isoformat()}", after, "agreement_expired", data))
        return out
    round_ = evaluation.escalations + 1
    if round_ == 1 and calendar.legacy and not all_reported:  # as agreements created before recorded it
        out.append(
            t.Notice(f"report-escalation:{tag}", after, "evaluation_escalated", {"evaluation": evaluation.number})
        )
        return out
    # Backing off: 1, 11, 31, 71, 151... office days after the due date (ESCALATION_INTERVAL_DAYS
    # doubling), so an evaluation nobody concludes is never forgotten nor a flood.
    at = calendar.after(evaluation.due_at, 1 + t.ESCALATION_INTERVAL_DAYS * (2 ** (round_ - 1) - 1))
    key = f"report-escalation:{tag}" if round_ == 1 else f"report-escalation:{tag}:{round_}"
    out.append(
        t.Notice(
            key,
            at,
            "evaluation_escalated",
            {"evaluation": evaluation.number, "round": round_, "to": "coordinators" if round_ == 1 else "head_office"},
        )
    )
    return out


def _moot(notice: t.Notice, start: datetime | None, end_set: datetime | None) -> bool:
    """Reminders that fell before the timeline started (an import, a late start, an
    extension of a passed deadline) are never sent; nor reminders of an end date that fell
    before a change set it (`end_set`): "90 days before" an end an addendum brought to 34
    days away cannot be kept, and sending it late with the 60 days' would tell nothing true."""
    if not notice.kind.endswith("_reminder"):
        return False
    if start is not None and notice.at < start:
        return True
    return end_set is not None and notice.kind == "expiry_reminder" and notice.at < end_set


def end_date_set_at(state: m.AgreementState) -> datetime | None:
    """When the end date in force was set by a signed amendment or renewal (None: it is the
    one implementation started with)."""
    return next((a.signed_at for a in reversed(state.amendments) if a.changes.get("end_date") is not None), None)


def due_notices(state: m.AgreementState, now: datetime, *, legacy_expiry_reminders: bool = False) -> list[t.Notice]:
    """The notices that have come by `now` and were not sent yet, oldest first.
    `legacy_expiry_reminders`: as runs of before, every reminder of a moved end date is sent,
    even one that fell before the change set it (`m.Tick.legacy_expiry_reminders`)."""
    sent, start = set(state.notices_sent), state.timeline_from
    end_set = None if legacy_expiry_reminders else end_date_set_at(state)
    pending = [n for n in notices(state) if n.key not in sent and n.at <= now]
    pending = [n for n in pending if not _moot(n, start, end_set)]
    return sorted(pending, key=lambda n: (n.at, n.key))


def next_wakeup(state: m.AgreementState, *, legacy_expiry_reminders: bool = False) -> datetime | None:
    """When the workflow's timer should next send a `tick` (None: nothing is scheduled)."""
    sent, start = set(state.notices_sent), state.timeline_from
    end_set = None if legacy_expiry_reminders else end_date_set_at(state)
    times = [n.at for n in notices(state) if n.key not in sent and not _moot(n, start, end_set)]
    return min(times, default=None)


def tick(e: Emitter, cmd: m.Tick) -> None:
    """Handle what is due, oldest first, at most `TICK_LIMIT` notices (the workflow ticks
    again at once while more is due). Working out what is due means every notice of the
    plan and the timeline, so it is done once, and again only after a notice whose event
    changes more than the notices sent (an evaluation opening or escalating, the agreement
    expiring): after a reminder or an escalation that only tells, what is due is the same
    but for it. The events are those of handling one notice at a time, recomputing after
    each. At most `TICK_CHANGES_LIMIT` notices that change the state keep a tick light
    whatever has piled up."""
    legacy = cmd.legacy_expiry_reminders
    pending = due_notices(e.state, e.now, legacy_expiry_reminders=legacy)
    if not pending:
        wake = next_wakeup(e.state, legacy_expiry_reminders=legacy)
        raise NothingDue("Nothing is due yet.", next_wakeup=(wake.isoformat() if wake else None))
    handled = changed = 0
    while pending and handled < TICK_LIMIT:
        notice = pending[0]
        changes_state = notice.kind not in NOTICE_ONLY_EVENT_TYPES
        if changes_state and changed == TICK_CHANGES_LIMIT:
            break
        pending, handled = pending[1:], handled + 1
        if notice.kind == "evaluation_opened":
            e.emit_as("notice_due", {"notice": notice.key, "kind": notice.kind})
            e.open_evaluation(
                final=notice.data["final"], origin=notice.data["origin"], legacy_periods=cmd.legacy_periods
            )
        else:
            e.emit_as(notice.kind, {"notice": notice.key, **notice.data})
        if changes_state:
            changed += 1
            pending = due_notices(e.state, e.now, legacy_expiry_reminders=legacy)
