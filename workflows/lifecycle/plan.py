"""The rules of what an agreement carries: development goals, obligations per party and the
action plan — what makes them valid, the hash a draft version binds, and which changes a
revision of the plan may make (the rest needs an addendum). docs/implementation.md.

Only reads the state; the handlers (`handlers/action_plan.py`, `handlers/drafting.py`,
`handlers/changes.py`) call these checks and emit the events.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from workflows import messages as m
from workflows import sdg
from workflows import timeline as t
from workflows.lifecycle.errors import InvalidProposal
from workflows.lifecycle.reading import party_orgs

_OBLIGATION_FIELDS = frozenset(m.Obligation.model_fields)
_ACTIVITY_FIELDS = frozenset(m.Activity.model_fields)


def term_of(state: m.AgreementState) -> tuple[date, date]:
    """The days plan items must fall within: the agreement's term (as proposed, until it
    is in force)."""
    start = state.effective_date or state.start_date
    end = state.end_date or t.add_months(state.start_date, state.duration_months)
    return start, end


def check_goals(goals: Sequence[m.DevelopmentGoal]) -> None:
    seen: set[tuple[str, str]] = set()
    for i, goal in enumerate(goals):
        where = f"goals.{i}"
        if goal.scheme == "sdg" and not sdg.known(goal.code):
            raise InvalidProposal(
                f"'{goal.code}' is no SDG goal or target (goals 1–17, targets such as 4.1 or 17.a).",
                field=f"{where}.code",
                sdg_version=sdg.VERSION,
            )
        if goal.scheme == "regional" and not goal.text:
            raise InvalidProposal("A regional development target names its text.", field=f"{where}.text")
        if (goal.scheme, goal.code) in seen:
            raise InvalidProposal(f"Goal {goal.scheme} {goal.code} is named twice.", field=where)
        seen.add((goal.scheme, goal.code))


def _unique(ids: Sequence[str], what: str) -> None:
    twice = sorted({x for x in ids if ids.count(x) > 1})
    if twice:
        raise InvalidProposal(f"Each {what} has its own id; repeated: {', '.join(twice)}.", field=what + "s")


def _within(day: date, term: tuple[date, date], field: str) -> None:
    if not term[0] <= day <= term[1]:
        raise InvalidProposal(
            f"{day.isoformat()} is outside the agreement's term ({term[0].isoformat()} to {term[1].isoformat()}).",
            field=field,
        )


def check_obligations(
    obligations: Sequence[m.Obligation], parties: Sequence[str], term: tuple[date, date], *, field: str = "obligations"
) -> None:
    _unique([o.id for o in obligations], "obligation")
    for i, o in enumerate(obligations):
        where = f"{field}.{i}"
        if o.party not in parties:
            raise InvalidProposal(f"Obligation {o.id} belongs to {o.party}, which is no party.", field=f"{where}.party")
        if o.kind == "funds" and (o.amount is None or o.source is None):
            raise InvalidProposal(
                f"Obligation {o.id} contributes funds: it names the amount and its source (APBD, APBN or other).",
                field=f"{where}.amount" if o.amount is None else f"{where}.source",
            )
        if o.kind != "funds" and o.source is not None:
            raise InvalidProposal(f"Only funds have a source (obligation {o.id}).", field=f"{where}.source")
        _within(o.due_on, term, f"{where}.due_on")


def check_activities(
    activities: Sequence[m.Activity],
    parties: Sequence[str],
    indicators: Sequence[str],
    term: tuple[date, date],
    *,
    field: str = "activities",
) -> None:
    _unique([a.id for a in activities], "activity")
    for i, a in enumerate(activities):
        where = f"{field}.{i}"
        if a.party not in parties:
            raise InvalidProposal(f"Activity {a.id} belongs to {a.party}, which is no party.", field=f"{where}.party")
        if a.ends_on < a.starts_on:
            raise InvalidProposal(f"Activity {a.id} ends before it starts.", field=f"{where}.ends_on")
        _within(a.starts_on, term, f"{where}.starts_on")
        _within(a.ends_on, term, f"{where}.ends_on")
        unknown = sorted(set(a.indicators) - set(indicators))
        if unknown:
            raise InvalidProposal(
                f"Activity {a.id} serves indicators the agreement does not have: {', '.join(unknown)}.",
                field=f"{where}.indicators",
                indicators=sorted(indicators),
            )
        strangers = sorted({b.party for b in a.budget} - set(parties))
        if strangers:
            raise InvalidProposal(
                f"Activity {a.id} budgets for {', '.join(strangers)}, which is no party.", field=f"{where}.budget"
            )
        if len({b.party for b in a.budget}) != len(a.budget):
            raise InvalidProposal(f"Activity {a.id} budgets each party once.", field=f"{where}.budget")
        if len(set(a.milestones)) != len(a.milestones):
            raise InvalidProposal(f"Activity {a.id} names each milestone once.", field=f"{where}.milestones")


def check_plan(state: m.AgreementState) -> None:
    """Every rule of goals, obligations and activities, on the state as it would be."""
    term, parties = term_of(state), party_orgs(state)
    check_goals(state.goals)
    check_obligations(state.obligations, parties, term)
    check_activities(state.activities, parties, [i.name for i in state.indicators], term)


def plan_body(
    goals: Sequence[m.DevelopmentGoal], obligations: Sequence[m.Obligation], activities: Sequence[m.Activity]
) -> dict[str, Any]:
    """The plan as the parties commit to it: its items without their progress or status."""
    return {
        "goals": [g.model_dump(mode="json") for g in goals],
        "obligations": [o.model_dump(mode="json", include=set(_OBLIGATION_FIELDS)) for o in obligations],
        "activities": [a.model_dump(mode="json", include=set(_ACTIVITY_FIELDS)) for a in activities],
    }


def plan_hash(
    goals: Sequence[m.DevelopmentGoal], obligations: Sequence[m.Obligation], activities: Sequence[m.Activity]
) -> str | None:
    """sha256 of the plan's canonical JSON (sorted keys, no spaces); None when there is no plan."""
    if not (goals or obligations or activities):
        return None
    body = json.dumps(plan_body(goals, obligations, activities), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def state_plan_hash(state: m.AgreementState) -> str | None:
    """The hash of the plan in force (or proposed, before signing)."""
    return plan_hash(state.goals, state.obligations, state.activities)


def negotiated_plan_hash(state: m.AgreementState) -> str | None:
    """The plan the text now negotiated commits to: the agreement's own, or for an addendum
    that changes obligations or activities, the plan as the addendum would make it."""
    changes = state.change.changes if state.change is not None else {}
    obligations = [m.Obligation.model_validate(o) for o in changes.get("obligations") or []] or state.obligations
    activities = [m.Activity.model_validate(a) for a in changes.get("activities") or []] or state.activities
    return plan_hash(state.goals, obligations, activities)


def budgets(activities: Sequence[m.Activity]) -> dict[str, int]:
    """What each party spends over the whole plan."""
    out: dict[str, int] = defaultdict(int)
    for a in activities:
        for b in a.budget:
            out[b.party] += b.amount
    return dict(out)


def addendum_reasons(state: m.AgreementState, activities: Sequence[m.Activity]) -> list[str]:
    """Why a revision to `activities` is more than a revision may be (empty: it may be one).
    A revision re-times, adds, splits or rewords activities within the term, each party's
    total budget and with the same owner of every activity already under way; more
    spending by a party, another owner or dropping an activity with progress on record
    changes what the parties committed to, which only a signed addendum may."""
    reasons: list[str] = []
    before, after = budgets(state.activities), budgets(activities)
    for party in sorted(set(after)):
        if after[party] > before.get(party, 0):
            reasons.append(f"{party} would spend {after[party]} instead of {before.get(party, 0)}")
    new = {a.id: a for a in activities}
    for old in state.activities:
        if not old.progress:
            continue
        if old.id not in new:
            reasons.append(f"activity {old.id} has progress on record and cannot be dropped")
        elif new[old.id].party != old.party:
            reasons.append(f"activity {old.id} is under way: its owner stays {old.party}")
    return reasons


def merged_activities(state: m.AgreementState, activities: Sequence[m.Activity]) -> list[m.ActivityRecord]:
    """A new list of activities in force, each keeping the progress reported under its id."""
    progress = {a.id: a.progress for a in state.activities}
    return [
        m.ActivityRecord.model_validate(
            {**a.model_dump(include=set(_ACTIVITY_FIELDS)), "progress": progress.get(a.id, [])}
        )
        for a in activities
    ]


def merged_obligations(state: m.AgreementState, obligations: Sequence[m.Obligation]) -> list[m.ObligationRecord]:
    """A new list of obligations in force, each keeping the status settled under its id."""
    known = {o.id: o for o in state.obligations}
    out = []
    for o in obligations:
        record = m.ObligationRecord.model_validate(o.model_dump(include=set(_OBLIGATION_FIELDS)))
        if o.id in known and known[o.id].status != "open":
            old = known[o.id]
            record.status, record.note, record.evidence = old.status, old.note, list(old.evidence)
            record.settled_by, record.settled_at = old.settled_by, old.settled_at
        out.append(record)
    return out
