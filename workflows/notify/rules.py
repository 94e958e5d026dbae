"""Who hears about what: `notifications_for(event, state) -> [Notification]`, pure.

An event is turned into notifications for *audiences* — an organisation (or any, for the
ministry), a role and optionally a gate — never for named people: who holds a role at an
organisation changes, and the channels resolve audiences to recipients at delivery time
(contacts for email, the caller's token for the in-app inbox). Webhooks are not decided
here: an organisation's endpoints receive every event of the agreements it is party to.

`state` is the agreement after the whole batch of events the command produced, so rules
read what they need from the event's own data first and use the state for names, parties
and gate slots (which `agreement_submitted` fixed for the whole procedure).

Adding a rule for a new event type (evaluation_opened, reminder_due, escalated, …) is one
function in `RULES`; an event type without a rule notifies no one (and still reaches
webhooks). Each rule is unit-tested in tests/test_notifications_rules.py.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict

from workflows import lifecycle
from workflows import messages as m
from workflows.procedures import TERMINATION_STEP, Step
from workflows.timeline import next_office_hours

AudienceRole = Literal["staff", "partner", "signatory", "approver"]
# Who reports on evaluations and negotiates drafts: the working level of every party.
WORKING_ROLES: tuple[AudienceRole, ...] = ("staff", "partner")


class Audience(BaseModel):
    """Everyone holding `role` (and `gate`, if set) at `org`; `org=None` means any
    organisation (the ministry gate is decided by whoever holds it, wherever)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    org: str | None
    role: AudienceRole
    gate: str | None = None

    @property
    def key(self) -> str:
        """Stable text form: the inbox's and the delivery log's recipient for this audience."""
        return f"{self.org or '*'}/{self.role}/{self.gate or '*'}"

    def matches(self, *, org: str, roles: list[str], gates: list[str]) -> bool:
        return (
            (self.org is None or self.org == org) and self.role in roles and (self.gate is None or self.gate in gates)
        )


class Notification(BaseModel):
    """One thing to tell one audience about one event. `template` picks the wording (email
    subject and body, inbox line); `data` holds everything the wording needs, so templates
    never read the agreement themselves."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    event_type: str
    agreement_id: str
    seq: int
    at: datetime
    audience: Audience
    template: str
    data: dict[str, Any]


# Reminders, escalations and other news that time (not a person) brings: mailed at office
# hours where its reader is, never at night or on a weekend there.
OFFICE_HOURS_ONLY = frozenset(
    {
        "deadline_reminder",
        "deadline_escalated",
        "evaluation_opened",
        "evaluation_reminder",
        "evaluation_escalated",
        "expiry_reminder",
        "implementation_reminder",  # the action plan's (#13)
        "implementation_escalated",
    }
)


def mail_time(note: Notification, moment: datetime, zone: str | None, days_off: Collection[date] = ()) -> datetime:
    """The first time from `moment` on that a mail of `note` may reach a reader in `zone`:
    time-driven news waits for office hours there — its first try and every retry alike, so
    a failure at 16:50 on a Friday is tried again on Monday morning, not at 17:00 — on a day
    of service: not on a national holiday or cuti bersama, nor on one of `days_off`, the
    reader's region's own (a reminder due on 1 Syawal goes when the office opens after
    Lebaran). News a person brought goes at `moment` (someone is waiting on it, and their
    answer may be due sooner than the next office hours: it retries on the plain backoff)."""
    if note.event_type in OFFICE_HOURS_ONLY:
        return next_office_hours(moment, zone or m.DEFAULT_TIME_ZONE, days_off)
    return moment


# What a rule decides: (audience, template, template data) per audience to tell.
Told = list[tuple[Audience, str, dict[str, Any]]]
Rule = Callable[[m.Event, m.AgreementState], Told]


# ---------------------------------------------------------------- audiences


def parties(
    state: m.AgreementState, roles: tuple[AudienceRole, ...] = WORKING_ROLES, *, except_org: str | None = None
) -> list[Audience]:
    return [Audience(org=org, role=role) for org in lifecycle.party_orgs(state) if org != except_org for role in roles]


def initiator_staff(state: m.AgreementState) -> list[Audience]:
    return [Audience(org=lifecycle.initiator(state).org, role="staff")]


def approvers(slots: list[m.GateSlot]) -> list[Audience]:
    # A slot without an org (the Minister's) is decided by any holder of the gate.
    return [Audience(org=s.org, role="approver", gate=s.gate) for s in slots]


def _step(state: m.AgreementState, key: str | None) -> Step | None:
    """The step an event names, read from the running procedure: the open amendment's or
    renewal's when one is open, the agreement's own, a closed change's, or the termination."""
    return lifecycle.step_by_key(state, key) if key else None


