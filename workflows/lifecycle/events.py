"""The payload of every event type, as a pydantic model.

An event is stored, hashed into the audit chain and carried through Temporal histories as
`m.Event.data`, a plain JSON dict; that stays the recorded form. These models say what
each type's dict holds: the emitter builds a payload model and records
`dump_payload(payload)`, the appliers read `event_payload(event)` back. Both validate.

Recorded events never change, so a model accepts every shape earlier versions of the
decider emitted, and dumping gives back exactly the recorded dict (same keys, same order,
same values) — hash chains and saved histories depend on it:

- field order is the order in which the decider has always written the keys;
- a field that older events lack has a default and is dumped only when it was set
  (`exclude_unset`): the emitter always sets it, an old event read back leaves it unset;
- moments stay the ISO strings they were written as (`Moment`): a datetime would be
  written back as "...Z" instead of "...+00:00".
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from workflows import messages as m

# Event ids derive from the agreement id and sequence number, so deciding is repeatable.
EVENT_NAMESPACE = uuid.UUID("7d1c1f4e-4a51-4c1e-9a55-5d2f0a3b6c10")


def event_id(agreement_id: str, seq: int) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{agreement_id}/{seq}"))


def _moment(value: str) -> str:
    datetime.fromisoformat(value)  # refuses anything that is not an ISO 8601 moment
    return value


# An instant as the decider wrote it (`datetime.isoformat()`), kept as that very string.
Moment = Annotated[str, AfterValidator(_moment)]


class EventPayload(BaseModel):
    """What one event type records. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


def dump_payload(payload: BaseModel) -> dict[str, Any]:
    """The recorded form: JSON values, and only the keys that were set."""
    return payload.model_dump(mode="json", exclude_unset=True)


# ---------------------------------------------------------------- shared parts


class ProposalChanges(EventPayload):
    """The fields an edit changes (`m.Edit.changes()`: only those given)."""

    title: str | None = None
    objectives: str | None = None
    sector: str | None = None
    parties: list[m.Party] | None = None
    start_date: date | None = None
    duration_months: int | None = None
    evaluation_interval_months: int | None = None
    indicators: list[m.Indicator] | None = None
    value: int | None = None
    goals: list[m.DevelopmentGoal] | None = None  # (#13)
    obligations: list[m.Obligation] | None = None
    activities: list[m.Activity] | None = None


class ChangeTerms(EventPayload):
    """The terms an amendment or renewal changes: an amendment's new end date, indicators
    or evaluation interval; a renewal's extra months (its completion: the new end date)."""

    end_date: date | None = None
    indicators: list[m.Indicator] | None = None
    evaluation_interval_months: int | None = None
    duration_months: int | None = None
    value: int | None = None  # absent in events from before editable addenda
    objectives: str | None = None
    burdens_public: bool | None = None
    obligations: list[m.Obligation] | None = None  # an addendum's new obligations (#13)
    activities: list[m.Activity] | None = None  # an addendum's new action plan (#13)


# ---------------------------------------------------------------- drafting


class AgreementCreated(m.Proposal):
    """The proposal as sent, the procedure it starts under, and the request's fingerprint
    (idempotent creation). Events from before organisation settings lack the parties'
    `time_zone` and `expiry_reminder_days`; the first ones may lack `value`."""

    model_config = ConfigDict(extra="forbid")

    procedure: m.ProcedureRef
    fingerprint: str | None = None
    calendar: str | None = None  # "office_days"; absent: created before office-day deadlines


class ProposalEdited(EventPayload):
    changes: ProposalChanges


class AgreementSubmitted(EventPayload):
    gates: list[m.GateSlot]  # every gate decision the agreement's procedure will ask for


class AgreementWithdrawn(EventPayload):
    reason: str


class CommentAdded(EventPayload):
    text: str
    org: str


# ---------------------------------------------------------------- steps


class StepEntered(EventPayload):
    step: str
    index: int
    stage: m.Stage
    change: int | None = None  # the amendment or renewal the step belongs to; absent before them
    due_at: Moment


class StepSkipped(EventPayload):
    step: str
    reason: str


class StepCompleted(EventPayload):
    step: str
    version: int | None = None  # the agreed or signed version (negotiation, signing)
    reason: str | None = None  # "already signed": the signatures of that version stand


# ---------------------------------------------------------------- gates


