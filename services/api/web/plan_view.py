"""What the pages show of an agreement's implementation (#13), read from its state: the
goals with their SDG names in the reader's language, the timeline, measurements per
indicator, the plan revisions pending with what they change, and the work the reader's
party may do on it now (`party_work`: the forms of the inbox and the agreement page,
offered only where the decider's `allowed_actions` would accept them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.api import commands
from services.api.web import plan_svg
from services.api.web.i18n import Translator
from services.api.web.plan_forms import MAX_DECISIONS, revision_changes
from services.auth import Principal
from services.store import notifications as open_store
from workflows import lifecycle, sdg
from workflows import messages as m
from workflows.lifecycle.reading import initiator, local_today


def goal_names(goals: list[m.DevelopmentGoal], lang: str) -> list[dict[str, str]]:
    """Each goal with its name in the reader's language: an SDG goal's own name, a target's
    text under its goal's name (the shipped data has target texts in English only)."""
    shown = []
    for goal in goals:
        if goal.scheme == "sdg":
            parent = sdg.GOALS.get(goal.code.split(".")[0])
            goal_name = (parent[0] if lang == "id" else parent[1]) if parent else ""
            text = goal_name if goal.code in sdg.GOALS else f"{goal_name} — {sdg.TARGETS.get(goal.code, '')}"
            shown.append({"scheme": "SDG", "code": goal.code, "text": text})
        else:
            shown.append({"scheme": "RPJMD", "code": goal.code, "text": goal.text or ""})
    return shown


def sdg_choices(lang: str) -> list[dict[str, Any]]:
    """The SDG picker's groups: each goal, then its targets."""
    by_goal: dict[str, list[tuple[str, str]]] = {code: [] for code in sdg.GOALS}
    for code, text in sdg.TARGETS.items():
        by_goal[code.split(".")[0]].append((code, text))
    return [
        {"code": code, "name": names[0] if lang == "id" else names[1], "targets": by_goal[code]}
        for code, names in sdg.GOALS.items()
    ]


def measurements_by_indicator(state: m.AgreementState) -> list[dict[str, Any]]:
    return [
        {
            "indicator": indicator,
            "measurements": sorted(
                (x for x in state.measurements if x.indicator == indicator.name), key=lambda x: x.measured_on
            ),
        }
        for indicator in state.indicators
    ]


def party_work(
    state: m.AgreementState, actor: m.Actor, now: datetime, *, meetings_by_coordinators: bool = False
) -> dict[str, Any]:
    """What the reader's party may report or owes on the plan now, each list empty when the
    decider would not accept it from them (`allowed_actions` decides, not this page). Any
    party may schedule a meeting; the inbox offers it to the coordinators (the initiator's
    staff) only, so that the partners' inboxes hold what they owe."""
    allowed = set(lifecycle.allowed_actions(state, actor, now))
    mine = actor.org
    coordinator = actor.has("staff") and initiator(state).org == mine
    return {
        "activities": [a for a in state.activities if a.party == mine and a.percent < 100]
        if "report_progress" in allowed
        else [],
        "obligations": [o for o in state.obligations if o.party == mine and o.status == "open"]
        if "settle_obligation" in allowed
        else [],
        "action_items": [i for i in state.action_items if i.party == mine and i.done_at is None]
        if "complete_action_item" in allowed
        else [],
        "revisions": [
            {"revision": r, "changes": revision_changes(state, r)}
            for r in state.plan_revisions
            if r.status == "open" and r.org != mine and mine not in r.accepted_by
        ]
        if "accept_plan_revision" in allowed
        else [],
        "measure": "record_measurement" in allowed and bool(state.indicators),
        "schedule": "schedule_meeting" in allowed and (coordinator or not meetings_by_coordinators),
        "minutes": [
            meeting
            for meeting in state.meetings
            if meeting.minutes is None and meeting.at <= now and (mine in meeting.participants or mine == meeting.org)
        ]
        if "record_minutes" in allowed
        else [],
    }


def has_work(work: dict[str, Any]) -> bool:
    return any(work.values())


def plan_context(state: m.AgreementState, actor: m.Actor, tr: Translator, now: datetime) -> dict[str, Any]:
    """What the agreement page's implementation section and forms need."""
    today = local_today(state, now)
    work = party_work(state, actor, now)
    return {
        "plan_svg": plan_svg.timeline_svg(state, tr, today),
        "plan_today": today,
        "goals_shown": goal_names(state.goals, tr.lang),
        "measured": measurements_by_indicator(state),
        "open_revisions": [
            {"revision": r, "changes": revision_changes(state, r)} for r in state.plan_revisions if r.status == "open"
        ],
        "work": work,
        "has_work": has_work(work),
        "max_decisions": MAX_DECISIONS,
    }


async def implementation_work(session: AsyncSession, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    """The agreements in force with a plan (or meetings) on which the reader's party has
    something to report or act on, for the inbox."""
    actor = commands.actor_of(principal)
    states = await open_store.open_agreements(session, viewer_org=principal.org, ministry=False)
    work = []
    for state in states:
        if state.stage != "implementation" or not lifecycle.can_see(state, actor):
            continue
        if not (state.activities or state.obligations or state.meetings):
            continue  # an agreement without a plan: its measurements are recorded from its page
        found = party_work(state, actor, now, meetings_by_coordinators=True)
        if has_work(found):
            work.append({"state": state, "work": found, "health": lifecycle.health(state, now)})
    return work