def _step_data(state: m.AgreementState, key: str | None) -> dict[str, Any]:
    step = _step(state, key)
    if step is None:
        return {}
    return {
        "step": step.key,
        "step_name": {"id": step.name_id, "en": step.name_en},
        "step_kind": step.kind,
        "document": step.document,
        "gate": step.gate,
    }


# ---------------------------------------------------------------- rules


def _each(audiences: list[Audience], template: str, **data: Any) -> Told:
    return [(a, template, data) for a in audiences]


def _submitted(e: m.Event, s: m.AgreementState) -> Told:
    return _each(parties(s), "agreement_submitted")


def _step_entered(e: m.Event, s: m.AgreementState) -> Told:
    step = _step(s, e.data.get("step"))
    data = {**_step_data(s, e.data.get("step")), "due_at": e.data.get("due_at")}
    if step is None:
        return []
    if step.kind == "gate":
        # The slots were fixed at submission (a change's when its step opens); the ones of
        # this step still pending are the ones it opens (not those of an earlier change).
        ours = [g for g in s.gates if g.step == step.key]
        slots = [g for g in ours if g.status == "pending"] or ours
        return [(a, "gate_opened", {**data, "for_org": a.org}) for a in approvers(slots)]
    if step.kind == "negotiation":
        return _each(parties(s), "negotiation_opened", **data)
    return _each(parties(s, ("signatory",)), "signing_opened", **data)


def _gate_decided(e: m.Event, s: m.AgreementState) -> Told:
    # Changes requested and rejections have events of their own (returned_*, rejected);
    # a termination's outcome too. An approval is news for the initiator's staff.
    if e.data.get("outcome") != "approve" or e.data.get("step") == TERMINATION_STEP.key:
        return []
    return _each(
        initiator_staff(s),
        "gate_approved",
        **_step_data(s, e.data.get("step")),
        for_org=e.data.get("org"),
        comment=e.data.get("comment"),
    )


def _changes_comment(e: m.Event, s: m.AgreementState) -> str | None:
    slot = next((g for g in s.gates if g.step == e.data.get("step") and g.status == "changes_requested"), None)
    return slot.comment if slot else None


def _returned_for_changes(e: m.Event, s: m.AgreementState) -> Told:
    to = _step_data(s, e.data.get("to_step"))
    return _each(
        parties(s),
        "changes_requested",
        **_step_data(s, e.data.get("step")),
        to_step=to.get("step"),
        to_step_name=to.get("step_name"),
        comment=_changes_comment(e, s),
    )


def _returned_to_draft(e: m.Event, s: m.AgreementState) -> Told:
    return _each(
        initiator_staff(s), "returned_to_draft", **_step_data(s, e.data.get("step")), comment=_changes_comment(e, s)
    )


def _draft_submitted(e: m.Event, s: m.AgreementState) -> Told:
    # The submitting party has accepted its own version; the others must now accept it.
    return _each(
        parties(s, except_org=e.data.get("org")),
        "draft_submitted",
        version=e.data.get("version"),
        document_kind=e.data.get("kind"),
        note=e.data.get("note"),
        by_org=e.data.get("org"),
    )


def _draft_accepted(e: m.Event, s: m.AgreementState) -> Told:
    return _each(
        parties(s, ("staff",), except_org=e.data.get("org")),
        "draft_accepted",
        version=e.data.get("version"),
        by_org=e.data.get("org"),
    )


def _document_signed(e: m.Event, s: m.AgreementState) -> Told:
    return _each(
        parties(s, ("staff",), except_org=e.data.get("org")),
        "document_signed",
        version=e.data.get("version"),
        document_kind=e.data.get("kind"),
        by_org=e.data.get("org"),
        signed_by=e.data.get("signed_by"),
    )