class GateDecided(EventPayload):
    step: str
    gate: m.Gate
    org: str | None
    outcome: m.Outcome
    comment: str | None


class ReturnedForChanges(EventPayload):
    step: str
    to_step: str
    document: m.DocumentKind | None


class ReturnedToDraft(EventPayload):
    step: str


class AgreementRejected(EventPayload):
    step: str
    gate: m.Gate
    org: str | None
    comment: str | None


class TerminationRequested(EventPayload):
    reason: str
    origin: str | None = None  # "evaluation:N" when an evaluation recommended stopping
    due_at: Moment | None = None  # absent in events from before step deadlines
    gates: list[m.GateSlot]
    org: str | None = None  # the requesting party; absent before any party could ask


class TerminationDeclined(EventPayload):
    comment: str | None


class AgreementTerminated(EventPayload):
    reason: str


# ---------------------------------------------------------------- negotiation and signing


class DraftSubmitted(EventPayload):
    version: int
    kind: m.DocumentKind
    document: str
    note: str | None
    org: str
    scope: str = ""  # absent in events from before amendments and renewals
    plan_hash: str | None = None  # the action plan the version binds; set only when there is one (#13)


class DraftAccepted(EventPayload):
    version: int
    org: str


class DocumentSigned(EventPayload):
    org: str
    version: int
    kind: m.DocumentKind
    document: str
    signed_by: str
    method: m.SignMethod
    evidence: str | None
    scope: str = ""  # absent in events from before amendments and renewals
    delegation: m.Delegation | None = None  # set only for a signature under a letter of authority


# ---------------------------------------------------------------- implementation


class ImplementationStarted(EventPayload):
    effective_date: date
    end_date: date
    next_evaluation_on: date | None = None  # absent in events from before evaluations


class AgreementImported(EventPayload):
    ref: str
    signed_on: date
    document: str
    method: m.SignMethod
    effective_date: date
    end_date: date
    next_evaluation_on: date


class AgreementExpired(EventPayload):
    notice: str | None = None  # set when the tick brought it
    end_date: date
    evaluation: int | None = None  # the final evaluation it followed
    imported: bool = False  # imported already past its end date
    open_change: str | None = None  # an amendment or renewal that lapsed with it ("renewal-2")


class ChangeOpened(EventPayload):
    kind: m.ChangeKind
    number: int
    summary: str
    changes: ChangeTerms
    origin: str | None
    procedure: m.ProcedureRef
    gates: list[m.GateSlot]
    recommendation: str | None = None  # the evaluation conclusion an expansion carries


class ChangeEdited(EventPayload):
    """The initiating staff changed the open addendum's terms while it is negotiated."""

    number: int
    summary: str | None = None
    changes: ChangeTerms


class ChangeWithdrawn(EventPayload):
    kind: m.ChangeKind
    number: int
    reason: str


class ChangeOpenAtEndDate(EventPayload):
    """The end date came with an amendment or renewal still open: it is told, not dropped."""

    notice: str
    kind: m.ChangeKind
    number: int
    end_date: date


class RecommendationDeferred(EventPayload):
    """An evaluation recommended expanding while another change was open: recorded on the
    agreement for the initiating staff to propose once that change closes."""

    evaluation: int
    recommendation: m.Recommendation
    open_change: str
    summary: str | None


class DprdRequirementSet(EventPayload):
    """A government party's staff stated the facts its DPRD requirement follows from."""

    org: str
    facts: m.DprdFacts
    required: bool
    gates: list[m.GateSlot]  # the DPRD gate slots of the agreement's procedure after it


class ChangeCompleted(EventPayload):
    kind: m.ChangeKind
    number: int
    summary: str
    changes: ChangeTerms
    document: str
    version: int


class ChangeRejected(EventPayload):
    kind: m.ChangeKind
    number: int
    comment: str | None


class EvaluationOpened(EventPayload):
    number: int
    final: bool
    origin: str  # "requested", "schedule" or "end_of_term"
    due_at: Moment
    next_evaluation_on: date | None


class EvaluationReportSubmitted(EventPayload):
    evaluation: int
    org: str
    narrative: str
    results: list[m.IndicatorResult]
    late: bool


class EvaluationConcluded(EventPayload):
    evaluation: int
    score: int
    recommendation: m.Recommendation
    summary: str | None
    missing_reports: list[str]
    achievement: m.PlanAchievement | None = None  # set only for an agreement with a plan (#13)


