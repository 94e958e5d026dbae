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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from workflows import messages as m
from workflows.lifecycle.errors import NotAllowed
from workflows.lifecycle.reading import government_parties, initiator, party_orgs


@dataclass(frozen=True)
class Who:
    """A kind of caller a permission admits, as a rule on the state, the actor and the command."""

    name: str
    admits: Callable[[m.AgreementState, m.Actor, Any], bool]

    def __repr__(self) -> str:
        return self.name


def _party(state: m.AgreementState, actor: m.Actor) -> m.Party | None:
    return next((p for p in state.parties if p.org == actor.org), None)


def is_staff_of(actor: m.Actor, org: str) -> bool:
    """Staff of `org`, or the administrator of `org` (an `admin` administers its own
    organisation only; the platform-wide role is `operator`, which sees and imports but
    acts for no party)."""
    return bool(org) and actor.org == org and (actor.has("staff") or actor.has("admin"))


def is_initiator_staff(state: m.AgreementState, actor: m.Actor) -> bool:
    """Staff (or the administrator) of the initiating organisation."""
    return is_staff_of(actor, initiator(state).org)


def is_government_party_staff(state: m.AgreementState, actor: m.Actor) -> bool:
    """Staff (or the administrator) of an Indonesian government party."""
    return any(is_staff_of(actor, p.org) for p in government_parties(state))


def may_decide_gate(state: m.AgreementState, actor: m.Actor, gate: str) -> bool:
    """An approver holding the gate; for the Minister's approval, an approver of a ministry
    organisation configured for the agreement (`ministry_orgs`) that is no party to it."""
    if not (actor.has("approver") and gate in actor.gates):
        return False
    if gate == "ministry":
        return actor.org in state.ministry_orgs and actor.org not in party_orgs(state)
    return True


# Staff of the initiating organisation, or its administrator.
INITIATOR_STAFF = Who("INITIATOR_STAFF", lambda s, a, c: is_initiator_staff(s, a))
# Staff (or the administrator) of any Indonesian government party: termination, DPRD facts.
GOVERNMENT_PARTY_STAFF = Who("GOVERNMENT_PARTY_STAFF", lambda s, a, c: is_government_party_staff(s, a))
# ... or the initiating organisation's scheduler (an outside job opening evaluations).
INITIATOR_STAFF_OR_SCHEDULER = Who(
    "INITIATOR_STAFF_OR_SCHEDULER",
    lambda s, a, c: is_initiator_staff(s, a) or (a.has("scheduler") and a.org == initiator(s).org),
)
# Anyone of a party's organisation.
PARTY = Who("PARTY", lambda s, a, c: bool(a.org) and a.org in party_orgs(s))
# Staff or partners (or the administrator) of a party's organisation: they negotiate and report.
PARTY_MEMBER = Who(
    "PARTY_MEMBER", lambda s, a, c: _party(s, a) is not None and (a.has("staff") or a.has("partner") or a.has("admin"))
)
# A signatory of a party's organisation.
SIGNATORY_OF_PARTY = Who("SIGNATORY_OF_PARTY", lambda s, a, c: _party(s, a) is not None and a.has("signatory"))
# An approver holding the gate the command decides.
GATE_APPROVER = Who("GATE_APPROVER", lambda s, a, c: may_decide_gate(s, a, c.gate))
# Staff (or the administrator) of a party's organisation, for that party: publishing (#12).
PARTY_STAFF = Who("PARTY_STAFF", lambda s, a, c: any(is_staff_of(a, p.org) for p in s.parties))
# The system: the agreement's own timer, and the worker bringing a region's settings.
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
    "decide": Permission(
        GATE_APPROVER, "Deciding the '{gate}' gate needs an approver holding that gate.", checked_by_handler=True
    ),
    "submit_draft": Permission(PARTY_MEMBER, "Only staff or partners of a party's organisation negotiate drafts."),
    "accept_draft": Permission(PARTY_MEMBER, "Only staff or partners of a party's organisation accept drafts."),
    "sign": Permission(SIGNATORY_OF_PARTY, "Only a signatory of a party's organisation signs for it."),
    "terminate": Permission(GOVERNMENT_PARTY_STAFF, "Only staff of a government party propose a termination."),
    "edit_change": Permission(INITIATOR_STAFF, f"{_STAFF} edit an open amendment."),
    "withdraw_change": Permission(INITIATOR_STAFF, f"{_STAFF} withdraw an open amendment or renewal."),
    "set_dprd_requirement": Permission(
        GOVERNMENT_PARTY_STAFF, "Only a government party's own staff state its DPRD requirement."
    ),
    "start_evaluation": Permission(INITIATOR_STAFF_OR_SCHEDULER, f"{_STAFF} or its scheduler open an evaluation."),
    "submit_evaluation_report": Permission(
        PARTY_MEMBER, "Only staff or partners of a party's organisation report on an evaluation."
    ),
    "conclude_evaluation": Permission(INITIATOR_STAFF, f"{_STAFF} conclude an evaluation."),
    "propose_amendment": Permission(INITIATOR_STAFF, f"{_STAFF} propose an amendment."),
    "renew": Permission(INITIATOR_STAFF, f"{_STAFF} renew an agreement."),
    "extend_deadline": Permission(INITIATOR_STAFF, f"{_STAFF} extend deadlines."),
    "tick": Permission(SYSTEM, "Only the agreement's own timer sends ticks."),
    # implementation (#13): the parties' working level; whose activity, obligation or action
    # item it is (the owner party) is the handler's check, after it has found the item.
    "edit_plan": Permission(INITIATOR_STAFF, f"{_STAFF} edit the action plan."),
    "report_progress": Permission(PARTY_MEMBER, "Only staff or partners of a party report progress."),
    "record_measurement": Permission(PARTY_MEMBER, "Only staff or partners of a party record measurements."),
    "settle_obligation": Permission(PARTY_MEMBER, "Only staff or partners of a party settle obligations."),
    "propose_plan_revision": Permission(PARTY_MEMBER, "Only staff or partners of a party propose a plan revision."),
    "accept_plan_revision": Permission(PARTY_MEMBER, "Only staff or partners of a party accept a plan revision."),
    "withdraw_plan_revision": Permission(
        PARTY_MEMBER, "Only staff or partners of a party withdraw or decline a plan revision."
    ),
    "schedule_meeting": Permission(PARTY_MEMBER, "Only staff or partners of a party schedule a meeting."),
    "record_minutes": Permission(PARTY_MEMBER, "Only staff or partners of a party record minutes."),
    "complete_action_item": Permission(PARTY_MEMBER, "Only staff or partners of a party complete action items."),
    # publishing (#12)
    "publish": Permission(PARTY_STAFF, "Only staff of a party's organisation publish the agreement for it."),
    "unpublish": Permission(PARTY_STAFF, "Only staff of a party's organisation take its publication back."),
    # A region changes its settings in the register (`PUT /organisations/{org}/settings`);
    # the system brings them to its agreements. No person sends it.
    "refresh_party_settings": Permission(SYSTEM, "Only the system brings a party's settings from the register."),
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


