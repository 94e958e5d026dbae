"""What time brings: step deadlines with their reminders and escalation, evaluation
reports due, scheduled and final evaluations, expiry reminders and expiry.

`notices` lists everything time will make happen in a state, `due_notices` what has come
and was not sent yet, `next_wakeup` when the workflow's timer should next send a `tick`;
the `tick` handler turns what is due into events, one notice at a time. Time is always an
argument: the decider reads no clock. Date arithmetic lives in `workflows.timeline`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from workflows import messages as m
from workflows import timeline as t
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.errors import NothingDue
from workflows.lifecycle.reading import current_step, open_evaluation, party_orgs, phase, scope_of, zone

STEP_DEADLINE_DAYS = t.STEP_DEADLINE_DAYS
TICK_LIMIT = 100  # notices one tick handles at most (each changes the state)


def notices(state: m.AgreementState) -> list[t.Notice]:
    """Everything time will make happen in this state, sent or not (see `due_notices`)."""
    if phase(state) in ("closed", "draft"):
        return []
    out: list[t.Notice] = []
    step, due = current_step(state), state.deadlines.get("step")
    if step is not None and due is not None:
        tag = f"{scope_of(state)}/{step.key}@{due.isoformat()}"
        for days in t.STEP_REMINDER_DAYS:
            out.append(t.Notice(f"step-reminder:{tag}:{days}", due - timedelta(days=days), "deadline_reminder",
                                {"step": step.key, "due_at": due.isoformat(), "days_before": days}))
        out.append(t.Notice(f"step-escalation:{tag}", due, "deadline_escalated",
                            {"step": step.key, "due_at": due.isoformat()}))
    if state.stage != "implementation" or state.end_date is None:
        return out
    evaluation, place = open_evaluation(state), zone(state)
    if evaluation is not None:
        tag = f"{evaluation.number}@{evaluation.due_at.isoformat()}"
        # Every party has reported: nobody to remind or escalate, only the conclusion waits.
        all_reported = set(party_orgs(state)) <= {r.org for r in evaluation.reports}
        for days in () if all_reported else t.REPORT_REMINDER_DAYS:
            out.append(t.Notice(f"report-reminder:{tag}:{days}", evaluation.due_at - timedelta(days=days),
                                "evaluation_reminder", {"evaluation": evaluation.number, "days_before": days,
                                                        "due_at": evaluation.due_at.isoformat()}))
        after = evaluation.due_at + timedelta(days=1)
        if evaluation.final:  # reports or not, a term that ended expires after its due date
            out.append(t.Notice(f"expire:{state.end_date.isoformat()}", after, "agreement_expired",
                                {"end_date": state.end_date.isoformat(), "evaluation": evaluation.number}))
        elif not evaluation.escalated and not all_reported:
            out.append(t.Notice(f"report-escalation:{tag}", after, "evaluation_escalated",
                                {"evaluation": evaluation.number}))
    elif state.next_evaluation_on is not None and state.next_evaluation_on < state.end_date:
        opens = state.next_evaluation_on
        out.append(t.Notice(f"evaluation:{opens.isoformat()}", t.office_time(opens, place), "evaluation_opened",
                            {"final": False, "origin": "schedule"}))
    end = state.end_date
    for days in state.expiry_reminder_days:
        out.append(t.Notice(f"expiry-reminder:{end.isoformat()}:{days}",
                            t.office_time(end - timedelta(days=days), place), "expiry_reminder",
                            {"end_date": end.isoformat(), "days_before": days}))
    if not any(e.final for e in state.evaluations) and (evaluation is None or not evaluation.final):
        out.append(t.Notice(f"end-of-term:{end.isoformat()}", t.office_time(end, place), "evaluation_opened",
                            {"final": True, "origin": "end_of_term"}))
    return out


def _moot(notice: t.Notice, start: datetime | None) -> bool:
    """Reminders that fell before the timeline started (an import, a late start, an
    extension of a passed deadline) are never sent."""
    return bool(start and notice.at < start and notice.kind.endswith("_reminder"))


def due_notices(state: m.AgreementState, now: datetime) -> list[t.Notice]:
    """The notices that have come by `now` and were not sent yet, oldest first."""
    sent = set(state.notices_sent)
    pending = [n for n in notices(state) if n.key not in sent and n.at <= now]
    pending = [n for n in pending if not _moot(n, state.timeline_from)]
    return sorted(pending, key=lambda n: (n.at, n.key))


def next_wakeup(state: m.AgreementState) -> datetime | None:
    """When the workflow's timer should next send a `tick` (None: nothing is scheduled)."""
    sent, start = set(state.notices_sent), state.timeline_from
    times = [n.at for n in notices(state) if n.key not in sent and not _moot(n, start)]
    return min(times, default=None)


def tick(e: Emitter, cmd: m.Tick) -> None:
    """Handle what is due, one notice at a time: each changes the state (a reminder is
    sent, an evaluation opens), so what is due is recomputed after each."""
    handled = 0
    while handled < TICK_LIMIT:
        pending = due_notices(e.state, e.now)
        if not pending:
            break
        notice = pending[0]
        handled += 1
        if notice.kind == "evaluation_opened":
            e.emit_as("notice_due", {"notice": notice.key, "kind": notice.kind})
            e.open_evaluation(final=notice.data["final"], origin=notice.data["origin"])
        else:
            e.emit_as(notice.kind, {"notice": notice.key, **notice.data})
    if not handled:
        raise NothingDue("Nothing is due yet.", next_wakeup=(w.isoformat() if (w := next_wakeup(e.state)) else None))