class DeadlineExtended(EventPayload):
    deadline: m.DeadlineKind
    evaluation: int | None = None  # set for an evaluation report's deadline
    due_at: Moment
    reason: str


# ---------------------------------------------------------------- what time brings (tick)


class DeadlineReminder(EventPayload):
    notice: str
    step: str
    due_at: Moment
    days_before: int


class DeadlineEscalated(EventPayload):
    notice: str
    step: str
    due_at: Moment


class EvaluationReminder(EventPayload):
    notice: str
    evaluation: int
    days_before: int
    due_at: Moment


class EvaluationEscalated(EventPayload):
    notice: str
    evaluation: int
    round: int | None = None  # 1, 2, ...; absent in events from before repeated escalation
    to: str | None = None  # "coordinators" (round 1), then "head_office"


class ExpiryReminder(EventPayload):
    notice: str
    end_date: date
    days_before: int


class NoticeDue(EventPayload):
    """A notice handled by a command of its own (a scheduled evaluation opening)."""

    notice: str
    kind: str


# ---------------------------------------------------------------- implementation (#13)


class PlanChanges(EventPayload):
    """The parts of the plan an `edit_plan` replaces (only those given)."""

    goals: list[m.DevelopmentGoal] | None = None
    obligations: list[m.Obligation] | None = None
    activities: list[m.Activity] | None = None


class PlanEdited(EventPayload):
    changes: PlanChanges
    plan_hash: str | None  # the plan's hash after the edit


class ProgressReported(EventPayload):
    activity: str
    org: str
    percent: int | None
    milestone: str | None
    note: str | None
    evidence: list[str]


class IndicatorMeasured(EventPayload):
    indicator: str
    value: float
    measured_on: date
    source: str
    note: str | None
    org: str


class ObligationSettled(EventPayload):
    obligation: str
    outcome: str  # "fulfilled" or "missed"
    note: str | None
    evidence: list[str]
    org: str
    settled_on: date | None = None  # settled on paper before an import: the day it was


class PlanRevisionProposed(EventPayload):
    number: int
    summary: str
    activities: list[m.Activity]
    org: str


class PlanRevisionAccepted(EventPayload):
    number: int
    org: str


class PlanRevisionAdopted(EventPayload):
    """Every party accepted: the revised activities are the plan in force."""

    number: int
    plan_hash: str | None


class PlanRevisionWithdrawn(EventPayload):
    number: int
    org: str
    reason: str


class MeetingScheduled(EventPayload):
    number: int
    title: str
    at: Moment
    place: str | None
    participants: list[str]
    agenda: list[str]
    org: str


class MinutesRecorded(EventPayload):
    meeting: int
    document: str
    org: str
    action_items: list[m.ActionItem]  # the decisions, numbered "M<meeting>-<n>"


class ActionItemCompleted(EventPayload):
    item: str
    note: str | None
    evidence: list[str]
    org: str


class ImplementationReminder(EventPayload):
    """Time: an activity starts or falls due soon, an obligation or action item falls due."""

    notice: str
    subject: str  # "activity", "obligation" or "action_item"
    ref: str
    party: str  # the owner party
    what: str  # "starts" or "due"
    on: date
    days_before: int


class ImplementationEscalated(EventPayload):
    """Time: an activity, obligation or action item is overdue — told to the owner party
    (round 1), then to the coordinators (round 2)."""

    notice: str
    subject: str
    ref: str
    party: str
    on: date
    round: int
    to: str  # "owner" or "coordinators"


IMPLEMENTATION_PAYLOADS: dict[str, type[BaseModel]] = {
    "plan_edited": PlanEdited,
    "progress_reported": ProgressReported,
    "indicator_measured": IndicatorMeasured,
    "obligation_settled": ObligationSettled,
    "plan_revision_proposed": PlanRevisionProposed,
    "plan_revision_accepted": PlanRevisionAccepted,
    "plan_revision_adopted": PlanRevisionAdopted,
    "plan_revision_withdrawn": PlanRevisionWithdrawn,
    "meeting_scheduled": MeetingScheduled,
    "minutes_recorded": MinutesRecorded,
    "action_item_completed": ActionItemCompleted,
    "implementation_reminder": ImplementationReminder,
    "implementation_escalated": ImplementationEscalated,
}
# ---- publishing on the public portal (#12)


