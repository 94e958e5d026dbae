"""Who may do what: one permission per command type, and who may see an agreement.

`PERMISSIONS` declares, once per command, who may send it and what a refused caller is
told; `decide` (and `allowed_actions`, which asks the same question) checks it before
the command's handler runs. One command is the exception: a gate decision first checks
that such a decision is awaited at all (409) and only then who is asking (403), so its
permission is marked `checked_by_handler` and the handler calls `check_permission` at
that point.

Also here: who sees an agreement (`can_see`), who may create and import agreements, and
`OWED`, the commands someone owes an agreement (its inbox). The check of a command's
expected version lives with `decide` (`workflows.lifecycle.deciding`): it tells the caller
what they may do instead, which runs the handlers, which use the checks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from workflows import messages as m
from workflows.lifecycle.errors import NotAllowed
from workflows.lifecycle.reading import initiator, party_orgs


@dataclass(frozen=True)
class Who:
    """A kind of caller a permission admits, as a rule on the state, the actor and the command."""

    name: str
    admits: Callable[[m.AgreementState, m.Actor, Any], bool]

    def __repr__(self) -> str:
        return self.name


def _party(state: m.AgreementState, actor: m.Actor) -> m.Party | None:
    return next((p for p in state.parties if p.org == actor.org), None)


def is_initiator_staff(state: m.AgreementState, actor: m.Actor) -> bool:
    """Staff of the initiating organisation (or an administrator)."""
    return actor.has("admin") or (actor.has("staff") and actor.org == initiator(state).org)


# Staff of the initiating organisation, or an administrator.
INITIATOR_STAFF = Who("INITIATOR_STAFF", lambda s, a, c: is_initiator_staff(s, a))
# ... or the initiating organisation's scheduler (an outside job opening evaluations).
INITIATOR_STAFF_OR_SCHEDULER = Who(
    "INITIATOR_STAFF_OR_SCHEDULER",
    lambda s, a, c: is_initiator_staff(s, a) or (a.has("scheduler") and a.org == initiator(s).org))
# Anyone of a party's organisation, or an administrator.
PARTY = Who("PARTY", lambda s, a, c: a.org in party_orgs(s) or a.has("admin"))
# Staff or partners (or an administrator) of a party's organisation: they negotiate and report.
PARTY_MEMBER = Who(
    "PARTY_MEMBER",
    lambda s, a, c: _party(s, a) is not None and (a.has("staff") or a.has("partner") or a.has("admin")))
# A signatory of a party's organisation.
SIGNATORY_OF_PARTY = Who("SIGNATORY_OF_PARTY", lambda s, a, c: _party(s, a) is not None and a.has("signatory"))
# An approver holding the gate the command decides.
GATE_APPROVER = Who("GATE_APPROVER", lambda s, a, c: a.has("approver") and c.gate in a.gates)
# The agreement's own timer.
SYSTEM = Who("SYSTEM", lambda s, a, c: a.has("system"))


@dataclass(frozen=True)
class Permission:
    """Who may send a command, and what a refused caller is told (`{field}` is filled in
    from the command)."""

    who: Who
    refusal: str
    checked_by_handler: bool = False  # the handler checks it, after a state check that comes first


_STAFF = "Only staff of the initiating organisation"

PERMISSIONS: dict[str, Permission] = {
    "edit": Permission(INITIATOR_STAFF, f"{_STAFF} edit the proposal."),
    "submit": Permission(INITIATOR_STAFF, f"{_STAFF} submit the proposal."),
    "withdraw": Permission(INITIATOR_STAFF, f"{_STAFF} withdraw the agreement."),
    "comment": Permission(PARTY, "Only the parties comment on an agreement."),
    "decide": Permission(GATE_APPROVER, "Deciding the '{gate}' gate needs an approver holding that gate.",
                         checked_by_handler=True),
    "submit_draft": Permission(PARTY_MEMBER, "Only staff or partners of a party's organisation negotiate drafts."),
    "accept_draft": Permission(PARTY_MEMBER, "Only staff or partners of a party's organisation accept drafts."),
    "sign": Permission(SIGNATORY_OF_PARTY, "Only a signatory of a party's organisation signs for it."),
    "terminate": Permission(INITIATOR_STAFF, f"{_STAFF} propose a termination."),
    "start_evaluation": Permission(INITIATOR_STAFF_OR_SCHEDULER,
                                   f"{_STAFF} or its scheduler open an evaluation."),
    "submit_evaluation_report": Permission(
        PARTY_MEMBER, "Only staff or partners of a party's organisation report on an evaluation."),
    "conclude_evaluation": Permission(INITIATOR_STAFF, f"{_STAFF} conclude an evaluation."),
    "propose_amendment": Permission(INITIATOR_STAFF, f"{_STAFF} propose an amendment."),
    "renew": Permission(INITIATOR_STAFF, f"{_STAFF} renew an agreement."),
    "extend_deadline": Permission(INITIATOR_STAFF, f"{_STAFF} extend deadlines."),
    "tick": Permission(SYSTEM, "Only the agreement's own timer sends ticks."),
}
assert set(PERMISSIONS) == set(m.COMMAND_TYPES), "every command declares who may send it"


def permits(state: m.AgreementState, actor: m.Actor, command: Any) -> bool:
    return PERMISSIONS[command.type].who.admits(state, actor, command)


def check_permission(state: m.AgreementState, actor: m.Actor, command: Any) -> None:
    """Raise NotAllowed, with the command's refusal, unless `actor` may send `command`."""
    if not permits(state, actor, command):
        raise NotAllowed(PERMISSIONS[command.type].refusal.format_map(dict(command)))