def _implementation_started(e: m.Event, s: m.AgreementState) -> Told:
    return _each(
        parties(s, ("staff", "partner", "signatory")),
        "implementation_started",
        effective_date=e.data.get("effective_date"),
        end_date=e.data.get("end_date"),
    )


def _comment_added(e: m.Event, s: m.AgreementState) -> Told:
    return _each(
        parties(s, ("staff",), except_org=e.data.get("org")),
        "comment_added",
        text=e.data.get("text"),
        by_org=e.data.get("org"),
        by=e.actor.sub,
    )


def _termination_requested(e: m.Event, s: m.AgreementState) -> Told:
    slots = [m.GateSlot.model_validate(g) for g in e.data.get("gates", [])]
    to_approvers = [
        (a, "gate_opened", {**_step_data(s, TERMINATION_STEP.key), "for_org": a.org, "reason": e.data.get("reason")})
        for a in approvers(slots)
    ]
    return to_approvers + _each(parties(s), "termination_requested", reason=e.data.get("reason"))


def _termination_declined(e: m.Event, s: m.AgreementState) -> Told:
    return _each(parties(s, ("staff",)), "termination_declined", comment=e.data.get("comment"))


def _closed(template: str) -> Rule:
    def rule(e: m.Event, s: m.AgreementState) -> Told:
        return _each(
            parties(s, ("staff", "partner", "signatory")),
            template,
            reason=e.data.get("reason") or e.data.get("comment"),
            **_step_data(s, e.data.get("step")),
        )

    return rule


def owed_by(state: m.AgreementState) -> list[Audience]:
    """Who the agreement waits for now (the decider says: `lifecycle.awaited`)."""
    # The decider names only audience roles here; it types them as plain strings.
    return [Audience(org=org, role=cast(AudienceRole, role), gate=gate) for org, role, gate in lifecycle.awaited(state)]


# Time-driven events. Their data is passed through to the templates, so what the decider
# records (due date, evaluation number, days before the end) shows in the message.
def _reminder_due(e: m.Event, s: m.AgreementState) -> Told:
    return _each(owed_by(s), "reminder_due", **{**_step_data(s, _current_key(s)), **e.data})


def _coordinators(s: m.AgreementState) -> list[Audience]:
    """The initiating region's staff and its TKKSD (review gate holders)."""
    org = lifecycle.initiator(s).org
    return [Audience(org=org, role="staff"), Audience(org=org, role="approver", gate="review")]


def _escalated(e: m.Event, s: m.AgreementState) -> Told:
    return _each(_coordinators(s) + owed_by(s), "escalated", **{**_step_data(s, _current_key(s)), **e.data})


def _missing_reporters(s: m.AgreementState, number: int) -> list[Audience]:
    evaluation = next((x for x in s.evaluations if x.number == number), None)
    reported = {r.org for r in evaluation.reports} if evaluation else set()
    return [a for a in parties(s) if a.org not in reported]


def _evaluation_opened(e: m.Event, s: m.AgreementState) -> Told:
    return _each(parties(s), "evaluation_opened", **e.data)


def _evaluation_reminder(e: m.Event, s: m.AgreementState) -> Told:
    return _each(_missing_reporters(s, e.data["evaluation"]), "evaluation_reminder", **e.data)


def _head_office(s: m.AgreementState) -> list[Audience]:
    """The initiating region's head's office: its approvers holding the `head` gate."""
    return [Audience(org=lifecycle.initiator(s).org, role="approver", gate="head")]


def _evaluation_escalated(e: m.Event, s: m.AgreementState) -> Told:
    late = _missing_reporters(s, e.data["evaluation"])
    # From the second round on (`to: head_office`) the head's office is told as well.
    head = _head_office(s) if e.data.get("to") == "head_office" else []
    return _each(
        head + _coordinators(s) + late, "evaluation_escalated", **e.data, missing=sorted({a.org for a in late})
    )


def _evaluation_concluded(e: m.Event, s: m.AgreementState) -> Told:
    return _each(parties(s, ("staff", "partner")), "evaluation_concluded", **e.data)