class AgreementPublished(EventPayload):
    """A party's staff published the agreement on the public portal, marking these signed
    documents public (a later one of the same party replaces its earlier list)."""

    org: str
    documents: list[str]


class AgreementUnpublished(EventPayload):
    """A party's staff took their organisation's publication back."""

    org: str
    reason: str | None = None


# ---- end of publishing


class PartySettingsChanged(EventPayload):
    """A party's organisation changed its settings: the party's days off and time zone
    from now on (both whole, as the party has them after the change)."""

    org: str
    days_off: list[date]
    time_zone: str
    as_of: datetime | None = None  # the register's version (recorded since trust16; before: none)


class DeadlineRecounted(EventPayload):
    """A running due date counted again, later only: after `org`'s days off or zone changed
    (`party_settings_changed` just before, same command), or — `reason` "national_calendar"
    — at the first decision after a newer national calendar `edition` took effect, before
    the command's own events."""

    deadline: m.DeadlineKind
    evaluation: int | None = None  # set for an evaluation report's deadline
    due_at: Moment
    previous_due_at: Moment
    # The party whose settings changed; unset for a new national edition.
    org: str | None = None
    # Unset (every recount recorded before editions were followed) is "party_settings": a
    # party's recount still records none, so its events stay the ones recorded before.
    reason: Literal["party_settings", "national_calendar"] = "party_settings"
    edition: int | None = None  # the national edition counted with ("national_calendar")


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "agreement_created": AgreementCreated,
    "proposal_edited": ProposalEdited,
    "agreement_submitted": AgreementSubmitted,
    "step_entered": StepEntered,
    "step_skipped": StepSkipped,
    "step_completed": StepCompleted,
    "gate_decided": GateDecided,
    "returned_for_changes": ReturnedForChanges,
    "returned_to_draft": ReturnedToDraft,
    "draft_submitted": DraftSubmitted,
    "draft_accepted": DraftAccepted,
    "document_signed": DocumentSigned,
    "implementation_started": ImplementationStarted,
    "agreement_imported": AgreementImported,
    "comment_added": CommentAdded,
    "termination_requested": TerminationRequested,
    "termination_declined": TerminationDeclined,
    "agreement_terminated": AgreementTerminated,
    "agreement_withdrawn": AgreementWithdrawn,
    "agreement_rejected": AgreementRejected,
    "agreement_expired": AgreementExpired,
    "change_opened": ChangeOpened,
    "change_completed": ChangeCompleted,
    "change_rejected": ChangeRejected,
    "evaluation_opened": EvaluationOpened,
    "evaluation_report_submitted": EvaluationReportSubmitted,
    "evaluation_concluded": EvaluationConcluded,
    "evaluation_reminder": EvaluationReminder,
    "evaluation_escalated": EvaluationEscalated,
    "deadline_reminder": DeadlineReminder,
    "deadline_escalated": DeadlineEscalated,
    "deadline_extended": DeadlineExtended,
    "expiry_reminder": ExpiryReminder,
    "notice_due": NoticeDue,
    "change_edited": ChangeEdited,
    "change_withdrawn": ChangeWithdrawn,
    "change_open_at_end_date": ChangeOpenAtEndDate,
    "recommendation_deferred": RecommendationDeferred,
    "dprd_requirement_set": DprdRequirementSet,
    **IMPLEMENTATION_PAYLOADS,
    # publishing (#12)
    "agreement_published": AgreementPublished,
    "agreement_unpublished": AgreementUnpublished,
    # a region's settings reaching its open agreements
    "party_settings_changed": PartySettingsChanged,
    "deadline_recounted": DeadlineRecounted,
}
# Each model names the one event type it belongs to.
EVENT_TYPES: dict[type[BaseModel], str] = {model: type_ for type_, model in EVENT_PAYLOADS.items()}
assert len(EVENT_TYPES) == len(EVENT_PAYLOADS)


Payload = TypeVar("Payload", bound=BaseModel)


def event_payload(event: m.Event) -> BaseModel:
    """The event's payload, validated against its type's model."""
    return EVENT_PAYLOADS[event.type].model_validate(event.data)


def payload_as(event: m.Event, model: type[Payload]) -> Payload:
    """The event's payload as `model`, which must be its type's model."""
    assert EVENT_PAYLOADS[event.type] is model, f"{event.type} is not a {model.__name__}"
    return model.model_validate(event.data)