def publishing_party(state: m.AgreementState, actor: m.Actor) -> m.Party:
    """The party whose staff the actor is; only after a PARTY_STAFF check."""
    party = next((p for p in state.parties if is_staff_of(actor, p.org)), None)
    assert party is not None, "the permission check admits only a party's staff"
    return party


# The command types someone owes an agreement: while they are allowed, the agreement waits
# for that caller (an inbox item). The others are options (comment, edit, withdraw, ...).
OWED: frozenset[str] = frozenset(
    {
        "decide",
        "submit_draft",
        "accept_draft",
        "sign",
        "submit",
        "submit_evaluation_report",
        "conclude_evaluation",
        # implementation (#13): a revision every party must accept; an action item's owner
        "accept_plan_revision",
        "complete_action_item",
    }
)
assert set(m.COMMAND_TYPES) >= OWED


def sees_every_agreement(actor: m.Actor) -> bool:
    """Operators (platform-wide support), auditors and the system see every agreement; an
    organisation's `admin` sees its own organisation's."""
    return actor.has("operator") or actor.has("auditor") or actor.has("system")


def can_see(state: m.AgreementState, actor: m.Actor) -> bool:
    if sees_without_the_ministry_gate(actor, party_orgs(state)):
        return True
    return may_decide_gate(state, actor, "ministry") and ministry_can_see(state)


def sees_without_the_ministry_gate(actor: m.Actor, orgs: list[str]) -> bool:
    """`can_see` of an agreement between `orgs` (its `party_orgs`), short of the ministry's
    approvers: those who see every agreement, and the parties' people."""
    return seen_without_the_ministry_gate(actor, [orgs])[0]


def seen_without_the_ministry_gate(actor: m.Actor, parties: Iterable[list[str] | None]) -> list[bool]:
    """`sees_without_the_ministry_gate` of each of several agreements, by their parties'
    organisations (None: not read, for a caller who sees every agreement), the caller's
    standing judged once. Lists ask it of the parties a page's recorded states name, and
    `can_see` only of the rows it refuses."""
    if sees_every_agreement(actor):
        return [True for _ in parties]
    own = actor.org
    return [bool(own and orgs and own in orgs) for orgs in parties]


def ministry_can_see(state: m.AgreementState) -> bool:
    """Ministry approvers see the agreements awaiting or past their gate."""
    return any(s.gate == "ministry" and s.status != "waiting" for s in state.gates)


def check_creator(proposal: m.Proposal, actor: m.Actor, *, importing: bool = False) -> None:
    """Only staff of the initiating organisation (or its administrator) create its
    agreements; an operator imports for any organisation."""
    initiating = next(p for p in proposal.parties if p.role == "initiator")
    if importing and actor.has("operator"):
        return
    if not is_staff_of(actor, initiating.org):
        raise NotAllowed("Only staff of the initiating organisation create its agreements.", initiator=initiating.org)


def check_may_import(actor: m.Actor) -> None:
    """Before a batch is read: only operators and administrators import at all (which
    agreements an administrator may import is `check_importer`'s, per agreement)."""
    if not (actor.has("operator") or actor.has("admin")):
        raise NotAllowed("Only operators, or an organisation's administrator, import existing agreements.")


def check_importer(actor: m.Actor, proposal: m.Proposal | None = None) -> None:
    """Operators import for any organisation; an organisation's administrator for its own."""
    if actor.has("operator"):
        return
    initiating = next((p.org for p in proposal.parties if p.role == "initiator"), None) if proposal else None
    if not (actor.has("admin") and initiating is not None and actor.org == initiating):
        raise NotAllowed("Only operators, or the initiating organisation's administrator, import existing agreements.")
