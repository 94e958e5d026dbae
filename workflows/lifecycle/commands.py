"""The command tables: which commands each phase accepts, and what each command does.

`TRANSITIONS` says which commands each phase accepts; `HANDLERS` say what each command does
(the handlers live in `workflows.lifecycle.handlers`, `tick` in
`workflows.lifecycle.schedule`); `workflows.lifecycle.access.PERMISSIONS` says who may send
each. `run_command` puts the last two together; `decide` (`workflows.lifecycle.deciding`)
and `allowed_actions` (`workflows.lifecycle.views`) both run it, so they never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflows import messages as m
from workflows.lifecycle.access import check_permission_first
from workflows.lifecycle.emitter import Emitter
from workflows.lifecycle.handlers import (
    action_plan,
    changes,
    drafting,
    gates,
    implementation,
    meetings,
    negotiation,
    party_settings,
    publishing,
)
from workflows.lifecycle.schedule import tick

_EVALUATION = frozenset({"start_evaluation", "submit_evaluation_report", "conclude_evaluation"})
_TIMED = frozenset({"extend_deadline", "tick"})
# An open amendment or renewal never freezes the agreement: it can be withdrawn, and the
# agreement can be terminated meanwhile (the change pauses while the heads decide).
_CHANGE = frozenset({"withdraw_change", "terminate", "comment"}) | _EVALUATION | _TIMED

# Which commands each phase accepts. A phase is the stage, except that a gate step, a step
# of an amendment or renewal, and a pending termination are phases of their own.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"edit", "submit", "withdraw", "comment", "set_dprd_requirement"}),
    "gate": frozenset({"decide", "withdraw", "comment", "set_dprd_requirement"}) | _TIMED,
    "negotiation": frozenset({"submit_draft", "accept_draft", "withdraw", "comment", "set_dprd_requirement"}) | _TIMED,
    "signing": frozenset({"sign", "withdraw", "comment", "set_dprd_requirement"}) | _TIMED,
    "implementation": frozenset({"terminate", "propose_amendment", "renew", "comment"}) | _EVALUATION | _TIMED,
    "change_gate": frozenset({"decide"}) | _CHANGE,
    "change_negotiation": frozenset({"submit_draft", "accept_draft", "edit_change"}) | _CHANGE,
    "change_signing": frozenset({"sign"}) | _CHANGE,
    "termination": frozenset({"decide", "comment"}) | _EVALUATION | _TIMED,
    "closed": frozenset(),
}
# Publishing (#12): a signed agreement is published, or its publication taken back, while
# it runs — also during an amendment, a renewal or a pending termination. A closed
# agreement keeps the publications it had when it closed (its workflow has ended).
_PUBLISHING = frozenset({"publish", "unpublish"})
for _phase in ("implementation", "change_gate", "change_negotiation", "change_signing", "termination"):
    TRANSITIONS[_phase] |= _PUBLISHING

# ---------------------------------------------------------------- implementation (#13)
# The plan is negotiated with the text: in draft `edit` changes it with the other proposal
# fields, in the agreement's own negotiation `edit_plan` alone. The work it plans goes on
# while the agreement is in force, through an amendment, a renewal or a pending
# termination alike.
IMPLEMENTING: frozenset[str] = frozenset(
    {
        "report_progress",
        "record_measurement",
        "settle_obligation",
        "propose_plan_revision",
        "accept_plan_revision",
        "withdraw_plan_revision",
        "schedule_meeting",
        "record_minutes",
        "complete_action_item",
    }
)
TRANSITIONS["negotiation"] |= {"edit_plan"}
for _phase in ("implementation", "change_gate", "change_negotiation", "change_signing", "termination"):
    TRANSITIONS[_phase] |= IMPLEMENTING

# A region's settings reach every open agreement it is party to, whatever its phase: a
# closed one accepts nothing (its workflow has ended).
for _phase in TRANSITIONS:
    if _phase != "closed":
        TRANSITIONS[_phase] |= {"refresh_party_settings"}

# What each command does, once the phase accepts it and the caller may send it.
HANDLERS: dict[str, Callable[[Emitter, Any], None]] = {
    "edit": drafting.edit,
    "submit": drafting.submit,
    "withdraw": drafting.withdraw,
    "comment": drafting.comment,
    "decide": gates.decide_gate,
    "terminate": gates.terminate,
    "submit_draft": negotiation.submit_draft,
    "accept_draft": negotiation.accept_draft,
    "sign": negotiation.sign,
    "start_evaluation": implementation.start_evaluation,
    "submit_evaluation_report": implementation.submit_evaluation_report,
    "conclude_evaluation": implementation.conclude_evaluation,
    "propose_amendment": changes.propose_amendment,
    "renew": changes.renew,
    "edit_change": changes.edit_change,
    "withdraw_change": changes.withdraw_change,
    "set_dprd_requirement": drafting.set_dprd_requirement,
    "extend_deadline": implementation.extend_deadline,
    "tick": tick,
    # implementation (#13)
    "edit_plan": action_plan.edit_plan,
    "report_progress": action_plan.report_progress,
    "record_measurement": action_plan.record_measurement,
    "settle_obligation": action_plan.settle_obligation,
    "propose_plan_revision": action_plan.propose_plan_revision,
    "accept_plan_revision": action_plan.accept_plan_revision,
    "withdraw_plan_revision": action_plan.withdraw_plan_revision,
    "schedule_meeting": meetings.schedule_meeting,
    "record_minutes": meetings.record_minutes,
    "complete_action_item": meetings.complete_action_item,
    # publishing (#12)
    "publish": publishing.publish,
    "unpublish": publishing.unpublish,
    "refresh_party_settings": party_settings.refresh_party_settings,
}
assert set(HANDLERS) == set(m.COMMAND_TYPES)


def run_command(emitter: Emitter, command: Any) -> None:
    """Who may send it, then what it does: the part of `decide` that `allowed_actions`
    runs too, so both tell the same truth."""
    check_permission_first(emitter.state, emitter.actor, command)
    HANDLERS[command.type](emitter, command)