def check_permission_first(state: m.AgreementState, actor: m.Actor, command: Any) -> None:
    """The check `decide` runs before the handler (all but the handler-checked ones)."""
    if not PERMISSIONS[command.type].checked_by_handler:
        check_permission(state, actor, command)


def acting_party(state: m.AgreementState, actor: m.Actor) -> m.Party:
    """The party the actor acts for; only after a PARTY_MEMBER or SIGNATORY_OF_PARTY check."""
    party = _party(state, actor)
    assert party is not None, "the permission check admits only members of a party"
    return party


# The command types someone owes an agreement: while they are allowed, the agreement waits
# for that caller (an inbox item). The others are options (comment, edit, withdraw, ...).
OWED: frozenset[str] = frozenset({
    "decide", "submit_draft", "accept_draft", "sign", "submit",
    "submit_evaluation_report", "conclude_evaluation",
})
assert OWED <= set(m.COMMAND_TYPES)


def sees_every_agreement(actor: m.Actor) -> bool:
    """Administrators, auditors and the system see every agreement."""
    return actor.has("admin") or actor.has("auditor") or actor.has("system")


def can_see(state: m.AgreementState, actor: m.Actor) -> bool:
    if sees_every_agreement(actor):
        return True
    if actor.org in party_orgs(state):
        return True
    return "ministry" in actor.gates and actor.has("approver") and ministry_can_see(state)


def ministry_can_see(state: m.AgreementState) -> bool:
    """Ministry approvers see the agreements awaiting or past their gate."""
    return any(s.gate == "ministry" and s.status != "waiting" for s in state.gates)


def check_creator(proposal: m.Proposal, actor: m.Actor) -> None:
    """Only staff of the initiating organisation (or an administrator) create its agreements."""
    initiating = next(p for p in proposal.parties if p.role == "initiator")
    if not (actor.has("admin") or (actor.has("staff") and actor.org == initiating.org)):
        raise NotAllowed("Only staff of the initiating organisation create its agreements.",
                         initiator=initiating.org)


def check_importer(actor: m.Actor) -> None:
    if not actor.has("admin"):
        raise NotAllowed("Only administrators import existing agreements.")