def _expiry_reminder(e: m.Event, s: m.AgreementState) -> Told:
    return _each(parties(s, ("staff",)), "expiry_reminder", **e.data)


def _change(template: str) -> Rule:
    def rule(e: m.Event, s: m.AgreementState) -> Told:
        return _each(parties(s, ("staff", "partner")), template, **e.data)

    return rule


def _to_initiator_staff(template: str) -> Rule:
    def rule(e: m.Event, s: m.AgreementState) -> Told:
        return _each(initiator_staff(s), template, **e.data)

    return rule


def _dprd_requirement_set(e: m.Event, s: m.AgreementState) -> Told:
    """A party stated its DPRD facts: when its approval is required, that party's holders of
    the `dprd` gate learn they will be asked (nobody else needs to hear it)."""
    org = e.data.get("org")
    if not e.data.get("required") or not org:
        return []
    return _each(
        [Audience(org=org, role="approver", gate="dprd")],
        "dprd_requirement_set",
        for_org=org,
        facts=e.data.get("facts"),
    )


# ---- publishing on the public portal (#12)


def _publication(template: str) -> Rule:
    """A party published the agreement (or took it back): the other parties' staff hear
    it — what they signed is now public, or no longer shown for that party."""

    def rule(e: m.Event, s: m.AgreementState) -> Told:
        org = e.data.get("org")
        others = [Audience(org=p.org, role="staff") for p in s.parties if p.org != org]
        return _each(others, template, by_org=org, documents=len(e.data.get("documents", [])))

    return rule


# ---- end of publishing


def _current_key(s: m.AgreementState) -> str | None:
    step = lifecycle.current_step(s)
    return step.key if step is not None else None


# ---------------------------------------------------------------- implementation (#13)


def _owner(s: m.AgreementState, org: str | None) -> list[Audience]:
    return [Audience(org=org, role=role) for role in WORKING_ROLES] if org else []


def _meeting(s: m.AgreementState, number: int) -> m.Meeting | None:
    return next((x for x in s.meetings if x.number == number), None)


def _meeting_scheduled(e: m.Event, s: m.AgreementState) -> Told:
    invited = [Audience(org=org, role=role) for org in e.data.get("participants", []) for role in WORKING_ROLES]
    return _each(invited, "meeting_invitation", **e.data)


def _minutes_recorded(e: m.Event, s: m.AgreementState) -> Told:
    meeting = _meeting(s, e.data["meeting"])
    return _each(parties(s), "minutes_recorded", **e.data, meeting_title=meeting.title if meeting else None)


def _plan_reminder(e: m.Event, s: m.AgreementState) -> Told:
    return _each(_owner(s, e.data.get("party")), "plan_reminder", **e.data)


def _plan_escalated(e: m.Event, s: m.AgreementState) -> Told:
    # Round 1 tells the owner party; round 2 the coordinators as well.
    coordinators = _coordinators(s) if e.data.get("to") == "coordinators" else []
    return _each(coordinators + _owner(s, e.data.get("party")), "plan_escalated", **e.data)


def _obligation_settled(e: m.Event, s: m.AgreementState) -> Told:
    if "settled_on" in e.data:  # settled on paper and imported: history, not news
        return []
    if e.data.get("outcome") == "missed":
        return _each(parties(s, ("staff",)), "obligation_missed", **e.data)
    return _each(initiator_staff(s), "obligation_fulfilled", **e.data)


def _plan_revision(template: str, *, except_proposer: bool = False) -> Rule:
    def rule(e: m.Event, s: m.AgreementState) -> Told:
        skip = e.data.get("org") if except_proposer else None
        return _each(parties(s, except_org=skip), template, **e.data)

    return rule


IMPLEMENTATION_RULES: dict[str, Rule] = {
    "meeting_scheduled": _meeting_scheduled,
    "minutes_recorded": _minutes_recorded,
    "implementation_reminder": _plan_reminder,
    "implementation_escalated": _plan_escalated,
    "obligation_settled": _obligation_settled,
    "plan_revision_proposed": _plan_revision("plan_revision_proposed", except_proposer=True),
    "plan_revision_adopted": _plan_revision("plan_revision_adopted"),
    "plan_revision_withdrawn": _plan_revision("plan_revision_withdrawn", except_proposer=True),
}


RULES: dict[str, Rule] = {
    "deadline_reminder": _reminder_due,
    "deadline_escalated": _escalated,
    "evaluation_opened": _evaluation_opened,
    "evaluation_reminder": _evaluation_reminder,
    "evaluation_escalated": _evaluation_escalated,
    "evaluation_concluded": _evaluation_concluded,
    "expiry_reminder": _expiry_reminder,
    "change_opened": _change("change_opened"),
    "change_completed": _change("change_completed"),
    "change_rejected": _change("change_rejected"),
    "change_edited": _change("change_edited"),
    "change_withdrawn": _change("change_withdrawn"),
    "change_open_at_end_date": _to_initiator_staff("change_open_at_end_date"),
    "recommendation_deferred": _to_initiator_staff("recommendation_deferred"),
    "dprd_requirement_set": _dprd_requirement_set,
    "agreement_submitted": _submitted,
    "step_entered": _step_entered,
    "gate_decided": _gate_decided,
    "returned_for_changes": _returned_for_changes,
    "returned_to_draft": _returned_to_draft,
    "draft_submitted": _draft_submitted,
    "draft_accepted": _draft_accepted,
    "document_signed": _document_signed,
    "implementation_started": _implementation_started,
    "comment_added": _comment_added,
    "termination_requested": _termination_requested,
    "termination_declined": _termination_declined,
    "agreement_rejected": _closed("agreement_rejected"),
    "agreement_withdrawn": _closed("agreement_withdrawn"),
    "agreement_terminated": _closed("agreement_terminated"),
    "agreement_expired": _closed("agreement_expired"),
    **IMPLEMENTATION_RULES,
    # publishing (#12)
    "agreement_published": _publication("agreement_published"),
    "agreement_unpublished": _publication("agreement_unpublished"),
}
# Events nobody needs to hear about by mail or inbox (webhooks still carry them): the
# creator knows what they created; skipped and completed steps show in the next step_entered.
SILENT: frozenset[str] = frozenset(
    {
        "agreement_created",
        "proposal_edited",
        "step_skipped",
        "step_completed",
        "notice_due",
        "deadline_extended",
        "evaluation_report_submitted",
        # implementation (#13): recorded work shows on the agreement and in the digest
        "plan_edited",
        "progress_reported",
        "indicator_measured",
        "plan_revision_accepted",
        "action_item_completed",
        # a region's settings reaching the agreement: its own staff changed them
        "party_settings_changed",
        # a due date moved by those settings: shown like an extension, which is silent too
        "deadline_recounted",
    }
)


def notifications_for(event: m.Event, state: m.AgreementState) -> list[Notification]:
    """The notifications one event causes, one per audience (the first rule wins when two
    would tell the same audience about the same event)."""
    rule = RULES.get(event.type)
    if rule is None:
        return []
    common = {"title": state.title, "kind": state.kind, "stage": state.stage}
    out: list[Notification] = []
    seen: set[str] = set()
    for audience, template, data in rule(event, state):
        if audience.key in seen:
            continue
        seen.add(audience.key)
        out.append(
            Notification(
                event_id=event.id,
                event_type=event.type,
                agreement_id=event.agreement_id,
                seq=event.seq,
                at=event.at,
                audience=audience,
                template=template,
                data={**common, **data},
            )
        )
    return out


def endpoint_disabled(*, org: str, endpoint_id: str, url: str, event: m.Event, reason: str) -> Notification:
    """Told to the owning organisation's staff when one of its webhook endpoints has been
    failing for too long and is switched off. Its id derives from the event whose delivery
    gave up, so the notice itself is delivered once too."""
    return Notification(
        event_id=f"{event.id}/webhook-disabled/{endpoint_id}",
        event_type="webhook_disabled",
        agreement_id=event.agreement_id,
        seq=event.seq,
        at=event.at,
        audience=Audience(org=org, role="staff"),
        template="webhook_disabled",
        data={"endpoint_id": endpoint_id, "url": url, "reason": reason, "title": ""},
    )
